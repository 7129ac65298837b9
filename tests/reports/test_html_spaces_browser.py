"""In a browser, host text in the HTML report keeps its runs of spaces and tabs: innerText is what the
page shows (and what a reader copies), and it folds whitespace wherever the CSS lets it."""

from __future__ import annotations

import json

import pytest

from chromium import Browser, find_chromium
from helpers import known, with_gpu
from gpubal.doctor.engine import evaluate
from gpubal.reports.html import render_html
from gpubal.rules import all_rules

pytestmark = pytest.mark.skipif(find_chromium() is None,
                                reason="chromium is not installed (Debian: apt-get install chromium)")

NAME = "NVIDIA  H200\tspaced"


def test_a_gpu_name_shows_its_spaces_and_tab(h200x2_snapshot, tmp_path):
    report = evaluate(with_gpu(h200x2_snapshot, 0, name=known(NAME)), all_rules())
    page_file = tmp_path / "spaced.html"
    page_file.write_text(render_html(report, redact=False), encoding="utf-8")
    script = """JSON.stringify(Array.prototype.map.call(document.querySelectorAll('td, .message, code'),
      function (cell) { return cell.innerText; }).filter(function (text) { return text.indexOf('H200') >= 0; }))"""
    with Browser() as browser:
        shown = json.loads(browser.open(page_file, script=script, screenshot=False).evaluated)
    assert any(NAME in text for text in shown), shown  # the GPU table and the facts
    assert sum(NAME in text for text in shown) >= 2, shown
