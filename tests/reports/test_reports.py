"""The renderers, compared with golden files.

Each case renders a report of a real snapshot (its collection time frozen) and compares the text with
tests/goldens/<case>.txt or .json. After a deliberate change to a renderer, regenerate them with
`pytest tests/reports/test_reports.py --update-goldens` and review the diff like code.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Callable

import pytest

from gpubal.doctor.collect import collect_snapshot
from gpubal.doctor.engine import evaluate
from gpubal.snapshot_file import snapshot_from_dict
from gpubal.doctor.probes.files import HostFiles
from gpubal.doctor.probes.nvml import ReplayAdapter
from gpubal.reports.json_report import render_json
from gpubal.rules import all_rules

from helpers.goldens import check_golden, frozen, terminal_text, without_trailing_spaces
from helpers.paths import FIXTURES
from helpers.snapshots import no_driver_snapshot


@pytest.fixture(params=["h200x2", "h200x1", "no-driver"])
def case(request, h200x2_snapshot, h200x1_snapshot):
    snapshots = {"h200x2": lambda: h200x2_snapshot, "h200x1": lambda: h200x1_snapshot,
                 "no-driver": no_driver_snapshot}
    return request.param, evaluate(frozen(snapshots[request.param]()), all_rules())


# --- goldens -------------------------------------------------------------------------------------------


def test_terminal_report_matches_golden(case, update_goldens):
    name, report = case
    check_golden(f"{name}.txt", without_trailing_spaces(terminal_text(report)), update_goldens)


def test_json_report_matches_golden(case, update_goldens):
    name, report = case
    check_golden(f"{name}.json", render_json(report), update_goldens)


# --- properties every terminal report has ----------------------------------------------------------------


def test_terminal_report_is_a_pure_function_of_the_report(case):
    _, report = case
    assert terminal_text(report) == terminal_text(report)


def test_terminal_report_has_no_ansi_escapes_without_colour(case):
    _, report = case
    assert "\x1b[" not in terminal_text(report)


def test_gpu_table_fits_100_columns_without_wrapping(h200x2_snapshot):
    text = terminal_text(evaluate(frozen(h200x2_snapshot), all_rules()))
    table = text.split("GPUs: ")[1].split("\n\n")[0].splitlines()
    assert table[0] == "2 × NVIDIA H200 · hopper, compute capability 9.0 · 140.4 GiB"
    rows = [line.split() for line in table[3:]]
    assert rows == [["0", "0000:00:06.0", "Gen5", "x16", "18/18", "up", "ok", "off", "yes", "0"],
                    ["1", "0000:00:07.0", "Gen5", "x16", "18/18", "up", "ok", "off", "yes", "0"]]
    assert all(len(line) <= 100 for line in table)


def test_downtrained_link_shows_the_max_it_can_reach(h200x1_snapshot):
    from helpers import known, with_gpu

    slow = with_gpu(h200x1_snapshot, 0, pcie_link_gen_current=known(4), pcie_link_width_current=known(8))
    text = terminal_text(evaluate(frozen(slow), all_rules()))
    assert "Gen4 x8 (max Gen5 x16)" in text


def test_eight_gpus_fit_100_columns(h200x2_snapshot):
    from helpers import known

    gpu = h200x2_snapshot.gpu_list()[0]
    gpus = [dataclasses.replace(gpu, index=i, pci_bus_id=known(f"00000000:{0x18 + i:02X}:00.0")) for i in range(8)]
    eight = dataclasses.replace(h200x2_snapshot, gpus=known(gpus), pairs=known([]))
    lines = terminal_text(evaluate(frozen(eight), all_rules())).split("GPUs: ")[1].split("\n\n")[0].splitlines()
    assert len(lines) == 3 + 8  # heading, column names, rule, then one line per GPU: nothing wrapped
    assert lines[3].split()[:2] == ["0", "0000:18:00.0"]
    assert all(len(line.rstrip()) <= 100 for line in lines)


def test_a_gpu_that_does_not_answer_gets_one_line_not_a_row_of_unknowns(h200x2_snapshot):
    from helpers import with_gpu

    from gpubal.model import Reason, Unavailable

    lost = Unavailable(Reason.GPU_LOST, "nvmlDeviceGetHandleByIndex", "GPU is lost (NVML_ERROR_GPU_IS_LOST)")
    facts = ("name", "pci_bus_id", "memory_total_bytes", "pcie_link_gen_current", "nvlinks", "fabric_state",
             "mig_enabled_current", "persistence_mode", "numa_node")
    snapshot = with_gpu(h200x2_snapshot, 1, **{fact: lost for fact in facts})
    section = terminal_text(evaluate(frozen(snapshot), all_rules())).split("GPUs: ")[1].split("\n\n")[0]
    lines = section.splitlines()
    assert lines[0] == "2"  # not "2 × NVIDIA H200": GPU 1's model is unknown
    assert lines[1] == "  GPU 0: NVIDIA H200 · hopper, compute capability 9.0 · 140.4 GiB"
    assert lines[-1] == "GPU 1: every fact unknown — the GPU is lost (nvmlDeviceGetHandleByIndex)"


def test_mixed_models_say_which_gpu_is_which(h200x2_snapshot):
    from helpers import known, with_gpu

    mixed = with_gpu(h200x2_snapshot, 1, name=known("NVIDIA H100 80GB HBM3"), memory_total_bytes=known(80 * 2**30))
    section = terminal_text(evaluate(frozen(mixed), all_rules())).split("GPUs: ")[1].split("\n\n")[0]
    assert section.splitlines()[:3] == [
        "2",
        "  GPU 0: NVIDIA H200 · hopper, compute capability 9.0 · 140.4 GiB",
        "  GPU 1: NVIDIA H100 80GB HBM3 · hopper, compute capability 9.0 · 80.0 GiB",
    ]


def test_unknown_facts_say_why(h200x1_snapshot):
    from helpers import with_gpu

    from gpubal.model import Reason, Unavailable

    hidden = with_gpu(h200x1_snapshot, 0, persistence_mode=Unavailable(Reason.NO_PERMISSION, "test"))
    text = terminal_text(evaluate(frozen(hidden), all_rules()))
    assert "unknown (no permission)" in text


def test_long_lines_are_not_cut_at_the_console_width():
    text = terminal_text(evaluate(frozen(no_driver_snapshot()), all_rules()))
    evidence = next(line for line in text.splitlines() if line.startswith("    evidence: "))
    assert "NVML Shared Library Not Found, driver.kernel_module_version=" in evidence
    assert len(evidence) > 100


def test_not_evaluated_checks_are_grouped_by_the_missing_fact():
    report = evaluate(frozen(no_driver_snapshot()), all_rules())
    text = terminal_text(report)
    section = text.split("Not evaluated: ")[1]
    reason = "not found (nvmlInit): NVML Shared Library Not Found"
    assert section.count(f"  --  gpus: {reason}") == 1
    missing_gpus = [r.rule_id for r in report.results if r.missing_fact == "gpus"]
    assert len(missing_gpus) > 10
    listed = " ".join(section.split(f"  --  gpus: {reason}\n")[1].split("  --  ")[0].split())
    assert listed.startswith(f"needed by {len(missing_gpus)} checks: ")
    assert all(rule_id in listed for rule_id in missing_gpus)
    total = sum(1 for r in report.results if r.outcome.value == "not_evaluated")
    assert section.startswith(f"{total} checks")


# --- JSON ----------------------------------------------------------------------------------------------


def test_json_report_snapshot_reads_back_equal(case):
    _, report = case
    document = json.loads(render_json(report))
    assert document["snapshot"]["schema_version"] == 1
    assert snapshot_from_dict(document["snapshot"]) == report.snapshot
    assert snapshot_from_dict(document) == report.snapshot  # a whole report reads as its snapshot


def test_json_report_lists_every_finding_with_its_fix():
    snapshot = collect_snapshot(ReplayAdapter.from_file(str(FIXTURES / "nvml" / "downtrained.json")),
                                HostFiles(str(FIXTURES / "roots" / "downtrained")))
    document = json.loads(render_json(evaluate(frozen(snapshot), all_rules())))
    assert [(f["rule_id"], f["severity"], f["subject"]) for f in document["findings"]] == [
        ("driver-branch-end-of-life", "warning", "host"),
        ("ecc-pages-pending", "warning", "gpu:0"), ("pcie-link-downtrained", "warning", "gpu:0"),
        ("pcie-replay-errors", "warning", "gpu:0")]
    assert document["findings"][3]["evidence"] == {
        "gpu:0.pcie_replay_count": 250, "host.uptime_seconds": 900, "replays_per_minute": 16.7}
    assert document["findings"][3]["fix"]["commands"][0] == "nvidia-smi -q -d PCIE -i 0"
    assert document["verdict"]["headline"] == "4 warnings: degraded or at risk"
