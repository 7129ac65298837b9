"""The HTML report in a real browser (headless Chromium through the DevTools protocol): it opens with no
console message, no uncaught exception and no request but the page itself, at desktop and phone widths;
its filters and fact search work; a hostile model name stays text. Screenshots land in tmp_path (or in
$GPUBAL_SCREENSHOTS when set) for a person to look at. Skipped when Chromium is not installed
(Debian: `apt-get install chromium`; .ci/run installs it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chromium import Browser, find_chromium
from helpers.goldens import report_of

from gpubal.doctor.engine import evaluate
from gpubal.reports.html import render_html
from gpubal.rules import all_rules

pytestmark = pytest.mark.skipif(find_chromium() is None,
                                reason="chromium is not installed (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    with Browser() as opened:
        yield opened


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GPUBAL_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("width, mobile", [(1280, False), (390, True)], ids=["desktop", "phone"])
def test_the_report_opens_cleanly_offline(browser, tmp_path, width, mobile):
    page_file = tmp_path / "pcie4-l40s-2numa.html"
    page_file.write_text(render_html(report_of("pcie4-l40s-2numa")), encoding="utf-8")
    page = browser.open(page_file, width=width, mobile=mobile,
                        script="document.documentElement.scrollWidth")
    (_shots(tmp_path) / f"report-{width}.png").write_bytes(page.screenshot_png)
    assert page.requests == [page_file.resolve().as_uri()]  # nothing but the page itself
    assert page.console == [] and page.exceptions == []
    assert 'data-severity="warning"' in page.dom and "p2p-unsupported-between-gpus" in page.dom
    assert page.evaluated <= width  # nothing wider than the screen: tables scroll inside their box
    assert page.screenshot_png.startswith(b"\x89PNG")


def test_the_filters_and_the_fact_search_work(browser, tmp_path):
    page_file = tmp_path / "report.html"
    page_file.write_text(render_html(report_of("pcie4-l40s-2numa")), encoding="utf-8")
    script = """(function () {
      var visible = function (selector) { return Array.prototype.filter.call(document.querySelectorAll(selector),
        function (e) { return e.offsetParent !== null; }).length; };
      var all = visible('article.finding');
      var box = document.querySelector('input[data-severity="warning"]');
      box.checked = false; box.dispatchEvent(new Event('change'));
      var withoutWarnings = visible('article.finding');
      box.checked = true; box.dispatchEvent(new Event('change'));
      var area = document.getElementById('area-filter');
      area.value = 'topology'; area.dispatchEvent(new Event('change'));
      var topology = visible('article.finding');
      var search = document.getElementById('fact-search');
      search.value = 'gpu:2 numa_node_sysfs'; search.dispatchEvent(new Event('input'));
      return [all, withoutWarnings, topology, visible('#facts-table tbody tr'), search.hidden];
    })()"""
    page = browser.open(page_file, script=script, screenshot=False)
    everything, without_warnings, topology, facts, search_hidden = page.evaluated
    warnings = page.dom.count('data-severity="warning" data-area')
    assert everything == page.dom.count("<article class=\"finding")
    assert without_warnings == everything - warnings
    assert topology == page.dom.count('data-area="topology"')
    assert facts == 1 and search_hidden is False
    assert page.console == [] and page.exceptions == []


def test_a_hostile_model_name_stays_text_in_the_browser(browser, tmp_path, hostile_snapshot):
    page_file = tmp_path / "hostile.html"
    page_file.write_text(render_html(evaluate(hostile_snapshot, all_rules()), redact=False), encoding="utf-8")
    page = browser.open(page_file, script="[document.scripts.length, document.body.innerText.indexOf("
                                          "'llama3<script>alert(1)</script>') >= 0, document.images.length]")
    (_shots(tmp_path) / "report-hostile.png").write_bytes(page.screenshot_png)
    assert page.evaluated == [2, True, 0]  # gpubal's two scripts only; the name shown as written; no image
    assert page.console == [] and page.exceptions == []
    assert page.requests == [page_file.resolve().as_uri()]


def test_on_a_phone_tables_scroll_and_nothing_breaks_mid_word(browser, tmp_path):
    # 8 GPUs at 390 px: the topology once had rows ~100 px tall with every column past GPU4 cut, and fix
    # commands broke mid-word; now the tables keep their rows one line tall and scroll inside their box
    page_file = tmp_path / "hgx8.html"
    page_file.write_text(render_html(report_of("hgx8-h100-nvswitch"), redact=False), encoding="utf-8")
    script = """(function () {
      var topology = document.querySelector('#topology .scroll');
      var rows = Array.prototype.map.call(topology.querySelectorAll('tbody tr'), function (r) { return r.offsetHeight; });
      var gpus = document.querySelector('table.gpus').parentNode;
      var pre = document.querySelector('.command pre');
      return [Math.max.apply(null, rows), topology.scrollWidth > topology.clientWidth,
              gpus.scrollWidth > gpus.clientWidth, getComputedStyle(pre).whiteSpace,
              pre.getBoundingClientRect().height < 50, document.documentElement.scrollWidth];
    })()"""
    page = browser.open(page_file, width=390, mobile=True, script=script)
    (_shots(tmp_path) / "report-hgx8-390.png").write_bytes(page.screenshot_png)
    tallest_row, topology_scrolls, gpus_scroll, white_space, one_line_command, page_width = page.evaluated
    assert tallest_row < 40, tallest_row
    assert topology_scrolls and gpus_scroll
    assert white_space == "pre" and one_line_command
    assert page_width <= 390


def test_every_fix_command_gets_a_copy_button(browser, tmp_path):
    page_file = tmp_path / "downtrained.html"
    page_file.write_text(render_html(report_of("downtrained")), encoding="utf-8")
    script = """(function () {
      var copied = null;
      navigator.clipboard.writeText = function (text) { copied = text; return Promise.resolve(); };
      var buttons = document.querySelectorAll('.command button.copy');
      buttons[0].click();
      return [buttons.length, document.querySelectorAll('.command pre').length, copied,
              document.querySelector('.command pre').textContent];
    })()"""
    page = browser.open(page_file, script=script, screenshot=False)
    buttons, commands, copied, first = page.evaluated
    assert buttons == commands > 0
    assert copied == first  # the command exactly as shown
    assert page.console == [] and page.exceptions == []  # the CSP let the (hashed) script run


@pytest.mark.parametrize("width, mobile", [(1280, False), (390, True)], ids=["desktop", "phone"])
def test_one_problem_on_eight_gpus_is_one_entry_with_every_gpu_visible(browser, tmp_path, width, mobile):
    # the same two findings on all 8 GPUs: one entry each, every GPU's row on screen without scrolling
    # sideways (a phone shows each row as a small card), and the filter's count counts each GPU
    from helpers.goldens import replays_and_persistence_off_on_eight_gpus

    page_file = tmp_path / "hgx8-grouped.html"
    page_file.write_text(render_html(replays_and_persistence_off_on_eight_gpus()), encoding="utf-8")
    script = """(function () {
      var tables = Array.prototype.slice.call(document.querySelectorAll('table.each'));
      var rows = document.querySelectorAll('table.each tbody tr');
      var shown = Array.prototype.filter.call(rows, function (r) { return r.offsetParent !== null; }).length;
      var fits = tables.every(function (t) { return t.parentNode.scrollWidth <= t.parentNode.clientWidth; });
      var box = document.querySelector('input[data-severity="warning"]');
      box.checked = false; box.dispatchEvent(new Event('change'));
      var count = document.getElementById('filter-count').textContent;
      box.checked = true; box.dispatchEvent(new Event('change'));
      return [document.querySelectorAll('article.finding').length, tables.length, shown, fits, count,
              document.querySelectorAll('.command button.copy').length, document.documentElement.scrollWidth];
    })()"""
    page = browser.open(page_file, width=width, mobile=mobile, script=script, max_height=12000)
    (_shots(tmp_path) / f"report-hgx8-grouped-{width}.png").write_bytes(page.screenshot_png)
    entries, tables, rows_shown, tables_fit, count, copy_buttons, page_width = page.evaluated
    assert entries == 3 and tables == 2  # the driver's end of life, persistence off, PCIe replays
    assert rows_shown == 16 and tables_fit
    assert count == "0 of 17 shown"  # 17 warnings, though 3 entries
    assert copy_buttons == 1 + 1 + 8 + 1  # one per command: persistence's once, each GPU's own, dmesg once
    assert page_width <= width
    assert page.console == [] and page.exceptions == []
