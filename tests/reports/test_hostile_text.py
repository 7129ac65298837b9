"""Host text shows as itself in every format: no rich markup or emoji read into it, no terminal control
sequence passed through raw (ESC[2J, OSC 8 hyperlinks, OSC 52 clipboard writes, C1 CSI, bidi overrides),
and the JSON still says exactly what the host said.

The hostile snapshot puts such text in every free-text fact a report shows (host, GPU name and bus id,
a reason's detail, environment values, a loaded model's name that a finding quotes); its GPU 0 has a bus
id with `:ab:` (rich's emoji code for 🆎) and a down-trained link, so the fix `sudo lspci -vv -s
0000:ab:00.0` is printed and must stay copyable."""

from __future__ import annotations

import dataclasses
import json
import re
from io import StringIO
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import known, unavailable, with_gpu, with_host
from gpubal.cli import app
from gpubal.doctor.engine import evaluate
from gpubal.model import OllamaModel, Reason
from gpubal.snapshot_file import snapshot_from_text, snapshot_to_json
from gpubal.reports.terminal import render_terminal
from gpubal.reports.visible import safe_console, visible
from gpubal.rules import all_rules
from helpers.paths import FIXTURES, GOLDENS

try:
    RUNNER = CliRunner(mix_stderr=False)
except TypeError:
    RUNNER = CliRunner()


MARKUP = "[bold]B[/bold] [/] [link=https://evil.example]click[/link] :ab: :smile:"
ESCAPES = ("\x1b[2J\x1b[H"  # clear the screen
           "\x1b]8;;https://evil.example\x1b\\here\x1b]8;;\x1b\\"  # OSC 8 hyperlink
           "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # OSC 52: write the reader's clipboard
           "\x9b31m\r\x08\x7f\u202eevil")  # C1 CSI, carriage return, backspace, DEL, bidi override
HTML = "<img src=x onerror=alert(1)> | `x` **y**"
# Markdown prose and HTML collapse a run of spaces, a tab may be expanded or folded: both must survive.
SPACING = "two  spaces\tand a tab"
HOSTILE = f"{MARKUP} {ESCAPES} {HTML} {SPACING}"
LSPCI = "sudo lspci -vv -s 0000:ab:00.0 | grep -E 'LnkCap|LnkSta'"
FROZEN_AT = "2026-11-29T00:00:00+00:00"

# What must never reach a reader raw: C0 controls other than tab and newline, DEL, C1, bidi controls.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(scope="module")
def snapshot_file(h200x2_snapshot, tmp_path_factory) -> Path:
    snapshot = with_host(h200x2_snapshot, hostname=known(f"node{HOSTILE}"), os_release=known(HOSTILE),
                         kernel_release=known(HOSTILE), cpu_model=known(HOSTILE),
                         virtualization=unavailable(Reason.ERROR, HOSTILE))
    snapshot = with_gpu(snapshot, 0, name=known(f"NVIDIA H200 {HOSTILE}"), pci_bus_id=known("00000000:AB:00.0"),
                        pcie_link_width_current=known(8), pcie_link_width_max=known(16))
    stack = dataclasses.replace(snapshot.stack, environment=known({"NCCL_DEBUG": HOSTILE}))
    ollama = dataclasses.replace(snapshot.ollama, server_version=known("0.5.7"), running_models=known([
        OllamaModel(name=f"llama3{HOSTILE}", size_bytes=50 * 2**30, size_vram_bytes=20 * 2**30)]))
    snapshot = dataclasses.replace(snapshot, stack=stack, ollama=ollama, collected_at=FROZEN_AT, origin=HOSTILE)
    path = tmp_path_factory.mktemp("hostile") / "hostile.json"
    path.write_text(snapshot_to_json(snapshot), encoding="utf-8")
    return path


def doctor(snapshot_file: Path, *options: str) -> str:
    result = RUNNER.invoke(app, ["doctor", "--snapshot", str(snapshot_file), "--no-redact", *options])
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
    return result.stdout


@pytest.mark.parametrize("output_format", ["terminal", "markdown", "html", "junit", "json"])
def test_no_control_character_reaches_the_reader_raw(snapshot_file, output_format):
    text = doctor(snapshot_file, "--format", output_format)
    assert RAW_CONTROL.search(text) is None, repr(RAW_CONTROL.search(text))
    assert "🆎" not in text and "😄" not in text


@pytest.mark.parametrize("output_format", ["terminal", "markdown", "html", "junit"])
def test_the_fix_command_with_the_bus_id_prints_exactly(snapshot_file, output_format):
    text = doctor(snapshot_file, "--format", output_format)
    if output_format == "html":
        text = text.replace("&#39;", "'").replace("&amp;", "&")
    elif output_format == "junit":
        text = text.replace("&apos;", "'")
    assert LSPCI in text


def terminal_form(text: str) -> "re.Pattern[str]":
    """`text` as a terminal shows it: every character kept, a tab shown as the spaces to the next tab
    stop (as `cat` shows it; rich expands tabs and has no way to print one raw)."""
    return re.compile(" +".join(re.escape(part) for part in visible(text).split("\t")))


def test_the_terminal_shows_markup_emoji_and_escapes_as_text(snapshot_file):
    text = doctor(snapshot_file)
    host = terminal_form(HOSTILE).pattern
    assert re.search(f"Host     node{host} · {host}", text)
    assert "two  spaces" in text
    assert MARKUP in text
    assert "\\u001b]52;c;ZWNobyBwd25lZA==\\u0007" in text
    assert "0000:ab:00.0" in text


def test_markdown_and_html_show_html_as_text(snapshot_file):
    markdown, page = doctor(snapshot_file, "-f", "markdown"), doctor(snapshot_file, "-f", "html")
    outside_code_spans = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", markdown)  # a code span shows HTML as written
    assert "<img" not in outside_code_spans and "&lt;img src=x onerror=alert(1)&gt;" in markdown
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def gfm_cell_code(cell: str) -> str:
    """What GFM shows for a code span in a table cell: one backslash before each `|` removed (before
    inline parsing), then the fence and CommonMark's one padding space on each side stripped."""
    cell = re.sub(r"\\\|", "|", cell)
    fence = re.match("`+", cell).group(0)
    assert cell.endswith(fence), cell
    inner = cell[len(fence):-len(fence)]
    if inner.startswith(" ") and inner.endswith(" ") and inner.strip(" "):
        inner = inner[1:-1]
    return inner


def test_markdown_keeps_runs_of_spaces_and_tabs(snapshot_file):
    """Prose and code spans keep the host's spaces and tabs in the source; the fact's table cell reads
    back as exactly the GPU name (pipes escaped reversibly, no space lost to the code span's padding)."""
    markdown = doctor(snapshot_file, "-f", "markdown")
    assert markdown.count(SPACING) >= 5  # the hostname, the GPU name in prose, the facts, the model name
    row = next(line for line in markdown.splitlines() if line.startswith("| `gpu:0.name` | "))
    cell = row[len("| `gpu:0.name` | "):].rsplit(" |", 1)[0]
    assert gfm_cell_code(cell) == f"NVIDIA H200 {visible(HOSTILE)}"


@pytest.mark.parametrize("value", ["a  b\tc", "  two leading", "two trailing  ", " both ", "`tick` and  |pipe| \\| ",
                                   "   "])
def test_a_markdown_table_cell_reads_back_as_the_value(value):
    from gpubal.reports.markdown import md_cell

    assert gfm_cell_code(md_cell(value)) == value


def test_html_keeps_runs_of_spaces_and_tabs(snapshot_file):
    page = doctor(snapshot_file, "-f", "html")
    assert SPACING in page
    css = re.sub(r"\s+", " ", page)
    assert "td, .message, :not(pre) > code { white-space: pre-wrap; }" in css  # a browser would fold the run otherwise


@pytest.mark.parametrize("output_format", ["json", "markdown", "html"])
def test_every_report_reads_back_what_the_host_said(snapshot_file, output_format, tmp_path):
    """The escapes are JSON's own: the snapshot embedded in a report decodes to the host's exact text."""
    path = tmp_path / "report"
    path.write_text(doctor(snapshot_file, "-f", output_format), encoding="utf-8")
    assert snapshot_from_text(path.read_text(encoding="utf-8")).host.os_release.value == HOSTILE
    if output_format == "json":
        assert json.loads(path.read_text())["snapshot"]["host"]["hostname"]["value"] == f"node{HOSTILE}"


def test_a_colour_terminal_gets_only_rich_own_styling(snapshot_file):
    buffer = StringIO()
    report = evaluate(snapshot_from_text(snapshot_file.read_text()), all_rules())
    render_terminal(report, safe_console(file=buffer, width=100, force_terminal=True, color_system="truecolor"))
    text = buffer.getvalue()
    assert "\x1b[" in text  # colour is on
    without_styling = re.sub("\x1b\\[[0-9;]*m", "", text)
    assert RAW_CONTROL.search(without_styling) is None
    assert LSPCI in without_styling


def test_any_console_a_renderer_is_given_shows_host_text_plainly(snapshot_file):
    """The renderers themselves never hand host text to rich as markup or emoji, so a caller's default
    Console (as in the README's examples of rendering a report) shows it plainly too."""
    from rich.console import Console

    buffer = StringIO()
    report = evaluate(snapshot_from_text(snapshot_file.read_text()), all_rules())
    render_terminal(report, Console(file=buffer, width=100, no_color=True))
    text = buffer.getvalue()
    assert RAW_CONTROL.search(text) is None and "🆎" not in text and MARKUP in text and LSPCI in text


@pytest.mark.parametrize("output_format, name", [("terminal", "hostile.txt"), ("markdown", "hostile.md"),
                                                 ("html", "hostile.html"), ("junit", "hostile.junit.xml"),
                                                 ("json", "hostile.json")])
def test_golden(snapshot_file, update_goldens, output_format, name):
    text = "\n".join(line.rstrip() for line in doctor(snapshot_file, "--format", output_format).splitlines()) + "\n"
    path = GOLDENS / name
    if update_goldens:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden: review, then --update-goldens"


# --- balance: process names come from /proc/PID/comm, which any user sets ---------------------------------

PROCESS_NAME = f"train[/] [link=https://evil.example]x[/link] <img src=x> {ESCAPES}"


@pytest.fixture(scope="module")
def hostile_proc_root(tmp_path_factory) -> Path:
    import shutil

    root = tmp_path_factory.mktemp("balance") / "root"
    shutil.copytree(FIXTURES / "balance" / "root", root)
    (root / "proc" / "4242" / "comm").write_text(PROCESS_NAME + "\n", encoding="utf-8")
    return root


def balance(root: Path, *options: str):
    return RUNNER.invoke(app, ["balance", "--nvml-profile", str(FIXTURES / "balance" / "one-busy.json"),
                               "--root", str(root), *options])


@pytest.mark.parametrize("output_format", ["terminal", "markdown", "html", "json"])
def test_balance_shows_a_hostile_process_name_as_text(hostile_proc_root, output_format):
    result = balance(hostile_proc_root, "--format", output_format)
    assert result.exit_code == 0, (result.exit_code, result.stderr)
    text = result.stdout
    assert RAW_CONTROL.search(text) is None
    if output_format == "terminal":
        assert "train[/]" in text and "[link=https://evil.example]x[/link] <img" in text and "\\u001b[2J" in text
    elif output_format == "markdown":
        assert "<img" not in text and "train\\[/\\] \\[link=https://evil.example\\]x\\[/link\\] &lt;img src=x&gt;" in text
    elif output_format == "html":
        assert "<img" not in text and "&lt;img src=x&gt;" in text
        assert "td{white-space:pre-wrap}" in text  # a browser would fold a run of spaces in a name
    else:
        assert json.loads(text)["processes"][0]["name"] == PROCESS_NAME.strip()


def test_balance_on_any_console_reads_no_markup():
    from rich.console import Console

    from helpers import replay_balance
    from gpubal.balance.analysis import analyze
    from gpubal.reports.balance import render_balance_terminal

    report = analyze(replay_balance("one-busy"))
    process = dataclasses.replace(report.processes[0], name=known(PROCESS_NAME))
    report = dataclasses.replace(report, processes=(process,))
    buffer = StringIO()
    render_balance_terminal(report, Console(file=buffer, width=200, no_color=True))
    assert "train[/] [link=https://evil.example]x[/link]" in buffer.getvalue()
    assert RAW_CONTROL.search(buffer.getvalue()) is None


# --- topo: GPU names, bus ids and CPU lists come from the host --------------------------------------------


def test_topo_shows_host_text_as_itself(snapshot_file):
    result = RUNNER.invoke(app, ["topo", "--snapshot", str(snapshot_file)])
    assert result.exit_code == 0, (result.exit_code, result.stderr)
    assert RAW_CONTROL.search(result.stdout) is None and "🆎" not in result.stdout
    assert re.search(f"NVIDIA H200 {terminal_form(HOSTILE).pattern}  PCI 00000000:AB:00\\.0", result.stdout)


def test_an_error_line_shows_control_characters_as_escapes(tmp_path):
    result = RUNNER.invoke(app, ["doctor", "--snapshot", str(tmp_path / "\x1b]52;c;QQ==\x07.json")])
    assert result.exit_code == 2
    assert RAW_CONTROL.search(result.stderr) is None and "\\u001b]52;c;QQ==\\u0007.json" in result.stderr


# --- every string fact at once --------------------------------------------------------------------------


def _poison(node):
    """Every string a fact holds (values, list items, mapping values, sources, reasons' details) with the
    hostile text appended; numbers, booleans and enum-like reason codes are left as they are."""
    if isinstance(node, dict):
        poisoned = {}
        for key, value in node.items():
            if key in ("unavailable", "schema_version"):
                poisoned[key] = value
            elif isinstance(value, str) and key in ("value", "source", "detail", "cpu_list", "name", "origin"):
                poisoned[key] = value + HOSTILE
            else:
                poisoned[key] = _poison(value)
        return poisoned
    if isinstance(node, list):
        return [item + HOSTILE if isinstance(item, str) else _poison(item) for item in node]
    return node


@pytest.fixture(scope="module")
def everything_hostile(snapshot_file, tmp_path_factory) -> Path:
    document = _poison(json.loads(snapshot_file.read_text(encoding="utf-8")))
    path = tmp_path_factory.mktemp("everything") / "everything.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.mark.parametrize("output_format", ["terminal", "markdown", "html", "junit", "json"])
def test_every_string_fact_hostile_still_reports_and_passes_nothing_raw(everything_hostile, output_format):
    text = doctor(everything_hostile, "--format", output_format)
    assert RAW_CONTROL.search(text) is None and "🆎" not in text
    if output_format == "terminal":
        assert MARKUP in text


def test_every_string_fact_hostile_topo(everything_hostile):
    result = RUNNER.invoke(app, ["topo", "--snapshot", str(everything_hostile)])
    assert result.exit_code in (0, 1, 2), result.stderr
    assert "internal error" not in result.stderr
    assert RAW_CONTROL.search(result.stdout + result.stderr) is None


def test_topo_never_cuts_a_long_host_value(everything_hostile):
    result = RUNNER.invoke(app, ["topo", "--snapshot", str(everything_hostile)])
    assert "…" not in result.stdout
