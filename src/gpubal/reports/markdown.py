"""The Markdown report: ready to paste into a GitHub or GitLab issue.

A one-line verdict, a findings table, each finding with its evidence and fix, the topology matrix,
versions, every fact folded in <details>, and the snapshot embedded as a JSON block that
`gpubal doctor --snapshot report.md` reads back.

Everything that came from the host is text, never markup: prose is escaped character by character
(`<` as `&lt;`, Markdown punctuation with a backslash) and values sit in code spans, so a hostname or a
log line like `<script>alert(1)</script>` shows as written and runs nowhere.

`summary=True` leaves out the facts and the snapshot: the short form for GITHUB_STEP_SUMMARY.
"""

from __future__ import annotations

import re
from typing import Any

from ..model import Report
from .context import SNAPSHOT_MARKER, build_context
from . import words
from ..common.redact import redact_report
from .visible import visible

# GitHub rejects an issue body longer than this; a report that would not fit says so at its end.
GITHUB_ISSUE_LIMIT_CHARS = 65536

# Backslash, code, emphasis, strike-through, link brackets and table pipes; `_` only where it could
# open or close emphasis (GFM never reads an underscore between two letters as emphasis), so
# NVML_ERROR_NOT_FOUND stays readable in the raw text. Parentheses, # and + are harmless where gpubal
# puts text (never at the start of a line, never after a link bracket, which is escaped).
_PROSE_SPECIALS = re.compile(r"[\\`*\[\]|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def _one_line(value: Any) -> str:
    """The value's text on one line with every other character kept: repeated spaces and tabs stay as
    the host wrote them, and a line break (which would end a table row or a code span) is written as
    the same visible `\\u000a` escape `visible` gives other control characters."""
    return str(value).replace("\r\n", "\\u000d\\u000a").replace("\n", "\\u000a")


def md_text(value: Any) -> str:
    """Free text as Markdown prose (one line; table-safe). The source holds the text exactly: spaces and
    tabs are kept (a browser shows a run of them as one in prose, which is why values a reader may
    copy, such as facts and process command lines, sit in code spans instead)."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _one_line(_PROSE_SPECIALS.sub(lambda m: "\\" + m.group(0), text))


def md_code(value: Any, in_table: bool = False) -> str:
    """A value in a code span: no Markdown or HTML inside it is interpreted, and its spaces and tabs are
    kept (GFM keeps them inside a code span; GitHub shows them with `white-space: break-spaces`).

    CommonMark strips one space from each end of a code span whose text begins and ends with a space,
    so such text (and text holding backticks, which needs a space between it and the fence) gets one
    padding space on each side: what a renderer strips is the padding, never the host's own spaces.
    In a table cell each `|` is written `\\|`, the escape GFM documents for a pipe in a cell; GFM
    removes exactly one backslash before each pipe, so the cell reads back as the host's text (a host's
    own `\\|` is written `\\\\|` and reads back as `\\|`)."""
    text = _one_line(value)
    if not text:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    spaced_ends = text.startswith(" ") and text.endswith(" ") and text.strip(" ") != ""
    padded = f" {text} " if longest or spaced_ends else text
    if in_table:  # GFM splits table cells at | even inside code spans; \| is the escape it documents
        padded = padded.replace("|", "\\|")
    return f"{fence}{padded}{fence}"


def md_cell(value: Any) -> str:
    return md_code(value, in_table=True)


def md_fence(lines: Any) -> str:
    """A fenced code block longer than any backtick run in its lines, so nothing inside can close it."""
    body = "\n".join(" ".join(str(line).split("\n")) for line in lines)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}sh\n{body}\n{fence}"


def _environment() -> Any:
    import jinja2  # imported when a template is rendered, not when gpubal starts

    env = jinja2.Environment(loader=jinja2.PackageLoader("gpubal.reports", "templates"), autoescape=False,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(md=md_text, code=md_code, cell=md_cell, fence=md_fence, words=words.value)
    return env


def render_markdown(report: Report, redact: bool = True, summary: bool = False) -> str:
    """The report as Markdown. It aims to fit a GitHub issue (65,536 characters): when the readable
    snapshot would not fit, the snapshot is embedded zlib-compressed in base64 (an 8-GPU HGX snapshot is
    95 kB as JSON, 5 kB so), and when the facts table still would not fit it is left out (every fact is in
    the snapshot, and the HTML report lists them all)."""
    shown = redact_report(report, redact)
    context = build_context(shown, redacted=redact, collapse_links=True, with_facts=not summary)
    template = _environment().get_template("report.md.j2")

    def render(compressed: bool, with_facts: bool) -> str:
        block = _compressed(context.snapshot_json) if compressed else context.snapshot_json
        text = template.render(c=context, summary=summary, marker=SNAPSHOT_MARKER, with_facts=with_facts,
                               snapshot_lang="base64" if compressed else "json", snapshot_block=block)
        return re.sub(r"\n{3,}", "\n\n", text)

    text = render(compressed=False, with_facts=True)
    if not summary and len(text) > GITHUB_ISSUE_LIMIT_CHARS:
        text = render(compressed=True, with_facts=True)
        if len(text) > GITHUB_ISSUE_LIMIT_CHARS:
            text = render(compressed=True, with_facts=False)
    if len(text) > GITHUB_ISSUE_LIMIT_CHARS:
        text += (f"\n> This report is {len(text):,} characters, more than the {GITHUB_ISSUE_LIMIT_CHARS:,} a GitHub "
                 f"issue takes: attach the file instead of pasting it.\n")
    # control characters in host text show as \u escapes (valid JSON escapes inside the snapshot too)
    return visible(text)


def _compressed(snapshot_json: str) -> str:
    """zlib, then base64 in lines of 100: what gpubal.snapshot_file.snapshot_from_text decodes."""
    import base64
    import zlib

    encoded = base64.b64encode(zlib.compress(snapshot_json.encode("utf-8"), 9)).decode("ascii")
    return "\n".join(encoded[i:i + 100] for i in range(0, len(encoded), 100))
