"""Less noise by default: findings come first, passed checks are one line (listed with -v), and one
problem on many GPUs with one fix is one entry, not a screen per GPU."""

from __future__ import annotations

import io

from rich.console import Console

from gpubal.doctor.engine import evaluate
from gpubal.reports.terminal import render_terminal
from gpubal.rules import all_rules

from conftest import known, real_snapshot, with_gpu
from test_cli import H200X2, gpubal


def _text(report, verbose: bool = False) -> str:
    buffer = io.StringIO()
    render_terminal(report, Console(file=buffer, width=100, no_color=True, highlight=False), verbose=verbose)
    return buffer.getvalue()


def _persistence_off_on_eight_gpus():
    snapshot = real_snapshot("hgx8-h100-nvswitch")
    for index in range(8):
        snapshot = with_gpu(snapshot, index, persistence_mode=known(False))
    return evaluate(snapshot, all_rules())


def test_one_problem_on_eight_gpus_is_one_entry():
    text = _text(_persistence_off_on_eight_gpus())
    assert text.count("persistence-mode-off") == 1
    assert "WARNING persistence-mode-off  gpu:0, gpu:1, gpu:2, gpu:3, gpu:4, gpu:5, gpu:6, gpu:7" in text
    assert "(the same on the other 7, with their own evidence: -v shows each)" in text
    assert text.count("$ sudo systemctl enable --now nvidia-persistenced") == 1
    assert "Findings: 0 errors, 9 warnings, 0 info" in text  # the count still counts each GPU


def test_verbose_shows_each_gpu():
    text = _text(_persistence_off_on_eight_gpus(), verbose=True)
    assert text.count("  WARNING persistence-mode-off  gpu:") == 8


def test_findings_come_before_the_tables_and_passed_checks_are_one_line():
    result = gpubal("doctor", *H200X2)
    text = result.stdout
    assert text.index("Findings:") < text.index("GPUs:") < text.index("Passed:")
    passed = text.split("Passed:", 1)[1].split("\n\n", 1)[0]
    assert passed.strip().endswith("(-v lists them)") and "\n" not in passed.strip()
    listed = gpubal("doctor", *H200X2, "-v").stdout.split("Passed:", 1)[1].split("\n\n", 1)[0]
    assert "  ok  persistence-mode-off (gpu:0, gpu:1)" in listed


def test_checks_that_missed_one_fact_name_each_rule_once():
    import re

    text = _text(evaluate(real_snapshot("hgx8-h100-nvswitch"), all_rules()))
    ollama = text.split("  --  ollama:", 1)[1]
    count = int(re.search(r"needed by (\d+) checks:", ollama).group(1))
    assert count >= 14  # the count still counts each (rule, GPU): 8 GPUs for ollama-gpu-unsupported alone
    needed = " ".join(ollama.split("checks:", 1)[1].split("\n  --")[0].split("\n\n")[0].split())
    assert needed.count("ollama-gpu-unsupported") == 1
    assert "ollama-gpu-unsupported (gpu:0, gpu:1, gpu:2, gpu:3, gpu:4, gpu:5, gpu:6, gpu:7)" in needed
