"""At 60 columns (a split terminal pane, a phone's SSH client) every value still prints whole: a table
too wide for the console is split into several, never cut (`0-55,112-167` once printed as `0-55,1`, and
the NUMA column as `N`)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from gpubal.balance.analysis import analyze
from gpubal.doctor.engine import evaluate
from gpubal.placement.advice import advise
from gpubal.reports import summary as s
from gpubal.reports.balance import gpu_rows, process_rows, render_balance_terminal
from gpubal.reports.terminal import render_terminal
from gpubal.reports.topo import render_topo_terminal
from gpubal.rules import all_rules

from helpers import real_snapshot, replay_balance

PROFILES = ["h200x1", "h200x2", "hgx8-h100-nvswitch", "pcie4-l40s-2numa", "rtx3090x2-nvlink-bridge",
            "mixed-h100-a100", "lost-gpu", "old-driver-470", "downtrained"]


def _text(render, width: int = 60) -> str:
    buffer = io.StringIO()
    render(Console(file=buffer, width=width, no_color=True, highlight=False))
    return buffer.getvalue()


def _cells_whole(text: str, cells) -> None:
    for cell in cells:
        for word in cell.split():  # a cell may wrap between its words, never inside one
            assert any(word in line.split() for line in text.splitlines()), (word, text)


@pytest.mark.parametrize("name", PROFILES)
def test_doctor_at_60_columns_cuts_no_value(name):
    report = evaluate(real_snapshot(name), all_rules())
    text = _text(lambda console: render_terminal(report, console))
    rows = s.topology_rows(report) or []
    rows = rows if len(rows) >= 3 else []  # one GPU: no topology table
    _cells_whole(text, [cell for row in rows for cell in row])
    gpus = report.snapshot.gpus.value
    _cells_whole(text, [s.bus_id(gpu) for gpu in gpus] + [s.numa_text(gpu.numa_node) for gpu in gpus])
    rules = [line for line in text.splitlines() if line.startswith("─")]  # one under each table's heading
    assert rules and all(len(line.rstrip()) <= 60 for line in rules), text


def test_the_cpu_list_that_was_cut_prints_whole():
    report = evaluate(real_snapshot("hgx8-h100-nvswitch"), all_rules())
    text = _text(lambda console: render_terminal(report, console))
    assert "0-55,112-167" in text and "56-111,168-223" in text
    assert "NUMA Affinity" in text


@pytest.mark.parametrize("name", PROFILES)
def test_topo_at_60_columns_cuts_no_value(name):
    advice = advise(real_snapshot(name))
    text = _text(lambda console: render_topo_terminal(advice, console))
    _cells_whole(text, [gpu.cpu_list for gpu in advice.topology.gpus if gpu.cpu_list])
    _cells_whole(text, [f"GPU{gpu.index}" for gpu in advice.topology.gpus])


@pytest.mark.parametrize("name", ["both-busy", "one-busy", "restricted", "h200x1-matmul"])
def test_balance_at_60_columns_cuts_no_value(name):
    report = analyze(replay_balance(name))
    text = _text(lambda console: render_balance_terminal(report, console))
    for rows in (gpu_rows(report)[1], process_rows(report)[1]):
        _cells_whole(text, [cell for row in rows for cell in row])
