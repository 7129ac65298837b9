"""Open a dump (a file, or `-` for standard input) as a stream of text lines, plain or gzip-compressed
(recognised by its magic bytes, not its name), and refuse what is not text, in one clear line.

Nothing is read whole: the head (64 KiB) is read for detection and then chained in front of the rest.
Input is bounded so that hostile input ends in one clear line within seconds and in little memory: a
line of more than MAX_LINE_CHARS, more than MAX_TEXT_BYTES of text, or a gzip stream that expands more
than MAX_GZIP_RATIO times (past the first MiB; text logs compress 5-20 times, a bomb about 1,000), or
more than MAX_LINES lines (a bomb of empty lines would otherwise keep the parsers busy for minutes).
"""

from __future__ import annotations

import codecs
import gzip
import io
import sys
import zlib
from typing import BinaryIO, Iterator, List, Optional, Tuple

HEAD_BYTES = 64 * 1024
MAX_LINE_CHARS = 1 << 20  # the longest real line (an Ollama offload line) is a few KiB
MAX_TEXT_BYTES = 1 << 30  # a 200 MB Ollama log or an 8-GPU nvidia-bug-report.log fits many times over
MAX_LINES = 3_000_000  # a 200 MB Ollama log has about a million
MAX_GZIP_RATIO = 200
_RATIO_FREE_BYTES = 1 << 20
_COMPRESSED_READ_BYTES = 4096  # small reads, so the ratio is known after a few MiB of a bomb, not 25
_CHUNK_BYTES = 1 << 20
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
        self._counted: Optional[_Counting] = None
        if first == _GZIP_MAGIC:
            self.compressed = True
            self._counted = _Counting(raw)
            stream = gzip.GzipFile(fileobj=self._counted, mode="rb")  # type: ignore[assignment]
        self._stream = stream
        try:
            self._head_bytes = stream.read(HEAD_BYTES)
        except (OSError, EOFError, zlib.error) as error:
            raise InputError(f"{name}: gzip data is corrupt or truncated ({error})") from None
        self.binary = _looks_binary(self._head_bytes)
        self.head = self._head_bytes.decode("utf-8", errors="replace").lstrip("\ufeff")

    def lines(self) -> Iterator[str]:
        """Decoded lines; a corrupt or cut gzip stream raises InputError naming where it broke."""
        for chunk in self.chunks():
            yield from chunk

    def chunks(self) -> Iterator[List[str]]:
        """The decoded lines a read at a time (about a MiB of them), for parsers that take lines in bulk."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        chunk = self._head_bytes
        total = len(chunk)
        # A short read is the end: a terminal gives one empty read per Ctrl-D, so reading on would wait
        # for a second Ctrl-D the user has no reason to press.
        at_end = len(chunk) < HEAD_BYTES
        first = True
        while True:
            text = pending + decoder.decode(chunk, final=not chunk)
            if first:
                text = text.lstrip("\ufeff")
                first = False
            parts = text.split("\n")
            pending = parts.pop()
            if len(text) > MAX_LINE_CHARS:  # only then can a line be too long; a line is never cut
                for number, part in enumerate(parts + [pending], start=self.lines_read + 1):
                    self._check_line(part, number)
            self.lines_read += len(parts)
            if self.lines_read > MAX_LINES:
                raise InputError(f"{self.name}: more than {MAX_LINES:,} lines: not a dump gpubal reads (cut it to "
                                 "the part that matters)")
            if parts:
                yield parts
            if not chunk:
                break
            if at_end:
                chunk = b""
                continue
            try:
                chunk = self._stream.read(_CHUNK_BYTES)
                at_end = len(chunk) < _CHUNK_BYTES
            except (OSError, EOFError, zlib.error) as error:
                raise InputError(f"{self.name}: gzip data is corrupt or truncated after {self.lines_read} lines "
                                 f"({error})") from None
            total += len(chunk)
            self._check_size(total)
        if pending:
            self.lines_read += 1
            yield [pending]

    def _check_line(self, line: str, number: int) -> None:
        if len(line) > MAX_LINE_CHARS:
            raise InputError(f"{self.name}: line {number} is longer than {MAX_LINE_CHARS >> 20} MiB: "
                             "not a text dump gpubal reads")

    def _check_size(self, total: int) -> None:
        if total > MAX_TEXT_BYTES:
            unpacked = " unpacked" if self.compressed else ""
            raise InputError(f"{self.name}: more than {MAX_TEXT_BYTES >> 30} GiB of text{unpacked}: not a dump "
                             "gpubal reads (cut it to the part that matters)")
        if self._counted is not None and total > _RATIO_FREE_BYTES and total > MAX_GZIP_RATIO * self._counted.bytes_read:
            raise InputError(f"{self.name}: gzip data expands more than {MAX_GZIP_RATIO} times (a compression bomb, "
                             "not a log)")

    def close(self) -> None:
        if self._owned:
            self._raw.close()


class _Counting:
    """A binary stream that counts the bytes read through it (the compressed side of a gzip dump)."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self.bytes_read = 0
        self.mode = "rb"

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(_COMPRESSED_READ_BYTES if size < 0 else min(size, _COMPRESSED_READ_BYTES))
        self.bytes_read += len(data)
        return data

    def seek(self, *args: int) -> int:  # GzipFile rewinds only when asked to; kept for its interface
        return self._raw.seek(*args)

    def tell(self) -> int:
        return self._raw.tell()


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
