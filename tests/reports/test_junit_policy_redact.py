"""JUnit XML against the schema CI tools read, site policy, redaction, the CLI's new options, and the
generated rule docs."""

from __future__ import annotations

import dataclasses
import json
from xml.etree import ElementTree

import pytest

from helpers import known, with_gpu, with_host
from helpers.cli import H200X1, H200X2, gpubal
from helpers.goldens import report_of

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Severity
from gpubal.snapshot_file import snapshot_from_text
from gpubal.doctor.policy import PolicyError, parse_policy
from gpubal.reports.junit import render_junit
from gpubal.common.secret_values import looks_secret
from gpubal.common.redact import Redactor, redact_report
from gpubal.rules import all_rules
from helpers.paths import REPO

ROOT = REPO
POLICIES = ROOT / "examples" / "policies"


# --- JUnit ---------------------------------------------------------------------------------------------


def check_junit_structure(xml: str) -> ElementTree.Element:
    """What GitLab, Jenkins (junit.xsd) and the GitHub Actions reporters require: <testsuites> holding
    <testsuite>s holding <testcase>s, each case with name and classname and at most one of failure, error
    or skipped; every count attribute present, an integer, and equal to what the cases say."""
    root = ElementTree.fromstring(xml)
    assert root.tag == "testsuites"
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in root:
        assert suite.tag == "testsuite"
        for attribute in ("name", "tests", "failures", "errors", "skipped", "time", "timestamp", "hostname"):
            assert suite.get(attribute) is not None, attribute
        assert "+" not in suite.get("timestamp") and not suite.get("timestamp").endswith("Z")
        cases = suite.findall("testcase")
        counted = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0}
        for case in cases:
            assert case.get("name") and case.get("classname") and float(case.get("time")) >= 0
            outcomes = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
            assert len(outcomes) <= 1, case.get("name")
            for tag, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
                counted[key] += outcomes.count(tag)
            assert set(child.tag for child in case) <= {"failure", "error", "skipped", "system-out", "system-err"}
        assert {key: int(suite.get(key)) for key in counted} == counted, suite.get("name")
        assert [child.tag for child in suite][0] == "properties"
        for key in totals:
            totals[key] += counted[key]
    # Jenkins' junit-10.xsd allows no `skipped` on <testsuites>: the root carries the other totals
    assert root.get("skipped") is None
    assert {key: int(root.get(key)) for key in totals if key != "skipped"} == {
        key: value for key, value in totals.items() if key != "skipped"}
    return root


@pytest.mark.parametrize("name", ["h200x2", "no-driver", "pcie4-l40s-2numa", "downtrained", "lost-gpu"])
def test_junit_is_well_formed_and_its_counts_add_up(name):
    check_junit_structure(render_junit(report_of(name)))


def test_junit_maps_outcomes_to_failure_skipped_and_passes():
    report = report_of("pcie4-l40s-2numa")
    root = check_junit_structure(render_junit(report))
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert len(cases) == len(report.results)  # one per (rule, subject), passes included
    for result in report.results:
        case = cases[f"{result.rule_id} [{result.subject}]"]
        children = [child.tag for child in case]
        if result.outcome is Outcome.NOT_EVALUATED:
            assert children == ["skipped"] and result.missing_fact in case.find("skipped").get("message")
        elif result.outcome is Outcome.NOT_APPLICABLE:
            assert children == ["skipped"] and case.find("skipped").get("message").startswith("does not apply")
        elif result.outcome is Outcome.PASSED:
            assert children == []
        elif any(f.severity is not Severity.INFO for f in result.findings):
            worst = max(result.findings, key=lambda f: f.severity.rank)
            assert children == ["failure"] and case.find("failure").get("type") == worst.severity.value
        else:  # info: advice, a passing case that says it
            assert children == ["system-out"]


def test_junit_error_findings_are_failures_of_type_error_and_crashes_are_errors():
    from gpubal.rules import rule

    @rule("test-crashes", scope="host", area="driver", summary="crashes")
    def crashes(snapshot):
        """A rule with a bug."""
        raise ZeroDivisionError("boom")

    report = evaluate(report_of("no-driver").snapshot, all_rules() + [crashes])
    root = check_junit_structure(render_junit(report))
    assert root.find(".//testcase[@name='no-nvidia-driver [host]']/failure").get("type") == "error"
    assert root.find(".//testcase[@name='test-crashes [host]']/error").get("type") == "crashed"


# --- redaction -----------------------------------------------------------------------------------------


def test_collectors_the_dump_reader_and_reports_drop_the_same_names():
    from gpubal.doctor.collect import ollama, stack
    from gpubal.doctor.ingest import collect_env
    from gpubal.common import redact

    assert stack.looks_secret is ollama.looks_secret is collect_env.looks_secret is redact.looks_secret is looks_secret
    assert all(looks_secret(f"NCCL_{word}") for word in ("TOKEN", "SESSION", "COOKIE", "PASSWD"))
    assert not looks_secret("CUDA_VISIBLE_DEVICES")


def test_redaction_gives_the_same_value_the_same_placeholder(h200x2_snapshot):
    redactor = Redactor(h200x2_snapshot)
    text = ("h200x2 at 10.0.0.5 and 10.0.0.6, again 10.0.0.5; mac AA:BB:CC:DD:EE:01; /home/alice/x /Users/bob "
            "/home/alice/y GPU-07f4a309-9680-b6ff-3e0f-c7623199c4cc fe80::1ff:fe23:4567:890a")
    assert redactor.text(text) == ("host-1 at ip-1 and ip-2, again ip-1; mac mac-1; /home/user-1/x /Users/user-2 "
                                   "/home/user-1/y GPU-uuid-1 ip-3")


@pytest.mark.parametrize("kept", ["580.159.04", "13.580.159.04", "127.0.0.1:11434", "0000:c1:00.0",
                                  "00000000:00:06.0", "2026-11-29T00:00:30+00:00", "0-31,64-95", "12:30:45"])
def test_redaction_keeps_what_does_not_identify(h200x2_snapshot, kept):
    assert Redactor(h200x2_snapshot).text(kept) == kept


def test_a_redacted_report_holds_no_identity_anywhere(h200x2_snapshot):
    gpu = h200x2_snapshot.gpu_list()[0]
    report = redact_report(evaluate(h200x2_snapshot, all_rules()), True)
    dumped = json.dumps(dataclasses.asdict(report), default=str)
    for value in ("h200x2", gpu.uuid.value, gpu.serial.value):
        assert value not in dumped.replace("nvml-profile:h200x2.json", "") or value == "h200x2" and "host-1" in dumped
    assert report.snapshot.gpu_list()[0].uuid.value == "GPU-uuid-1"
    assert report.snapshot.gpu_list()[0].serial.value == "serial-1"
    assert report.snapshot.driver.version == evaluate(h200x2_snapshot, all_rules()).snapshot.driver.version


# --- site policy ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(POLICIES.glob("*.toml")), ids=lambda p: p.name)
def test_example_policies_parse(path):
    assert parse_policy(path.read_text(encoding="utf-8"), path.name).everywhere.expect


@pytest.mark.parametrize("text, message", [
    ("[expect]\ngpu_cont = 8\n", "unknown key in expect 'gpu_cont'; did you mean 'gpu_count'?"),
    ("[expekt]\ngpu_count = 8\n", "unknown key in the top level 'expekt'; did you mean 'expect'?"),
    ("[rules]\nskip = ['persistance-mode-off']\n", "did you mean 'persistence-mode-off'?"),
    ("[rules.severity]\nno-such-rule = 'error'\n", "unknown key in rules.severity 'no-such-rule'"),
    ("[rules.severity]\npcie-replay-errors = 'fatal'\n", "must be \"error\", \"warning\" or \"info\""),
    ("[expect]\ngpu_count = true\n", "gpu_count must be an integer"),
    ("[expect]\nmin_driver = 'latest'\n", "must be a driver version"),
    ("[[host]]\nexpect = { gpu_count = 1 }\n", "needs match"),
    ("[[host]]\nmatch = 'a*'\nexpect = { gpu_cuont = 1 }\n", "did you mean 'gpu_count'?"),
    ("expect = [", "not valid TOML"),
])
def test_a_policy_with_a_typo_is_an_error(text, message):
    with pytest.raises(PolicyError) as error:
        parse_policy(text, "site.toml")
    assert message in str(error.value)


def policy_report(snapshot, text: str):
    return evaluate(snapshot, all_rules(), parse_policy(text, "site.toml"))


def test_policy_findings_say_actual_and_expected(h200x2_snapshot):
    report = policy_report(h200x2_snapshot, '[expect]\ngpu_count = 8\ngpu_model = "*H100*"\nmin_driver = "590.1"\n')
    found = {(f.rule_id, f.subject): f for f in report.findings()}
    count = found[("site-policy-gpu-count", "host")]
    assert count.severity is Severity.ERROR and "actual 2, expected 8" in count.message
    assert count.evidence == {"gpus": 2, "policy.expect.gpu_count": 8}
    assert "actual NVIDIA H200, expected *H100*" in found[("site-policy-gpu-model", "gpu:1")].message
    assert found[("site-policy-min-driver", "host")].evidence == {"driver.version": "580.159.04",
                                                                  "policy.expect.min_driver": "590.1"}
    assert report.policy == "site.toml"


def test_policy_passes_what_matches(h200x2_snapshot):
    report = policy_report(h200x2_snapshot, '[expect]\ngpu_count = 2\nnvlink_all_pairs = true\nmin_driver = "550.54.15"\n')
    policy_results = [r for r in report.results if r.rule_id.startswith("site-policy")]
    assert {r.rule_id for r in policy_results} == {"site-policy-gpu-count", "site-policy-nvlink-all-pairs",
                                                   "site-policy-min-driver"}
    assert all(r.outcome is Outcome.PASSED for r in policy_results)


def test_a_driver_version_that_is_not_numbers_is_not_evaluated_against_the_minimum(h200x2_snapshot):
    from helpers import with_driver

    snapshot = with_driver(h200x2_snapshot, version=known("R580 (open)"))
    result = next(r for r in policy_report(snapshot, '[expect]\nmin_driver = "590.1"\n').results
                  if r.rule_id == "site-policy-min-driver")
    assert result.outcome is Outcome.NOT_EVALUATED and not result.findings


def test_a_two_number_driver_meets_the_same_minimum_written_with_three(h200x2_snapshot):
    from helpers import with_driver

    snapshot = with_driver(h200x2_snapshot, version=known("390.157"))
    result = next(r for r in policy_report(snapshot, '[expect]\nmin_driver = "390.157.0"\n').results
                  if r.rule_id == "site-policy-min-driver")
    assert result.outcome is Outcome.PASSED


def test_nvlink_required_flags_a_pcie_only_pair(h200x2_snapshot):
    from helpers import with_pair

    snapshot = with_pair(h200x2_snapshot, 0, 1, nvlink_count=known(0))
    finding = next(f for f in policy_report(snapshot, "[expect]\nnvlink_all_pairs = true\n").findings()
                   if f.rule_id == "site-policy-nvlink-all-pairs")
    assert finding.subject == "gpu:0-gpu:1" and "actual 0 NVLinks, expected at least 1" in finding.message


def test_policy_skips_and_regrades_rules_after_they_ran(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, persistence_mode=known(False))
    plain = evaluate(snapshot, all_rules())
    assert any(f.rule_id == "persistence-mode-off" for f in plain.findings())
    skipped = policy_report(snapshot, "[rules]\nskip = ['persistence-mode-off']\n")
    results = [r for r in skipped.results if r.rule_id == "persistence-mode-off"]
    assert results and all(r.outcome is Outcome.NOT_APPLICABLE and "skipped by site policy" in r.missing_reason
                           for r in results)
    regraded = policy_report(snapshot, "[rules.severity]\npersistence-mode-off = 'error'\n")
    assert [f.severity for f in regraded.findings() if f.rule_id == "persistence-mode-off"] == [Severity.ERROR]


def test_host_sections_apply_by_glob(h200x2_snapshot):
    text = "[expect]\ngpu_count = 8\n[[host]]\nmatch = ['h200*', 'other']\nexpect = { gpu_count = 2 }\n"
    report = policy_report(h200x2_snapshot, text)
    assert not [f for f in report.findings() if f.rule_id == "site-policy-gpu-count"]
    assert report.policy == "site.toml (host sections h200*)"
    elsewhere = policy_report(with_host(h200x2_snapshot, hostname=known("gpu-b-01")), text)
    assert [f.rule_id for f in elsewhere.findings()] == ["site-policy-gpu-count"]


def test_cli_policy_typo_exits_2_with_one_line(tmp_path):
    policy = tmp_path / "site.toml"
    policy.write_text("[expect]\ngpu_cont = 2\n", encoding="utf-8")
    result = gpubal("doctor", *H200X2, "--policy", str(policy))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip() == f"gpubal: {policy}: unknown key in expect 'gpu_cont'; did you mean 'gpu_count'?"


def test_cli_policy_mismatch_fails_the_run(tmp_path):
    policy = tmp_path / "site.toml"
    policy.write_text("[expect]\ngpu_count = 8\n", encoding="utf-8")
    result = gpubal("doctor", *H200X2, "--policy", str(policy))
    assert result.exit_code == 1
    assert "Policy   site.toml" in result.stdout and "actual 2, expected 8" in result.stdout


# --- the CLI: formats, files, redaction defaults, GitHub step summary --------------------------------------


@pytest.mark.parametrize("name, start", [("report.md", "## gpubal: "), ("report.html", "<!DOCTYPE html>"),
                                         ("report.xml", '<?xml version="1.0"'), ("report.json", "{"),
                                         ("report.txt", "gpubal ")])
def test_output_extension_picks_the_format(tmp_path, name, start):
    output = tmp_path / name
    result = gpubal("doctor", *H200X2, "-o", str(output))
    assert result.exit_code == 0, result.stderr
    assert output.read_text(encoding="utf-8").startswith(start)


def test_format_wins_over_the_extension(tmp_path):
    output = tmp_path / "report.txt"
    assert gpubal("doctor", *H200X2, "--format", "markdown", "-o", str(output)).exit_code == 0
    assert output.read_text(encoding="utf-8").startswith("## gpubal: ")


@pytest.mark.parametrize("name", ["report.md", "report.html"])
def test_shared_formats_are_redacted_by_default_and_read_back(tmp_path, name):
    output = tmp_path / name
    assert gpubal("doctor", *H200X2, "-o", str(output)).exit_code == 0
    text = output.read_text(encoding="utf-8")
    assert "GPU-07f4a309" not in text and "host-1" in text
    assert snapshot_from_text(text).host.hostname.value == "host-1"
    result = gpubal("doctor", "--snapshot", str(output))
    assert result.exit_code == 0 and "Host     host-1" in result.stdout
    plain = tmp_path / f"plain-{name}"
    assert gpubal("doctor", *H200X2, "--no-redact", "-o", str(plain)).exit_code == 0
    assert "GPU-07f4a309" in plain.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["terminal", "json", "junit"])
def test_local_formats_are_not_redacted_unless_asked(fmt):
    assert "h200x2" in gpubal("doctor", *H200X2, "--format", fmt).stdout
    redacted = gpubal("doctor", *H200X2, "--format", fmt, "--redact").stdout
    assert "GPU-07f4a309" not in redacted and "host-1" in redacted


def test_github_step_summary_gets_the_markdown_summary(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = gpubal("doctor", *H200X1, "--format", "junit")
    assert result.exit_code == 0
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n## gpubal: ") and "### Findings" in text
    assert "gpubal-snapshot" not in text  # the summary leaves out the facts and the snapshot


def test_collect_redact(tmp_path):
    output = tmp_path / "snapshot.json"
    assert gpubal("collect", "-o", str(output), *H200X1, "--redact").exit_code == 0
    snapshot = snapshot_from_text(output.read_text(encoding="utf-8"))
    assert snapshot.host.hostname.value == "host-1"


# --- docs/rules.md -------------------------------------------------------------------------------------


def test_docs_rules_md_is_generated_from_the_docstrings():
    result = gpubal("rules", "--markdown")
    assert result.exit_code == 0
    on_disk = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert result.stdout == on_disk, "docs/rules.md drifted from the rule docstrings: " \
                                     "run `gpubal rules --markdown > docs/rules.md`"
    for rule in all_rules():
        assert f"### {rule.id}\n" in on_disk


def test_explain_knows_the_policy_checks():
    result = gpubal("explain", "site-policy-gpu-count")
    assert result.exit_code == 0 and "actual X, expected Y" in result.stdout
