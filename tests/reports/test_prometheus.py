"""`gpubal doctor --prometheus` and `gpubal balance --prometheus`: the exposition text parses with the
official client's parser, names follow Prometheus's conventions, and the file is replaced atomically."""

from __future__ import annotations

import os
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families  # in the test extra: missing means failing
from typer.testing import CliRunner

from helpers import replay_balance
from gpubal.balance.analysis import analyze
from gpubal.cli import app
from gpubal.output_file import write_text_file
from gpubal.reports import prometheus
from gpubal.reports.balance import render_balance_prometheus
from helpers.paths import FIXTURES

RUNNER = CliRunner()
BASE_UNIT_SUFFIXES = ("_seconds", "_bytes", "_hertz", "_watts", "_ratio", "_info", "_bytes_per_second", "_lanes")


def doctor_metrics(tmp_path, profile: str, root: str):
    path = tmp_path / "gpubal.prom"
    result = RUNNER.invoke(app, ["doctor", "--nvml-profile", str(FIXTURES / "nvml" / f"{profile}.json"),
                                 "--root", str(FIXTURES / "roots" / root), "--format", "json",
                                 "--prometheus", str(path), "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    return path.read_text(encoding="utf-8")


def families(text: str):
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(text: str, name: str):
    return [(sample.labels, sample.value) for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == name]


def check_conventions(text: str) -> None:
    """Every family: gauge, gpubal_ prefix, no counter/summary suffix, no percent or MHz in a name."""
    parsed = families(text)
    assert parsed
    for name, family in parsed.items():
        assert family.type in ("gauge", "info"), name
        assert name.startswith("gpubal_"), name
        assert not re.search(r"_(total|count|sum|bucket)$", name), name
        assert not re.search(r"(percent|mhz|_points)", name), name
        for sample in family.samples:
            assert sample.value == sample.value, f"{name} is NaN"  # unknown is an absent series


def test_doctor_exports_each_finding_once_per_rule_subject_and_severity(tmp_path):
    text = doctor_metrics(tmp_path, "downtrained", "downtrained")
    check_conventions(text)
    raised = {(labels["rule"], labels["subject"], labels["severity"]): value
              for labels, value in samples(text, "gpubal_doctor_finding")}
    assert raised[("pcie-link-downtrained", "gpu:0", "warning")] == 1
    assert raised[("pcie-replay-errors", "gpu:0", "warning")] == 1
    by_severity = {labels["severity"]: value for labels, value in samples(text, "gpubal_doctor_findings")}
    assert by_severity["warning"] == sum(1 for key in raised if key[2] == "warning")
    (timestamp,) = samples(text, "gpubal_last_run_timestamp_seconds")
    assert timestamp[1] > 1.7e9


def test_doctor_exports_the_facts_fleets_graph(tmp_path):
    text = doctor_metrics(tmp_path, "hgx8-h100-nvswitch", "hgx8-h100-nvswitch")
    check_conventions(text)
    (driver,) = samples(text, "gpubal_driver_info")
    assert driver[0]["version"] == "550.90.07" and driver[1] == 1
    assert samples(text, "gpubal_gpus") == [({}, 8.0)]
    up = samples(text, "gpubal_gpu_nvlinks_active")
    assert len(up) == 8 and all(value == 18 for _, value in up)
    assert {labels["gpu"] for labels, _ in up} == {str(i) for i in range(8)}


def test_a_host_without_a_driver_exports_no_made_up_facts(tmp_path):
    text = doctor_metrics(tmp_path, "no-driver", "h200x1")
    check_conventions(text)
    assert not samples(text, "gpubal_driver_info") and not samples(text, "gpubal_gpus")
    assert ({"rule": "no-nvidia-driver", "subject": "host", "severity": "error"}, 1.0) in samples(
        text, "gpubal_doctor_finding")


def test_balance_metrics_follow_the_same_conventions():
    text = render_balance_prometheus(analyze(replay_balance("one-busy")))
    check_conventions(text)
    ratios = samples(text, "gpubal_gpu_utilization_mean_ratio")
    assert ratios and all(0 <= value <= 1 for _, value in ratios)


def test_label_values_are_escaped():
    text = prometheus.render([prometheus.Gauge("gpubal_test_info", "a\\b").add(1, subject='say "hi"\\\nthere')])
    ((labels, value),) = samples(text, "gpubal_test_info")
    assert labels["subject"] == 'say "hi"\\\nthere' and value == 1


@pytest.mark.parametrize("name", ["gpubal_runs_total", "gpubal_x_count", "node_thing", "gpubal bad"])
def test_names_that_break_conventions_are_refused(name):
    with pytest.raises(ValueError):
        prometheus.Gauge(name, "help")


def test_the_file_is_replaced_atomically_through_an_unpredictable_temporary(tmp_path, monkeypatch):
    target = tmp_path / "gpubal.prom"
    target.write_text("old\n", encoding="utf-8")
    renames, synced = [], []
    real_replace, real_fsync = os.replace, os.fsync

    def replace(source, destination):
        renames.append((str(source), open(source, encoding="utf-8").read()))
        real_replace(source, destination)

    def fsync(descriptor):
        synced.append(descriptor)
        real_fsync(descriptor)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "fsync", fsync)
    write_text_file(target, "gpubal_gpus 2\n")
    write_text_file(target, "gpubal_gpus 3\n")
    assert target.read_text(encoding="utf-8") == "gpubal_gpus 3\n"
    (first, _), (second, content) = renames
    assert os.path.dirname(first) == str(tmp_path)  # same filesystem: the rename is atomic
    assert first != second and str(os.getpid()) not in os.path.basename(first)
    assert os.path.basename(first).startswith(".gpubal.prom.") and not first.endswith(".prom")
    assert content == "gpubal_gpus 3\n" and synced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpubal.prom"]
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_an_unwritable_directory_is_one_line_exit_2(tmp_path):
    result = RUNNER.invoke(app, ["doctor", "--nvml-profile", str(FIXTURES / "nvml" / "h200x1.json"),
                                 "--root", str(FIXTURES / "roots" / "h200x1"),
                                 "--prometheus", str(tmp_path / "absent" / "gpubal.prom")])
    assert result.exit_code == 2 and "cannot write" in result.output
