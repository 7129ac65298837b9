"""The plain writer of reports/page.py lays a page out exactly as rich would: the doctor's terminal report and
the topology advice of every recorded host and every pasted dump of the corpus, the doctor's report of every
rule scenario, at several widths, and pages of random lines, tables and
paragraphs (tabs, wide characters, control characters, long words) are written both ways and compared.
Where the plain writer answers None (a layout it leaves to rich), the command draws with rich instead;
these tests also pin that the recorded hosts' reports do not need rich at the width files and pipes get."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.goldens import replays_and_persistence_off_on_eight_gpus, report_of
from helpers.paths import FIXTURES
from helpers.scenarios import all_scenarios
from gpubal.doctor.engine import evaluate
from gpubal.outputs import PLAIN_WIDTH
from gpubal.placement.advice import advise
from gpubal.reports.page import Page
from gpubal.reports.terminal import terminal_page
from gpubal.reports.topo import topo_page
from gpubal.reports.visible import safe_console
from gpubal.rules import all_rules

HOSTS = ["h200x2", "h200x1", "hgx8-h100-nvswitch", "a100-mig-instances", "a100-mig-pending", "downtrained",
         "lost-gpu", "mixed-h100-a100", "old-driver-470", "pcie4-l40s-2numa", "rtx3090x2-nvlink-bridge",
         "version-mismatch", "no-driver"]
WIDTHS = [24, 40, 60, 80, PLAIN_WIDTH, 160]


def drawn(page: Page, width: int) -> str:
    """What the command printed before the plain writer: the page drawn by rich for a file or a pipe."""
    buffer = io.StringIO()
    page.draw(safe_console(file=buffer, width=width, no_color=True, color_system=None, force_terminal=False))
    return buffer.getvalue()


def assert_same_both_ways(page: Page, width: int) -> bool:
    plain = page.plain(width)
    if plain is not None:
        assert plain == drawn(page, width)
    return plain is not None


@pytest.mark.parametrize("host", HOSTS)
def test_a_recorded_hosts_report_is_the_same_both_ways(host):
    report = report_of(host)
    for verbose in (False, True):
        page = terminal_page(report, verbose)
        for width in WIDTHS:
            assert_same_both_ways(page, width)
        assert page.plain(PLAIN_WIDTH) is not None, "a recorded host's report needs no rich for a file or a pipe"


@pytest.mark.parametrize("host", HOSTS)
def test_a_recorded_hosts_topology_advice_is_the_same_both_ways(host):
    report = report_of(host)
    usable = len(advise(report.snapshot).topology.gpus)
    for sizes in (None, [1]) if usable else (None,):  # the host's default sizes, then one GPU per group
        page = topo_page(advise(report.snapshot, sizes))
        for width in WIDTHS:
            assert_same_both_ways(page, width)
        assert page.plain(PLAIN_WIDTH) is not None


def test_the_same_fix_on_eight_gpus_is_the_same_both_ways():
    page = terminal_page(replays_and_persistence_off_on_eight_gpus())
    for width in WIDTHS:
        assert_same_both_ways(page, width)


def test_every_rule_scenario_reported_by_every_rule_is_the_same_both_ways():
    rules = all_rules()
    written = 0
    for scenario in all_scenarios():
        if scenario.base.startswith("balance:"):
            continue
        page = terminal_page(evaluate(scenario.snapshot(), rules, policy=scenario.policy()), verbose=True)
        for width in (40, PLAIN_WIDTH):
            written += assert_same_both_ways(page, width)
    assert written > 100  # the plain writer did the work, not rich


def test_every_pasted_dump_in_the_corpus_is_the_same_both_ways():
    """The 117 real dumps (tests/fixtures/dumps: nvidia-smi tables, -q, topo -m, Ollama logs, collect_env),
    whose host text is the most varied there is: the doctor's report and the topology advice."""
    from gpubal.sources import Source, snapshot_of

    rules = all_rules()
    written = 0
    dumps = sorted((FIXTURES / "dumps").glob("*/*.txt"))
    assert len(dumps) > 100
    for dump in dumps:
        snapshot = snapshot_of(Source(dumps=[str(dump)]), notify=lambda message: None)
        pages = [terminal_page(evaluate(snapshot, rules), verbose) for verbose in (False, True)]
        try:
            pages.append(topo_page(advise(snapshot)))
        except ValueError:  # no GPU to place
            pass
        for page in pages:
            written += assert_same_both_ways(page, PLAIN_WIDTH)
    assert written > 300  # the plain writer did the work, not rich


# --- pages of random blocks -------------------------------------------------------------------------------

# printable ASCII, the one-column characters the reports use, and the awkward ones: a tab, wide and
# zero-width characters, an emoji, control characters, markup and emoji codes
TEXT = st.lists(st.sampled_from(list("abc xyz019:-,.()[]/") + ["  ", "\t", "·", "×", "—", "界", "🆎", "\u0301",
                                                               "\x1b", "\u202e", "[bold]", ":ab:"]),
                max_size=30).map("".join)
WORDY = st.lists(st.text(alphabet=st.sampled_from(list("abcdefgh-:,()")), min_size=1, max_size=30),
                 max_size=30).map(", ".join)
STYLE = st.sampled_from(["", "bold", "dim", "bold red", "green"])


@st.composite
def pages(draw):
    page = Page()
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["line", "blank", "table", "paragraph", "table-of-words"]))
        if kind == "line":
            page.line(draw(st.lists(st.tuples(TEXT, STYLE), min_size=1, max_size=3)), style=draw(STYLE),
                      base=draw(STYLE))
        elif kind == "blank":
            page.blank()
        elif kind == "paragraph":
            page.paragraph(draw(st.one_of(WORDY, TEXT)), indent=draw(st.integers(0, 8)))
        else:
            columns = draw(st.integers(1, 9))
            cell = TEXT if kind == "table" else st.text(alphabet=st.sampled_from(list("abcXY0129-:. ")), max_size=14)
            headings = draw(st.lists(cell, min_size=columns, max_size=columns))
            rows = draw(st.lists(st.lists(st.tuples(cell, STYLE), min_size=columns, max_size=columns), max_size=4))
            page.table(headings, rows, bordered=draw(st.booleans()))
    return page


@settings(max_examples=400, deadline=None)
@given(pages(), st.integers(10, 120))
def test_a_random_page_is_the_same_both_ways(page, width):
    assert_same_both_ways(page, width)


def test_the_plain_writer_leaves_to_rich_what_it_cannot_lay_out():
    wide = Page()
    wide.table(["a", "b"], [["x" * 50, "y" * 50]])
    assert wide.plain(60) is None  # rich folds the cells of columns wider than the console
    tabbed = Page()
    tabbed.line("界\tx")
    assert tabbed.plain(100) is None  # a tab stop after a wide character: rich counts the columns
    long_word = Page()
    long_word.paragraph("x" * 30, indent=6)
    assert long_word.plain(20) is None  # rich folds a word longer than a line
    plain = Page()
    plain.line("a\tb  ")
    plain.table(["#", "Bus id"], [["0", "0000:ab:00.0"]])
    assert plain.plain(100) == "a       b\n#  Bus id\n" + "─" * 15 + "\n0  0000:ab:00.0\n"
