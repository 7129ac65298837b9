"""deploy/kubernetes: the manifests validate against Kubernetes's own schemas (kubernetes-validate ships
them, offline; it is in the test extra, so a missing validator fails here rather than skipping), the
node-problem-detector config names only real rules and agrees with NPD's output limit, and the `--npd`
plugin mode keeps NPD's contract: exit 0 OK, 1 problem, other unknown; one line within the limit."""

from __future__ import annotations

import json

import kubernetes_validate  # noqa: F401 - imported at the top on purpose: missing means failing, not skipping
import pytest
import yaml
from typer.testing import CliRunner

from gpubal.cli import app
from gpubal.rules import all_rules
from helpers.paths import REPO

DEPLOY = REPO / "deploy" / "kubernetes"
FIXTURES = REPO / "tests" / "fixtures"
KUBERNETES_VERSION = "1.30.0"  # the oldest release gpubal's manifests promise to work on
NPD_CONFIG = json.loads((DEPLOY / "npd-gpubal-plugin.json").read_text(encoding="utf-8"))
MAX_OUTPUT = NPD_CONFIG["pluginConfig"]["max_output_length"]
RUNNER = CliRunner()


def manifests():
    for path in sorted(DEPLOY.glob("*.yaml")):
        for number, document in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
            if document is not None:
                yield pytest.param(document, id=f"{path.name}#{number}:{document.get('kind')}")


@pytest.mark.parametrize("version", [KUBERNETES_VERSION, kubernetes_validate.latest_version()])
@pytest.mark.parametrize("document", list(manifests()))
def test_manifest_validates_strictly(document, version):
    kubernetes_validate.validate(document, version, strict=True)  # raises ValidationError with the path


def test_the_validator_rejects_a_broken_manifest():
    (daemonset,) = [d.values[0] for d in manifests() if d.values[0]["kind"] == "DaemonSet"]
    broken = json.loads(json.dumps(daemonset))
    broken["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = "yes"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_host_paths_are_mounted_read_only_except_where_reports_go():
    for param in manifests():
        document = param.values[0]
        if document["kind"] not in ("DaemonSet", "Job"):
            continue
        spec = document["spec"]["template"]["spec"]
        host_paths = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
        for mount in spec["containers"][0]["volumeMounts"]:
            if host_paths.get(mount["name"]) == "/":
                assert mount["readOnly"] is True
        assert set(host_paths.values()) - {"/"} <= {"/var/lib/gpubal/reports", "/var/lib/node_exporter/textfile_collector"}
        assert "nvidia.com/gpu" not in json.dumps(spec["containers"][0].get("resources", {}))  # takes no GPU


def npd_rule_ids():
    ids = []
    for rule in NPD_CONFIG["rules"]:
        args = rule["args"]
        ids += [args[i + 1] for i, arg in enumerate(args) if arg == "--npd-rule"]
    return ids


def test_npd_config_names_only_rules_that_exist():
    known = {rule.id for rule in all_rules()}
    assert npd_rule_ids() and set(npd_rule_ids()) <= known


def test_npd_conditions_have_defaults_and_rules():
    conditions = {c["type"] for c in NPD_CONFIG["conditions"]}
    permanent = {r["condition"] for r in NPD_CONFIG["rules"] if r["type"] == "permanent"}
    assert conditions == permanent and all(c.startswith("Gpubal") for c in conditions)
    for rule in NPD_CONFIG["rules"]:
        args = rule["args"]
        assert args[:2] == ["doctor", "--npd"]
        assert int(args[args.index("--npd-max-length") + 1]) == MAX_OUTPUT


def doctor_npd(profile: str, root: str, *extra: str):
    return RUNNER.invoke(app, ["doctor", "--nvml-profile", str(FIXTURES / "nvml" / f"{profile}.json"),
                               "--root", str(FIXTURES / "roots" / root), *extra])


PROFILES = [("h200x2", "h200x2"), ("downtrained", "downtrained"), ("no-driver", "h200x1"),
            ("hgx8-h100-nvswitch", "hgx8-h100-nvswitch"), ("pcie4-l40s-2numa", "pcie4-l40s-2numa"),
            ("lost-gpu", "lost-gpu"), ("a100-mig-pending", "a100-mig"), ("version-mismatch", "version-mismatch")]


@pytest.mark.parametrize("profile,root", PROFILES)
@pytest.mark.parametrize("rule", NPD_CONFIG["rules"], ids=lambda r: r.get("condition") or r["reason"])
def test_npd_mode_prints_one_line_within_the_limit(profile, root, rule):
    result = doctor_npd(profile, root, *rule["args"][1:])
    assert result.exit_code in (0, 1), result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and len(lines[0].encode("utf-8")) <= MAX_OUTPUT
    assert lines[0].startswith("gpubal: ")
    assert (result.exit_code == 0) == lines[0].startswith("gpubal: ok")


def test_npd_mode_names_the_rule_and_gpu_of_a_problem():
    result = doctor_npd("downtrained", "downtrained", "--npd", "--fail-on", "warning",
                        "--npd-rule", "pcie-link-downtrained")
    assert result.exit_code == 1
    assert result.stdout == "gpubal: 1 warning: pcie-link-downtrained gpu:0\n"


def test_npd_mode_is_ok_on_a_healthy_host_and_for_rules_that_did_not_fire():
    assert doctor_npd("h200x2", "h200x2", "--npd").exit_code == 0
    result = doctor_npd("downtrained", "downtrained", "--npd", "--fail-on", "warning", "--npd-rule", "gpu-lost")
    assert result.exit_code == 0 and result.stdout.startswith("gpubal: ok")


def test_npd_mode_unknown_when_gpubal_cannot_run():
    result = RUNNER.invoke(app, ["doctor", "--npd", "--nvml-profile", str(FIXTURES / "absent.json")])
    assert result.exit_code not in (0, 1)  # NPD reads any other status as Unknown


def test_npd_mode_still_writes_the_full_report(tmp_path):
    report = tmp_path / "report.json"
    result = doctor_npd("downtrained", "downtrained", "--npd", "--fail-on", "warning", "-o", str(report))
    assert result.exit_code == 1 and len(result.stdout.splitlines()) == 1
    assert json.loads(report.read_text(encoding="utf-8"))["findings"]


def test_long_summaries_count_what_does_not_fit():
    from gpubal.reports.oneline import fit

    parts = ["first-rule gpu:0,1", "second-rule", "third-rule gpu:2"]
    assert fit("gpubal: 3 errors:", parts, 44) == "gpubal: 3 errors: first-rule gpu:0,1 +2 more"
    assert fit("gpubal: 3 errors:", parts, 43) == "gpubal: 3 errors: +3 more"
    assert fit("gpubal: 3 errors:", parts, 200) == "gpubal: 3 errors: first-rule gpu:0,1; second-rule; third-rule gpu:2"


# --- the node-problem-detector image ---------------------------------------------------------------------

NPD_DOCKERFILE = DEPLOY / "npd.Dockerfile"


def dockerfile_instructions(path: Path):
    """(INSTRUCTION, arguments) per instruction, continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            keyword, _, arguments = pending.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
            pending = ""
    return instructions


def test_the_npd_image_builds_on_npds_own_image_and_copies_only_paths_that_exist():
    instructions = dockerfile_instructions(NPD_DOCKERFILE)
    (default,) = [args for keyword, args in instructions if keyword == "ARG" and args.startswith("NPD_IMAGE=")]
    assert default.startswith("NPD_IMAGE=registry.k8s.io/node-problem-detector/node-problem-detector:v")
    assert ("FROM", "${NPD_IMAGE}") in instructions
    copies = [args.split() for keyword, args in instructions if keyword == "COPY"]
    assert copies, "the image installs gpubal from the checkout"
    for *sources, _destination in copies:
        for source in sources:
            assert (REPO / source).exists(), f"npd.Dockerfile copies {source}, which the repository lacks"


def test_the_npd_image_copies_what_the_package_build_reads():
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    copied = {source for keyword, args in dockerfile_instructions(NPD_DOCKERFILE) if keyword == "COPY"
              for source in args.split()[:-1]}
    # the build reads pyproject.toml and its readme; packages and their data all live under the package root
    assert {"pyproject.toml", project["project"]["readme"]} <= copied
    assert project["tool"]["setuptools"]["packages"]["find"]["where"] == ["src"] and "src" in copied
    run = " ".join(args for keyword, args in dockerfile_instructions(NPD_DOCKERFILE) if keyword == "RUN")
    extras = set(project["project"]["optional-dependencies"])
    assert "[fast]'" in run and "fast" in extras


def test_the_npd_image_runs_gpubal_where_the_plugin_config_looks_and_loads_that_config():
    instructions = dockerfile_instructions(NPD_DOCKERFILE)
    run = " ".join(args for keyword, args in instructions if keyword == "RUN")
    paths = {rule["path"] for rule in NPD_CONFIG["rules"]}
    assert paths == {"/usr/local/bin/gpubal"} and "ln -s /opt/gpubal/bin/gpubal /usr/local/bin/gpubal" in run
    (config_copy,) = [args.split() for keyword, args in instructions
                      if keyword == "COPY" and "npd-gpubal-plugin.json" in args]
    (entrypoint,) = [json.loads(args) for keyword, args in instructions if keyword == "ENTRYPOINT"]
    assert entrypoint[0] == "/node-problem-detector"
    assert f"--config.custom-plugin-monitor={config_copy[-1]}" in entrypoint
