"""Bad input is exit 2 with one line that says what is wrong, never an internal error (exit 3): hostile
snapshots (deep nesting, lone surrogates, numbers no reading has, GPU indexes twice), malformed NVML
profiles, and balance options that are not numbers (inf, nan)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from gpubal.cli import app
from helpers.paths import FIXTURES, REPO

try:
    RUNNER = CliRunner(mix_stderr=False)
except TypeError:
    RUNNER = CliRunner()

ROOT = REPO
EXAMPLE = json.loads((ROOT / "examples" / "h200x2-snapshot.json").read_text(encoding="utf-8"))
PROFILE = json.loads((FIXTURES / "nvml" / "h200x1.json").read_text(encoding="utf-8"))


def assert_one_line_error(result, *words: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpubal: "), result.stderr
    assert "internal error" not in lines[0] and "Traceback" not in result.stdout + result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def changed(document, change):
    copy = json.loads(json.dumps(document))
    change(copy)
    return json.dumps(copy)


def gpu0(document):
    return document["gpus"]["value"][0]


SNAPSHOTS = {
    "arrays 1,000 deep": ("[" * 1000 + "]" * 1000, "nested deeper"),
    "objects 5,000 deep": ('{"a":' * 5000 + "1" + "}" * 5000, "nested deeper"),
    "a lone surrogate": (json.dumps(EXAMPLE).replace('"h200x2"', '"\\ud800"', 1), "surrogate"),
    "10**400 bytes of memory": (changed(EXAMPLE, lambda d: gpu0(d)["memory_total_bytes"].update(value=10**400)),
                                "larger than any reading"),
    "NaN": (json.dumps(EXAMPLE).replace('"schema_version"', '"x": NaN, "schema_version"', 1), "NaN"),
    "GPU index twice": (changed(EXAMPLE, lambda d: d["gpus"]["value"][1].update(index=0)), "GPU index 0"),
    "a pair of one GPU": (changed(EXAMPLE, lambda d: d["pairs"]["value"][0].update(gpu_b=0)), "pairs[0]"),
}


@pytest.mark.parametrize("command", [["doctor"], ["doctor", "-f", "json"], ["topo"], ["topo", "-f", "json"]])
@pytest.mark.parametrize("case", sorted(SNAPSHOTS))
def test_a_hostile_snapshot_is_one_line_and_exit_2(tmp_path, command, case):
    text, words = SNAPSHOTS[case]
    path = tmp_path / "snapshot.json"
    path.write_text(text, encoding="utf-8")
    assert_one_line_error(RUNNER.invoke(app, [*command, "--snapshot", str(path)]), str(path), words)


def test_a_report_with_a_hostile_embedded_snapshot_is_exit_2(tmp_path):
    path = tmp_path / "report.md"
    path.write_text("# report\n<!-- gpubal-snapshot -->\n```json\n" + "[" * 1000 + "]" * 1000 + "\n```\n")
    assert_one_line_error(RUNNER.invoke(app, ["doctor", "--snapshot", str(path)]), "nested deeper")


def set_key(key, value):
    return lambda d: d.__setitem__(key, value)


PROFILES = {
    "devices is an object": (changed(PROFILE, set_key("devices", {"0": {}})), "'devices'"),
    "a device is a list": (changed(PROFILE, lambda d: d["devices"].__setitem__(0, [1, 2])), "'devices'"),
    "system is a list": (changed(PROFILE, set_key("system", [1])), "'system'"),
    "pairs is a list": (changed(PROFILE, set_key("pairs", [1])), "'pairs'"),
    "init is a number": (changed(PROFILE, set_key("init", 5)), "'init'"),
    "an error reason is a list": (changed(PROFILE, set_key("init", {"error": ["x"]})), "unknown error reason"),
    "a deep answer has an unknown reason": (
        changed(PROFILE, lambda d: d["devices"][0].__setitem__("name", {"error": "exploded"})), "unknown error reason"),
    "a sample is not answers": (changed(PROFILE, set_key("samples", [[1]])), "'samples'"),
    "JSON 5,000 deep": ("[" * 5000 + "]" * 5000, "nested"),
    "NaN": (json.dumps(PROFILE).replace('"version": 1', '"version": 1, "x": NaN', 1), "NaN"),
}


@pytest.mark.parametrize("command", [["doctor"], ["topo"], ["balance", "--seconds", "0.4"]])
@pytest.mark.parametrize("case", sorted(PROFILES))
def test_a_malformed_nvml_profile_is_one_line_and_exit_2(tmp_path, command, case):
    text, words = PROFILES[case]
    path = tmp_path / "profile.json"
    path.write_text(text, encoding="utf-8")
    result = RUNNER.invoke(app, [*command, "--nvml-profile", str(path), "--root", str(FIXTURES / "roots" / "h200x1")])
    assert_one_line_error(result, str(path), words)


@pytest.mark.parametrize("option", [["--seconds", "inf"], ["--seconds", "nan"], ["--seconds", "-inf"],
                                    ["--max-imbalance", "nan"], ["--max-imbalance", "-1"]])
def test_balance_options_that_are_not_finite_numbers_are_exit_2(option):
    """`--max-imbalance nan` used to pass every run: NaN compares false with any imbalance."""
    result = RUNNER.invoke(app, ["balance", "--nvml-profile", str(FIXTURES / "balance" / "one-busy.json"),
                                 "--root", str(FIXTURES / "balance" / "root"), *option])
    assert_one_line_error(result, option[0])
