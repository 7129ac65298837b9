"""Host text, shown as itself and nothing more.

A string that came from a host or a paste (a GPU or process name, a log line, a file's contents) may hold
control characters: ESC[2J clears the screen, OSC 8 makes a hidden hyperlink, OSC 52 writes the reader's
clipboard, a carriage return overwrites the line before it, a bidi override reverses what follows. Such
characters never reach a reader raw: `visible` writes each as a `\\u001b`-style escape, which reads
plainly in a terminal, Markdown or HTML and is, inside a JSON string, the very escape JSON decodes back to
the same character (so a report's embedded snapshot still reads back exactly).

The other rewrite to guard against is rich's: it reads `[bold]`/`[link=...]` as markup and `:ab:` as an
emoji (a bus id 0000:ab:00.0 would print as 0000🆎00.0). `safe_console` makes a Console that does
neither and that passes every piece of text it prints through `visible`, so a renderer cannot forget."""

from __future__ import annotations

import re
from typing import Any, Iterable, Optional

# C0 controls except tab and newline, DEL, C1 controls, and the Unicode controls that reorder or hide
# text (bidi embeddings, overrides and isolates; line and paragraph separators).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: "re.Match[str]") -> str:
    return f"\\u{ord(match.group(0)):04x}"


def visible(text: str) -> str:
    """`text` with every control character written as a visible escape (tab and newline kept)."""
    return _CONTROL.sub(_escape, text)


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def safe_console(**options: Any):
    """A rich Console that never reads printed strings as markup or emoji, highlights nothing, and
    writes every character of text through `visible` (rich's own styling is added after, as escapes
    only it makes). Renderers style with Text objects, never with markup strings."""
    from rich.console import Console
    from rich.segment import Segment

    class _SafeConsole(Console):
        def render(self, renderable: Any, options: Optional[Any] = None) -> Iterable[Segment]:
            for segment in _without_trailing_spaces(super().render(renderable, options)):
                if segment.control is None and has_control(segment.text):
                    yield Segment(visible(segment.text), segment.style)
                else:
                    yield segment

    options.setdefault("markup", False)
    options.setdefault("emoji", False)
    options.setdefault("highlight", False)
    return _SafeConsole(**options)


def _without_trailing_spaces(segments: Iterable[Any]) -> Iterable[Any]:
    """The segments with no space or tab left at the end of a line: rich pads wrapped text and table cells
    to the console width, which leaves every such line with a tail of spaces that a diff, a paste or an
    editor shows as noise. Spaces are held back until something other than a line end follows them.
    A host value that itself ends in spaces is quoted by the renderer, so no value loses them here."""
    from rich.segment import Segment

    held: list = []
    for segment in segments:
        if segment.control is not None:
            yield from held
            held = []
            yield segment
            continue
        lines = segment.text.split("\n")
        for number, part in enumerate(lines):
            last = number == len(lines) - 1
            if not last:
                part = part.rstrip(" \t")
                if part:
                    yield from held
                held = []
                yield Segment(part + "\n", segment.style, segment.control)
                continue
            content = part.rstrip(" \t")
            if content:
                yield from held
                held = []
                yield Segment(content, segment.style, segment.control)
            if len(content) < len(part):
                held.append(Segment(part[len(content):], segment.style, segment.control))
    yield from held
