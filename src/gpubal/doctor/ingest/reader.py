"""Open a dump (a file, or `-` for standard input) as a stream of text lines, plain or gzip-compressed
(recognised by its magic bytes, not its name), and refuse what is not text, in one clear line.

Nothing is read whole: the head (64 KiB) is read for detection and then chained in front of the rest.
"""

from __future__ import annotations

import codecs
import gzip
import io
import sys
import zlib
from typing import BinaryIO, Iterator, Optional, Tuple

HEAD_BYTES = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


class InputError(ValueError):
    """A dump that cannot be read; the message is one line naming the file."""


class Dump:
    """An open dump: `head` (decoded text, for detection) and `lines()` (all lines, the head included)."""

    def __init__(self, name: str, raw: BinaryIO, owned: bool):
        self.name = name
        self._raw = raw
        self._owned = owned
        self.compressed = False
        self.lines_read = 0
        stream: BinaryIO = raw
        first = _peek(raw, 2)
        if first == _GZIP_MAGIC:
            self.compressed = True
            stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        self._stream = stream
        try:
            self._head_bytes = stream.read(HEAD_BYTES)
        except (OSError, EOFError, zlib.error) as error:
            raise InputError(f"{name}: gzip data is corrupt or truncated ({error})") from None
        self.binary = _looks_binary(self._head_bytes)
        self.head = self._head_bytes.decode("utf-8", errors="replace").lstrip("\ufeff")

    def lines(self) -> Iterator[str]:
        """Decoded lines; a corrupt or cut gzip stream raises InputError naming where it broke."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        chunk = self._head_bytes
        first = True
        while True:
            text = pending + decoder.decode(chunk, final=not chunk)
            if first:
                text = text.lstrip("\ufeff")
                first = False
            parts = text.split("\n")
            pending = parts.pop()
            self.lines_read += len(parts)
            for part in parts:
                yield part
            if not chunk:
                break
            try:
                chunk = self._stream.read(1 << 20)
            except (OSError, EOFError, zlib.error) as error:
                raise InputError(f"{self.name}: gzip data is corrupt or truncated after {self.lines_read} lines "
                                 f"({error})") from None
        if pending:
            self.lines_read += 1
            yield pending

    def close(self) -> None:
        if self._owned:
            self._raw.close()


def _peek(raw: BinaryIO, size: int) -> bytes:
    if hasattr(raw, "peek"):
        return raw.peek(size)[:size]  # type: ignore[attr-defined]
    return b""  # pragma: no cover - open() and sys.stdin.buffer are buffered


def _looks_binary(data: bytes) -> bool:
    if not data:
        return False
    if b"\x00" in data[:8192]:
        return True
    sample = data[:8192]
    text = sample.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\x0c\x1b")
    return (bad + controls) > max(8, len(text) // 10)


def open_dump(name: str, stdin: Optional[BinaryIO] = None) -> Dump:
    if name == "-":
        raw = stdin if stdin is not None else sys.stdin.buffer
        return Dump("<stdin>", io.BufferedReader(raw) if not hasattr(raw, "peek") else raw, owned=False)  # type: ignore[arg-type]
    try:
        handle = open(name, "rb")
    except OSError as error:
        raise InputError(f"{name}: cannot read: {error.strerror or error}") from None
    try:
        return Dump(name, handle, owned=True)
    except BaseException:
        handle.close()
        raise


def describe_head(head: str) -> Tuple[int, str]:
    """How many lines the head has and its first non-blank line, cut short: for 'unknown format' messages."""
    lines = [line for line in head.splitlines() if line.strip()]
    first = lines[0].strip()[:60] if lines else ""
    return len(lines), first
