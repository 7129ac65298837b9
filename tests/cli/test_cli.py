"""The command line, driven through typer's CliRunner (and twice as a real process): options, output
files and exit codes — 0 nothing at or above --fail-on, 1 findings, 2 bad input, 3 internal error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gpubal import __version__
from gpubal.rules import DOC_SECTIONS, all_rules
from helpers.cli import DOWNTRAINED, H200X1, H200X2, NO_DRIVER_PROFILE, assert_one_line_error, gpubal
from helpers.paths import FIXTURES


@pytest.fixture
def no_driver_profile(tmp_path: Path) -> Path:
    path = tmp_path / "no-driver.json"
    path.write_text(json.dumps(NO_DRIVER_PROFILE), encoding="utf-8")
    return path


# --- version, rules, explain -----------------------------------------------------------------------------


def test_version():
    result = gpubal("--version")
    assert result.exit_code == 0
    assert result.stdout == f"gpubal {__version__}\n"


def test_rules_lists_every_rule_id():
    result = gpubal("rules")
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.stdout.splitlines()]
    assert listed == [rule.id for rule in all_rules()]


def test_explain_prints_the_four_doc_sections():
    result = gpubal("explain", "persistence-mode-off")
    assert result.exit_code == 0
    assert result.stdout.startswith("persistence-mode-off (")
    for section in DOC_SECTIONS:
        assert f"\n{section}\n" in result.stdout


def test_explain_follows_a_renamed_id():
    result = gpubal("explain", "nvml-driver-library-mismatch")
    assert result.exit_code == 0
    assert result.stdout.startswith("(nvml-driver-library-mismatch is now kernel-module-userspace-mismatch)\n")
    assert "\nkernel-module-userspace-mismatch (" in result.stdout
    assert "\nWhat it checks\n" in result.stdout


def test_explain_an_unknown_id_is_bad_input():
    assert_one_line_error(gpubal("explain", "nope"), "'nope'")


# --- doctor: exit codes ----------------------------------------------------------------------------------


def test_doctor_on_a_healthy_host_exits_0():
    result = gpubal("doctor", *H200X2)
    assert result.exit_code == 0, result.stderr
    # no finding; the Ollama checks are not evaluated (no Ollama on that host), and the verdict says so
    assert "Verdict: no problems found in what could be checked" in result.stdout


@pytest.mark.parametrize("fail_on, exit_code", [("info", 1), ("warning", 1), ("error", 0), ("never", 0)])
def test_fail_on_with_warnings_only(fail_on, exit_code):
    # the downtrained H100: a x8 link, 250 replays in 15 minutes, a row remap pending, a driver branch past
    # its end of life; warnings, no error
    result = gpubal("doctor", *DOWNTRAINED, "--fail-on", fail_on, "--format", "json")
    assert result.exit_code == exit_code
    findings = json.loads(result.stdout)["findings"]
    assert [(f["rule_id"], f["severity"]) for f in findings] == [
        ("driver-branch-end-of-life", "warning"), ("ecc-pages-pending", "warning"),
        ("pcie-link-downtrained", "warning"), ("pcie-replay-errors", "warning")]


def test_fail_on_defaults_to_error():
    assert gpubal("doctor", *H200X1).exit_code == 0


def test_no_driver_exits_1_by_default(no_driver_profile):
    result = gpubal("doctor", "--nvml-profile", str(no_driver_profile), "--root", str(FIXTURES / "roots" / "h200x1"))
    assert result.exit_code == 1
    assert "ERROR   no-nvidia-driver  host" in result.stdout


def test_no_driver_exits_0_with_fail_on_never(no_driver_profile):
    result = gpubal("doctor", "--nvml-profile", str(no_driver_profile), "--fail-on", "never")
    assert result.exit_code == 0


def test_bad_fail_on_value_is_a_usage_error():
    result = gpubal("doctor", *H200X1, "--fail-on", "sometimes")
    assert result.exit_code == 2
    assert "Traceback" not in result.stdout + result.stderr


# --- collect, then doctor --snapshot ----------------------------------------------------------------------


def test_collect_then_doctor_snapshot_gives_the_same_findings(tmp_path: Path):
    snapshot = tmp_path / "host.json"
    collected = gpubal("collect", "-o", str(snapshot), *H200X1)
    assert collected.exit_code == 0, collected.stderr
    assert json.loads(snapshot.read_text())["schema_version"] == 1
    live = json.loads(gpubal("doctor", *H200X1, "--format", "json").stdout)
    replayed = json.loads(gpubal("doctor", "--snapshot", str(snapshot), "--format", "json").stdout)
    assert replayed["findings"] == live["findings"]
    assert replayed["results"] == live["results"]


def test_doctor_reads_back_its_own_json_report(tmp_path: Path):
    report = tmp_path / "report.json"
    assert gpubal("doctor", *H200X1, "--format", "json", "-o", str(report)).exit_code == 0
    again = gpubal("doctor", "--snapshot", str(report), "--format", "json")
    assert json.loads(again.stdout)["findings"] == json.loads(report.read_text())["findings"]


def test_collect_to_stdout():
    result = gpubal("collect", "-o", "-", *H200X2)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["origin"] == "nvml-profile:h200x2.json"


# --- bad input: one line, exit 2 ----------------------------------------------------------------------------


def _valid_snapshot(tmp_path: Path) -> dict:
    path = tmp_path / "good.json"
    assert gpubal("collect", "-o", str(path), *H200X1).exit_code == 0
    return json.loads(path.read_text())


def _write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", ["not-json", "binary", "list", "schema-2", "deep-wrong-type", "no-schema"])
def test_bad_snapshot_files_are_bad_input(tmp_path: Path, case: str):
    good = _valid_snapshot(tmp_path)
    if case == "not-json":
        content = "{this is not json"
    elif case == "binary":
        content = b"\x89PNG\r\n\x1a\n\x00\xff\xfe"
    elif case == "list":
        content = [good]
    elif case == "schema-2":
        content = dict(good, schema_version=2)
    elif case == "deep-wrong-type":
        good["gpus"]["value"][0]["memory_total_bytes"]["value"] = "lots"
        content = good
    else:
        content = {"hello": "world"}
    path = _write(tmp_path, f"{case}.json", content)
    result = gpubal("doctor", "--snapshot", str(path))
    assert_one_line_error(result, str(path))
    if case == "schema-2":
        assert "schema_version 2" in result.stderr
    if case == "deep-wrong-type":
        assert "snapshot.gpus[0].memory_total_bytes: expected int, got str" in result.stderr


def test_missing_snapshot_file_is_bad_input(tmp_path: Path):
    path = tmp_path / "absent.json"
    assert_one_line_error(gpubal("doctor", "--snapshot", str(path)), str(path), "No such file")


def test_snapshot_that_is_a_directory_is_bad_input(tmp_path: Path):
    assert_one_line_error(gpubal("doctor", "--snapshot", str(tmp_path)), str(tmp_path))


@pytest.mark.parametrize("case", ["missing", "not-json", "binary", "wrong-format", "wrong-version",
                                  "unknown-reason"])
def test_bad_nvml_profile_is_bad_input(tmp_path: Path, case: str):
    contents = {
        "not-json": "nope",
        "binary": b"\x00\xff\xfe\x80",
        "wrong-format": {"format": "something-else", "version": 1},
        "wrong-version": dict(NO_DRIVER_PROFILE, version=9),
        "unknown-reason": dict(NO_DRIVER_PROFILE, init={"error": "on_fire", "source": "nvmlInit"}),
    }
    path = tmp_path / "profile.json" if case == "missing" else _write(tmp_path, "profile.json", contents[case])
    assert_one_line_error(gpubal("doctor", "--nvml-profile", str(path)), str(path))


# --- output --------------------------------------------------------------------------------------------


def test_json_format_parses_and_holds_the_snapshot():
    result = gpubal("doctor", *H200X2, "--format", "json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["snapshot"]["schema_version"] == 1
    assert document["gpubal_version"] == __version__
    assert document["findings"] == []


def test_output_file_gets_the_terminal_report(tmp_path: Path):
    output = tmp_path / "report.txt"
    result = gpubal("doctor", *H200X1, "-o", str(output))
    assert result.exit_code == 0
    assert result.stdout == ""
    text = output.read_text(encoding="utf-8")
    assert text.startswith(f"gpubal {__version__} doctor")
    assert "Verdict: no problems found in what could be checked" in text
    assert "\x1b[" not in text


def test_unwritable_output_is_bad_input(tmp_path: Path):
    output = tmp_path / "no-such-dir" / "report.txt"
    assert_one_line_error(gpubal("doctor", *H200X1, "-o", str(output)), str(output))


# --- the real program ----------------------------------------------------------------------------------


def _run_module(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "FORCE_COLOR")}
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "gpubal", *args], capture_output=True, text=True,
                          env=environment, timeout=60)


def test_python_dash_m_gpubal_runs_the_doctor():
    process = _run_module("doctor", *DOWNTRAINED, "--fail-on", "warning")
    assert process.returncode == 1, process.stderr
    assert "WARNING pcie-link-downtrained  gpu:0" in process.stdout
    assert process.stderr == ""


@pytest.mark.parametrize("env", [{}, {"NO_COLOR": "1"}])
def test_output_to_a_pipe_has_no_ansi_escapes(env):
    # stdout is a pipe here: plain text, whether or not NO_COLOR is set
    process = _run_module("doctor", *H200X2, **env)
    assert process.returncode == 0, process.stderr
    assert "Verdict: no problems found" in process.stdout
    assert "\x1b" not in process.stdout
    assert all(len(line.rstrip()) <= 100 for line in process.stdout.split("Findings:")[0].splitlines())


def test_bad_input_from_the_real_program_is_one_line(tmp_path: Path):
    path = _write(tmp_path, "bad.json", "[1, 2]")
    process = _run_module("doctor", "--snapshot", str(path))
    assert process.returncode == 2
    assert process.stdout == ""
    assert process.stderr.count("\n") == 1 and process.stderr.startswith(f"gpubal: {path}: ")


# --- lspci -vvv output given -----------------------------------------------------------------------------------


def test_collect_reads_acs_controls_from_a_given_lspci_output():
    lspci = FIXTURES / "lspci" / "comet-lake-root-ports.txt"
    result = gpubal("collect", "-o", "-", *H200X2, "--lspci", str(lspci))
    assert result.exit_code == 0, result.stderr
    acs = json.loads(result.stdout)["pci"]["acs_controls"]
    assert acs == {"value": {"0000:00:1b.0": ["SrcValid", "ReqRedir", "CmpltRedir"]},
                   "source": "lspci -vvv output given"}


def test_a_missing_lspci_file_is_one_line(tmp_path: Path):
    assert_one_line_error(gpubal("doctor", *H200X2, "--lspci", str(tmp_path / "nope.txt")), "nope.txt")


def test_explain_knows_the_balance_diagnoses():
    result = gpubal("explain", "balance-one-gpu-busy")
    assert result.exit_code == 0
    assert result.stdout.startswith("balance-one-gpu-busy (balance): ")
    assert "\nWhat it checks\n" in result.stdout and "OLLAMA_SCHED_SPREAD=1" in result.stdout


def test_rules_lists_the_scope_of_each_verdict():
    lines = {line.split()[0]: line.split()[1:3] for line in gpubal("rules").stdout.splitlines()}
    assert lines["balance-one-gpu-busy"] == ["balance", "balance"]
    assert lines["site-policy-gpu-model"] == ["policy", "gpu"]
    assert lines["pcie-link-downtrained"] == ["pcie", "gpu"]
