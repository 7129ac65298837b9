"""The conventions people know from ruff, pip-audit, nvidia-smi and kubectl: -h, -V, completion, readable
metavars, did-you-mean, repeatable -o with the format from each file's extension, `-o -` for standard
output, no escape codes in files, --ignore, `rules --format json`, and topo's --from, --redact and exit code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gpubal import __version__
from gpubal.rules import all_rules

from helpers.cli import DOWNTRAINED, FIXTURES, H200X1, H200X2, assert_one_line_error, gpubal
from helpers.paths import REPO

ROOT = REPO
COMMANDS = ("doctor", "collect", "rules", "explain", "topo", "balance", "fleet", "slurm-healthcheck")
REPORT = str(ROOT / "tests" / "goldens" / "h200x2.json")  # a report for `gpubal fleet` to read


@pytest.mark.parametrize("command", ("",) + COMMANDS)
def test_dash_h_is_help(command):
    result = gpubal(*([command] if command else []), "-h")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: ")


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_short_and_long_version(flag):
    result = gpubal(flag)
    assert result.exit_code == 0
    assert result.stdout == f"gpubal {__version__}\n"


def test_shell_completion_is_offered():
    assert "--install-completion" in gpubal("--help").stdout


@pytest.mark.parametrize("command", COMMANDS + ("debug record-nvml", "debug record-balance"))
def test_help_has_no_type_names_for_metavars(command):
    # typer's defaults print <list[str]>, <path>, <str>, <float>, {rule_id}: words a user must decode
    text = gpubal(*command.split(), "--help").stdout
    assert not re.search(r"<(?:list\[\w+\]|path|str|int|float)>|\{\w+\}", text), text


def test_explain_suggests_the_close_rule():
    result = gpubal("explain", "nvlink-asymetric")
    assert_one_line_error(result, "'nvlink-asymetric'", "did you mean 'nvlink-asymmetric'?")


def test_an_unknown_subcommand_suggests_the_close_one():
    result = gpubal("docter")
    assert result.exit_code == 2
    assert "Did you mean 'doctor'?" in result.stderr


# --- -o --------------------------------------------------------------------------------------------------


def test_repeated_output_writes_each_format_in_one_run(tmp_path: Path):
    names = ["r.md", "r.html", "r.xml", "r.json", "r.txt"]
    result = gpubal("doctor", *H200X1, *[arg for name in names for arg in ("-o", str(tmp_path / name))])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert (tmp_path / "r.md").read_text().startswith("#")
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "r.xml").read_text().startswith("<?xml")
    assert json.loads((tmp_path / "r.json").read_text())["gpubal_version"] == __version__
    assert (tmp_path / "r.txt").read_text().startswith(f"gpubal {__version__} doctor")


@pytest.mark.parametrize("command", [["doctor", *H200X1], ["topo", *H200X2], ["collect", *H200X1],
                                     ["balance", "--nvml-profile", str(FIXTURES / "balance" / "both-busy.json"),
                                      "--seconds", "1"], ["fleet", REPORT]])
def test_dash_is_standard_output_for_every_command(command):
    result = gpubal(*command, "-o", "-")
    assert result.exit_code in (0, 1), result.stderr
    assert result.stdout.strip(), command


@pytest.mark.parametrize("command", [["doctor", *H200X1], ["topo", *H200X2],
                                     ["balance", "--nvml-profile", str(FIXTURES / "balance" / "both-busy.json"),
                                      "--seconds", "1"], ["fleet", REPORT]])
def test_an_unknown_extension_is_bad_input(tmp_path: Path, command):
    output = tmp_path / "report.pdf"
    assert_one_line_error(gpubal(*command, "-o", str(output)), str(output), "--format")
    assert not output.exists()


def test_fleet_writes_each_format_in_one_run(tmp_path: Path):
    names = ["f.md", "f.html", "f.json", "f.txt"]
    result = gpubal("fleet", REPORT, *[arg for name in names for arg in ("-o", str(tmp_path / name))])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert (tmp_path / "f.md").read_text().startswith("#")
    assert (tmp_path / "f.html").read_text().startswith("<!DOCTYPE html>")
    assert json.loads((tmp_path / "f.json").read_text())
    assert (tmp_path / "f.txt").read_text().startswith(f"gpubal fleet {__version__}")


def test_a_device_needs_no_extension():
    assert gpubal("doctor", *H200X1, "-o", "/dev/null").exit_code == 0


def test_format_overrides_the_extension(tmp_path: Path):
    output = tmp_path / "report.pdf"
    assert gpubal("doctor", *H200X1, "--format", "json", "-o", str(output)).exit_code == 0
    assert json.loads(output.read_text())["findings"] == []


def test_topo_picks_json_from_the_extension(tmp_path: Path):
    output = tmp_path / "groups.json"
    assert gpubal("topo", *H200X2, "-o", str(output)).exit_code == 0
    assert json.loads(output.read_text())["layouts"]


@pytest.mark.parametrize("extension, starts", [(".json", "{"), (".md", "#"), (".html", "<!DOCTYPE html>")])
def test_balance_picks_the_format_from_the_extension(tmp_path: Path, extension, starts):
    output = tmp_path / f"balance{extension}"
    result = gpubal("balance", "--nvml-profile", str(FIXTURES / "balance" / "both-busy.json"), "--seconds", "1",
                    "-o", str(output))
    assert result.exit_code == 0, result.stderr
    assert output.read_text().startswith(starts)


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "FORCE_COLOR")}
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "gpubal", *args], capture_output=True, text=True, cwd=ROOT,
                          env=environment, timeout=60)


def test_files_get_no_escape_codes_even_with_force_color(tmp_path: Path):
    report, groups = tmp_path / "report.txt", tmp_path / "groups.txt"
    assert _run("doctor", *DOWNTRAINED, "-o", str(report), FORCE_COLOR="1").returncode == 0
    assert _run("topo", *H200X2, "-o", str(groups), FORCE_COLOR="1").returncode == 0
    for path in (report, groups):
        text = path.read_text()
        assert "Findings:" in text or "GPU" in text
        assert "\x1b" not in text, path.name


# --- --ignore, rules --format json -----------------------------------------------------------------------


def test_ignore_skips_a_rule_and_the_report_says_so():
    plain = json.loads(gpubal("doctor", *DOWNTRAINED, "-f", "json").stdout)
    assert "pcie-link-downtrained" in [f["rule_id"] for f in plain["findings"]]
    result = gpubal("doctor", *DOWNTRAINED, "-f", "json", "--ignore", "pcie-link-downtrained",
                    "--ignore", "pcie-replay-errors")
    ignored = json.loads(result.stdout)
    assert [f["rule_id"] for f in ignored["findings"]] == ["driver-branch-end-of-life", "ecc-pages-pending"]
    outcomes = {(r["rule_id"], r["outcome"], r.get("missing_reason")) for r in ignored["results"]
                if r["rule_id"] == "pcie-link-downtrained"}
    assert outcomes == {("pcie-link-downtrained", "not_applicable", "ignored on the command line (--ignore)")}


def test_ignore_an_unknown_rule_is_bad_input_with_a_suggestion():
    assert_one_line_error(gpubal("doctor", *H200X1, "--ignore", "pcie-link-downtraind"),
                          "did you mean 'pcie-link-downtrained'?")


def test_rules_as_json():
    result = gpubal("rules", "--format", "json")
    assert result.exit_code == 0
    catalogue = json.loads(result.stdout)
    assert [rule["id"] for rule in catalogue["rules"]] == [rule.id for rule in all_rules()]
    first = catalogue["rules"][0]
    assert set(first) == {"id", "area", "scope", "summary", "documentation"}
    assert "What it checks" in first["documentation"]


# --- topo ------------------------------------------------------------------------------------------------


def test_topo_with_no_driver_exits_1_and_says_why(tmp_path: Path):
    from helpers.cli import NO_DRIVER_PROFILE

    profile = tmp_path / "no-driver.json"
    profile.write_text(json.dumps(NO_DRIVER_PROFILE))
    result = gpubal("topo", "--nvml-profile", str(profile), "--root", str(FIXTURES / "roots" / "h200x1"))
    assert result.exit_code == 1
    assert result.stderr.startswith("gpubal: no GPU to place")


def test_topo_reads_pasted_dumps():
    # topo -m alone names no GPU by UUID; nvidia-smi -q of the same host does
    dumps = FIXTURES / "dumps"
    result = gpubal("topo", "--from", str(dumps / "smi-q" / "h200x2-hgx-nvswitch-smi-q.txt"),
                    "--from", str(dumps / "topo" / "h200x2-hgx-nvswitch-topo.txt"), "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)["gpus"]) == 2


def test_topo_on_a_topology_paste_alone_says_in_words_what_to_add():
    # topo -m names no UUID: the 8 GPUs are left out for one reason, said once in words (it once printed
    # eight notes, each with the code "not_in_input"), with the dump that names the UUIDs
    dump = FIXTURES / "dumps" / "topo" / "aws-p4d-8xa100-nv12-nvswitch.txt"
    result = gpubal("topo", "--from", str(dump))
    assert result.exit_code == 1
    assert "note: GPUs 0, 1, 2, 3, 4, 5, 6, 7 are left out, each because its UUID is unknown: not in the pasted " \
           "text." in result.stdout
    assert "note: nvidia-smi -L (or nvidia-smi -q) names each GPU's UUID: paste it with the topology." in result.stdout
    assert "not_in_input" not in result.stdout and result.stdout.count("left out") == 1
    assert result.stderr.strip() == "gpubal: no GPU to place: every GPU listed (8) is left out; the notes say why"
    as_json = json.loads(gpubal("topo", "--from", str(dump), "-f", "json").stdout)
    assert len(as_json["excluded"]) == 8 and "not_in_input" in as_json["excluded"][0]["why"]  # codes for programs


def test_topo_redacts_the_uuids():
    shown = gpubal("topo", *H200X2, "-f", "json").stdout
    hidden = gpubal("topo", *H200X2, "-f", "json", "--redact").stdout
    uuids = set(re.findall(r"GPU-[0-9a-f]{8}-[0-9a-f-]{27}", shown))
    assert uuids
    assert not any(uuid in hidden for uuid in uuids)


# --- the wheel ------------------------------------------------------------------------------------------


def _setuptools_builds_wheels() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    return tuple(int(part) for part in setuptools.__version__.split(".")[:2]) >= (70, 1)


def test_the_example_snapshot_ships_in_the_wheel(tmp_path: Path):
    # after `pipx install` there is no examples/ folder: `--snapshot example` must read the copy inside the
    # package. Build the real wheel and run gpubal from it (its dependencies come from this environment).
    import importlib.util

    # without build isolation when this environment can build wheels itself (seconds, not a download)
    local = ["--no-build-isolation"] if importlib.util.find_spec("wheel") or _setuptools_builds_wheels() else []
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *local, "-w", str(tmp_path),
                            str(ROOT)], capture_output=True, text=True, timeout=600)
    wheels = list(tmp_path.glob("gpubal-*.whl"))
    assert wheels, built.stderr[-2000:]
    installed = tmp_path / "site"
    placed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(installed),
                             str(wheels[0])], capture_output=True, text=True, timeout=300)
    assert placed.returncode == 0, placed.stderr[-2000:]
    environment = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "FORCE_COLOR")}
    environment["PYTHONPATH"] = str(installed)  # ahead of the editable install of this checkout
    script = ("import gpubal, sys; assert gpubal.__file__.startswith(sys.argv[1]), gpubal.__file__; "
              "sys.argv = ['gpubal', 'doctor', '--snapshot', 'example']; from gpubal.entry import main; main()")
    result = subprocess.run([sys.executable, "-c", script, str(installed)], capture_output=True, text=True,
                            cwd=tmp_path, env=environment, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Host     h200x2" in result.stdout and "Verdict: no problems found" in result.stdout
