"""Where a command's report goes: the table of renderers of each command (format name -> renderer) and of
file extensions (-o report.md -> markdown), each -o with its format, standard output or a file, rich's
console laid out for a file or a terminal, and the exit status a report earns.

Renderers are named here as "module:function" under gpubal and imported only when used, so a command
pays for the one format it prints. A renderer returns text, or a Page (reports/page.py: written as plain
text without rich, drawn by rich on a colour terminal), or draws on a rich console (`Renderer.draws`):
the console is laid out here, for a colour terminal or for plain text."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple

from .sources import InputError

EXIT_OK = 0
EXIT_FINDINGS = 1  # findings at or above --fail-on
EXIT_BAD_INPUT = 2  # bad option, unreadable snapshot or profile (typer's usage errors use 2 as well)
EXIT_INTERNAL = 3  # a bug in gpubal

PLAIN_WIDTH = 100  # plain text (a file, a pipe, NO_COLOR) is laid out for 100 columns, as the goldens are


class Renderer(NamedTuple):
    function: str  # "module:function" under gpubal
    draws: bool = False  # draws on a rich console (else returns text)
    needs: Tuple[str, ...] = ()  # modules under gpubal the function imports when it runs
    pages: bool = False  # returns a reports.page.Page

    def prepare(self, output: Optional[Path] = None) -> None:
        """Import what rendering will need, ahead: on a live host this overlaps the wait for NVML. rich's
        console only where it will draw: a Page written as plain text does not need it."""
        from importlib import import_module

        for module in (self.function.split(":")[0],) + self.needs + (("reports.visible",) if self.draws else ()):
            import_module(f"gpubal.{module}")
        if self.draws or (self.pages and colour_terminal(output)):
            import_module("rich.console")

    def render(self, report: Any, output: Optional[Path], *arguments: Any) -> str:
        """The text to write to `output`: "" when it was drawn on the colour terminal already."""
        module, name = self.function.split(":")
        from importlib import import_module

        function = getattr(import_module(f"gpubal.{module}"), name)
        if self.pages:
            return page_text(function(report, *arguments), output)
        if self.draws:
            return console_text(lambda console: function(report, console, *arguments), output)
        return function(report, *arguments)


# Each command's formats, in the order --help lists them; the first is the default.
DOCTOR_RENDERERS: Dict[str, Renderer] = {
    "terminal": Renderer("outputs:doctor_terminal", needs=("common.redact", "reports.terminal"), pages=True),
    "json": Renderer("outputs:doctor_json", False, ("common.redact", "reports.json_report")),
    "markdown": Renderer("outputs:doctor_markdown", False, ("reports.markdown",)),
    "html": Renderer("outputs:doctor_html", False, ("reports.html",)),
    "junit": Renderer("outputs:doctor_junit", False, ("reports.junit",)),
}
TOPO_RENDERERS = {"terminal": Renderer("reports.topo:topo_page", pages=True),
                  "json": Renderer("reports.topo:render_topo_json")}
BALANCE_RENDERERS = {"terminal": Renderer("reports.balance:render_balance_terminal", draws=True),
                     "json": Renderer("reports.balance:render_balance_json"),
                     "markdown": Renderer("reports.balance:render_balance_markdown"),
                     "html": Renderer("reports.balance:render_balance_html")}
FLEET_RENDERERS = {"terminal": Renderer("reports.fleet:render_fleet_terminal", draws=True),
                   "json": Renderer("reports.fleet:render_fleet_json"),
                   "markdown": Renderer("reports.fleet:render_fleet_markdown"),
                   "html": Renderer("reports.fleet:render_fleet_html")}

# -o FILE picks the format from the file's extension unless --format is given
FORMAT_BY_EXTENSION = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html", ".xml": "junit",
                       ".json": "json", ".txt": "terminal"}
TOPO_FORMAT_BY_EXTENSION = {".json": "json", ".txt": "terminal"}
FLEET_FORMAT_BY_EXTENSION = {ext: name for ext, name in FORMAT_BY_EXTENSION.items() if name in FLEET_RENDERERS}
BALANCE_FORMAT_BY_EXTENSION = {ext: name for ext, name in FORMAT_BY_EXTENSION.items() if name in BALANCE_RENDERERS}
# Markdown and HTML are made to be shared (issues, mail): they hide the host's identity unless --no-redact
REDACTED_BY_DEFAULT = ("markdown", "html")


def doctor_terminal(report: Any, redact: bool, verbose: bool) -> Any:
    from .common.redact import redact_report
    from .reports.terminal import terminal_page

    return terminal_page(redact_report(report, redact), verbose=verbose)


def doctor_json(report: Any, redact: bool, verbose: bool) -> str:
    from .common.redact import redact_report
    from .reports.json_report import render_json

    return render_json(redact_report(report, redact))


def doctor_markdown(report: Any, redact: bool, verbose: bool) -> str:
    from .reports.markdown import render_markdown

    return render_markdown(report, redact=redact)


def doctor_html(report: Any, redact: bool, verbose: bool) -> str:
    from .reports.html import render_html

    return render_html(report, redact=redact)


def doctor_junit(report: Any, redact: bool, verbose: bool) -> str:
    from .reports.junit import render_junit

    return render_junit(report, redact=redact)


def at_least(severity: str, fail_on: str) -> bool:
    """Whether a finding of `severity` fails a run with --fail-on `fail_on` ("never" fails none)."""
    from .model import Severity

    return fail_on != "never" and Severity(severity).rank >= Severity(fail_on).rank


def exit_code(report: Any, fail_on: str) -> int:
    """1 when the report's worst finding is at least `fail_on` (error, warning, info; never: 0)."""
    worst = report.worst_severity()
    return EXIT_FINDINGS if worst is not None and at_least(worst, fail_on) else EXIT_OK


def is_stdout(output: Optional[Path]) -> bool:
    return output is None or str(output) == "-"


def write(text: str, output: Optional[Path]) -> None:
    """The one place output leaves gpubal: standard output for None or `-`, else the named file."""
    if is_stdout(output):
        sys.stdout.write(text)
        return
    from .output_file import write_text_file

    try:
        write_text_file(output, text)
    except OSError as error:
        raise InputError(f"cannot write {output}: {error.strerror or error}")


def prepare(renderers: Mapping[str, Renderer], targets: List[Tuple[Optional[Path], str]]) -> None:
    for output, chosen in targets:
        renderers[chosen].prepare(output)


def render_to(renderers: Mapping[str, Renderer], targets: List[Tuple[Optional[Path], str]], report: Any,
              *arguments: Any) -> None:
    for output, chosen in targets:
        write(renderers[chosen].render(report, output, *arguments), output)


def targets(outputs: Optional[List[Path]], chosen: Optional[str], by_extension: Mapping[str, str],
            default: str) -> List[Tuple[Optional[Path], str]]:
    """Each -o with its format: --format when given, else the file's extension (an extension gpubal cannot
    name is an error, not a silent fallback); `-` and no -o at all mean standard output."""
    if not outputs:
        return [(None, chosen or default)]
    found_targets: List[Tuple[Optional[Path], str]] = []
    for output in outputs:
        if is_stdout(output) or chosen is not None:
            found_targets.append((None if is_stdout(output) else output, chosen or default))
            continue
        found = by_extension.get(output.suffix.lower())
        if found is None and output.exists() and not output.is_file() and not output.is_dir():
            found = default  # a device or a pipe (-o /dev/null, -o /dev/stderr) has no extension to read
        if found is None:
            known = " ".join(sorted({ext for ext in by_extension}))
            raise InputError(f"cannot tell the format of {output} from its extension (known: {known}); "
                             "name the file so, or give --format")
        found_targets.append((output, found))
    return found_targets


def colour_terminal(output: Optional[Path]) -> bool:
    """Whether `output` gets colour: a file never does, whatever FORCE_COLOR says; standard output does on
    a terminal, or when FORCE_COLOR asks for it (rich reads it), unless NO_COLOR is set."""
    colour_wanted = sys.stdout.isatty() or bool(os.environ.get("FORCE_COLOR"))
    return is_stdout(output) and colour_wanted and "NO_COLOR" not in os.environ


def page_text(page: Any, output: Optional[Path]) -> str:
    """A Page as plain text for PLAIN_WIDTH columns, written without rich unless a block needs rich's
    layout; drawn by rich with colour when `output` is a colour terminal (then "")."""
    if not colour_terminal(output):
        text = page.plain(PLAIN_WIDTH)
        if text is not None:
            return text
    return console_text(page.draw, output)


def console_text(render: Callable[[Any], None], output: Optional[Path]) -> str:
    """What a rich renderer prints, laid out for PLAIN_WIDTH unless stdout is a colour terminal (then "")."""
    import io

    from .reports.visible import safe_console

    if colour_terminal(output):
        render(safe_console())
        return ""
    buffer = io.StringIO()
    render(safe_console(file=buffer, width=PLAIN_WIDTH, no_color=True, color_system=None, force_terminal=False))
    return buffer.getvalue()
