"""Helpers every dump parser shares: cleaning a pasted line, and the facts a parser hands to the builder.

A parser reads lines one at a time (`feed`) and is asked for its result once (`finish`); it never holds the
whole input. Its result names, for each fact it read, a path into the snapshot (`("gpu", 0, "name")`),
the value, and the section it came from ("nvidia-smi -q"), so the builder can cite "<file>: nvidia-smi -q".
"""

from __future__ import annotations

import re
from typing import Any, Iterable, List, Optional, Tuple
from ...common.lazy import lazy

# CSI sequences (colours, underline: `\x1b[4m`), OSC sequences, and a stray ESC left by a cut paste
_ANSI = lazy(lambda: re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b"))

FactPath = Tuple[Any, ...]
Observation = Tuple[FactPath, Any, str]  # (path, value, section)


def clean(line: str) -> str:
    """A line without its end-of-line, carriage returns and terminal escapes."""
    if "\x1b" in line:
        line = _ANSI().sub("", line)
    return line.rstrip("\r\n").replace("\r", "")


class Parser:
    """One dump format. Subclasses set `name` (what the user is told was recognised) and `section`."""

    name = ""
    section = ""
    refused = False  # set when the input is refused outright: the whole dump fails, so reading stops

    def feed(self, line: str) -> None:  # pragma: no cover - every parser overrides it
        raise NotImplementedError

    def feed_lines(self, lines: List[str]) -> None:
        """Many lines at once (a read's worth); a parser with a hot loop overrides it to save a call a line."""
        feed = self.feed
        for line in lines:
            feed(line)
            if self.refused:
                return

    def finish(self) -> Any:  # pragma: no cover
        """The parse result: `format_name`, `found` (False when the format was not in the input after
        all), `problems` (why the input is broken: truncated, malformed; one line each) and
        `observations()` for the snapshot builder."""
        raise NotImplementedError


def parse_lines(parser: Parser, lines: Iterable[str]) -> Any:
    """Run one parser over lines (a file object, a list): the tests' and the benchmark's entry point."""
    for line in lines:
        parser.feed(line)
    return parser.finish()


_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "KB": 1000, "MB": 10 ** 6,
          "GB": 10 ** 9, "TB": 10 ** 12}
_SIZE = lazy(lambda: re.compile(r"(?<!\s)\s*(?<![\d.])([\d.]+)\s*([KMGT]i?B|B)\s*"))


def parse_size(text: str) -> int:
    """"12.0 GiB" -> bytes; 0 for an empty or unreadable size."""
    match = _SIZE().fullmatch(text)
    if not match:
        return 0
    try:
        return int(float(match.group(1)) * _UNITS[match.group(2)])
    except ValueError:
        return 0


# What issue pastes wrap around command output: markdown quote markers (`> `, `>> `) and code fences, and
# the shell prompt with the command line (`$ nvidia-smi`, `user@host:~$ nvidia-smi topo -m`, `root@x:/# `).
# A line a user put where they cut a block out of a paste: `...`, `....`, `…`, `[...]`, `<snip>`, `(truncated)`.
# What follows it is not the rest of what the command printed, so a list it interrupts is partial.
ELISION = lazy(lambda: re.compile(
    r"^\s*(?:\.{2,}|…+|\[(?:\.{3}|…|snip\w*)\]|<snip\w*>|\(\s*(?:snip\w*|\.{3}|truncated|cut)[^)]*\))\s*$",
    re.IGNORECASE))


_QUOTE = lazy(lambda: re.compile(r"^[ \t]{0,3}(?:>[ \t]?)+"))
_FENCE = lazy(lambda: re.compile(r"^\s*(?:`{3,}|~{3,})[\w+-]*\s*$"))
_PROMPT = lazy(lambda: re.compile(
    r"^\s*(?:\(\S+\)\s*)?(?:\[[^\]\s]+@[^\]]+\][$#%]|[\w.-]+@[\w.-]+(?::\S*)?\s?[$#%]|~\S*\s?[$#]|"
    r"(?:sh|bash|zsh)(?:-[\d.]+)?[$#]|[$#❯»]|PS [A-Z]:\\[^>]*>|[A-Z]:\\[^>]*>)"
    r"\s*(.*)$"))
_COMMAND = lazy(lambda: re.compile(
    r"^(?:sudo\s+|docker\s+(?:exec|run)\s.*?\s|kubectl\s+exec\s.*?--\s+|watch\s+(?:-n\s*\S+\s+)?)?"
    r"(?:\S*/)?nvidia-smi(?:\.exe)?(?:\s.*)?$"))


def unquote(line: str) -> str:
    """A cleaned line without the markdown quote markers an issue reply puts before it; a code fence
    line becomes empty."""
    if line.lstrip().startswith((">", "`", "~")):
        if _FENCE().match(line):
            return ""
        line = _QUOTE().sub("", line, count=1)
    return line


def command_line(line: str) -> Optional[str]:
    """The command when `line` (cleaned, unquoted) is a pasted shell prompt or an nvidia-smi command line
    on its own (`$ nvidia-smi -q`, `nvidia-smi topo -m`, `root@host:/# `); None for output."""
    match = _PROMPT().match(line)
    if match:
        return match.group(1).strip()
    stripped = line.strip()
    if stripped.startswith(("nvidia-smi", "sudo ", "/usr/bin/nvidia-smi", "docker ", "kubectl ", "watch ")) \
            and _COMMAND().match(stripped):
        return stripped
    return None
