"""Words for people, codes for machines: the terminal, Markdown and HTML reports say "n/a", "not
supported on this GPU", "the GPU is lost", "not in the pasted text", yes/no; JSON keeps the raw reason
codes programs match on. And the example that ships with gpubal names no development path."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console

from gpubal.balance.analysis import analyze
from gpubal.doctor.engine import evaluate
from gpubal.model import Reason, Unavailable
from gpubal.reports import words
from gpubal.reports.balance import render_balance_html, render_balance_markdown, render_balance_terminal
from gpubal.reports.html import render_html
from gpubal.reports.json_report import render_json
from gpubal.reports.markdown import render_markdown
from gpubal.reports.terminal import render_terminal
from gpubal.rules import all_rules

from helpers import real_snapshot, replay_balance
from helpers.cli import gpubal
from helpers.paths import REPO

ROOT = REPO
CODES = re.compile(r"\b(?:" + "|".join(reason.value for reason in Reason if "_" in reason.value) + r")\b")
PROFILES = ["h200x2", "pcie4-l40s-2numa", "lost-gpu", "old-driver-470", "a100-mig-pending", "no-driver",
            "downtrained", "mixed-h100-a100"]


def _terminal(report) -> str:
    buffer = io.StringIO()
    render_terminal(report, Console(file=buffer, width=100, no_color=True, highlight=False), verbose=True)
    return buffer.getvalue()


def _for_people(report) -> dict:
    html = re.sub(r'<script type="application/json".*?</script>', "", render_html(report, redact=False), flags=re.S)
    markdown = render_markdown(report, redact=False).split("<details><summary>Snapshot")[0]
    return {"terminal": _terminal(report), "markdown": markdown, "html": html}


@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_has_words(reason):
    assert reason in words.SHORT and reason in words.PHRASE
    text = words.described(Unavailable(reason, "nvmlDeviceGetSomething", "detail").describe())
    assert reason.value not in text or "_" not in reason.value
    assert words.short(Unavailable(reason, "x")) and "_" not in words.short(Unavailable(reason, "x"))


@pytest.mark.parametrize("name", PROFILES)
def test_people_read_no_reason_codes_and_no_python_booleans(name):
    report = evaluate(real_snapshot(name), all_rules())
    for kind, text in _for_people(report).items():
        assert not CODES.search(text), (kind, CODES.search(text).group(0))
        assert not re.search(r"=(True|False)\b|>(True|False)<|\| (True|False) \|", text), kind


def test_json_keeps_the_codes_for_programs():
    document = json.loads(render_json(evaluate(real_snapshot("lost-gpu"), all_rules())))
    reasons = {result["missing_reason"].split(" ")[0] for result in document["results"] if result.get("missing_reason")}
    assert "gpu_lost" in reasons


def test_a_feature_the_gpu_lacks_reads_n_a():
    # the L40S has no NVSwitch fabric: NVML says not supported, nvidia-smi says N/A
    text = _terminal(evaluate(real_snapshot("pcie4-l40s-2numa"), all_rules()))
    gpu_row = next(line for line in text.splitlines() if line.startswith("0  0000:"))
    assert " n/a " in gpu_row and "unknown" not in gpu_row


def test_the_reasons_people_read():
    assert words.phrase(Unavailable(Reason.NOT_SUPPORTED, "nvmlDeviceGetGpuFabricInfoV", "Not Supported "
                                    "(NVML_ERROR_NOT_SUPPORTED)")) == "not supported on this GPU (nvmlDeviceGetGpuFabricInfoV)"
    assert words.phrase(Unavailable(Reason.TIMEOUT, "http://127.0.0.1:11434/api/version",
                                    "no answer within 2 s")) == "no answer within 2 s (http://127.0.0.1:11434/api/version)"
    assert words.phrase(Unavailable(Reason.NOT_IN_INPUT, "dump.txt", "none of the pasted dumps contains it")) == \
        "not in the pasted text"
    assert words.value(True) == "yes" and words.value(False) == "no"


def test_a_pasted_dump_says_what_the_text_lacked():
    dump = ROOT / "tests" / "fixtures" / "dumps" / "topo" / "club3090-2x3090-sys-two-sockets-legend-cut.txt"
    result = gpubal("doctor", "--from", str(dump), "-v")
    assert "not in the pasted text" in result.stdout
    assert not CODES.search(result.stdout)


@pytest.mark.parametrize("fmt", ["terminal", "markdown", "html"])
def test_a_paste_without_a_topology_matrix_says_so_in_words(fmt):
    # the host summary's topology line once read "GPU pairs: not_in_input (h100-sxm-x8-565.txt): no
    # topology matrix (nvidia-smi topo -m) pasted" in every format
    dump = ROOT / "tests" / "fixtures" / "dumps" / "smi" / "h100-sxm-x8-565.txt"
    text = gpubal("doctor", "--from", str(dump), "-v", "--format", fmt).stdout
    text = re.sub(r'<script type="application/json".*?</script>', "", text, flags=re.S).split("<details>")[0]
    assert "links between GPUs unknown" in text and "GPU pairs: not in the pasted text" in text
    assert not CODES.search(text), CODES.search(text).group(0)


def test_a_labelled_reason_reads_as_words_and_other_text_stays():
    assert words.described("GPU pairs: not_found (/sys/bus/pci): no such directory") == \
        "GPU pairs: not found (/sys/bus/pci): no such directory"
    assert words.described("skipped by site policy: lab.toml") == "skipped by site policy: lab.toml"


@pytest.mark.parametrize("name", ["both-busy", "one-busy", "restricted", "throttled", "h200x1-idle"])
def test_the_balance_report_has_no_codes_and_no_sentence_around_unknown(name):
    report = analyze(replay_balance(name))
    buffer = io.StringIO()
    render_balance_terminal(report, Console(file=buffer, width=120, no_color=True, highlight=False))
    for text in (buffer.getvalue(), render_balance_markdown(report), render_balance_html(report)):
        assert not CODES.search(text), CODES.search(text).group(0)
        assert "unknown" not in text.split("busy at once")[0].rsplit("\n", 1)[-1] or "busy at once" not in text


def test_the_shipped_example_names_no_development_path():
    for path in (ROOT / "src" / "gpubal" / "examples").glob("*.json"):
        text = path.read_text(encoding="utf-8")
        assert "../" not in text and "shared/captures" not in text and "tests/fixtures" not in text, path.name
