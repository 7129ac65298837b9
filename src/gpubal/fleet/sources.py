"""Where a fleet's reports come from: directories (every *.json below them), files, tarballs, globs and a
stream of JSON documents on standard input. Each input is read and digested one at a time, so memory holds
one report at most, whatever the number of hosts.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import tarfile
from typing import IO, Any, Callable, Iterable, Iterator, List, Optional, Union

from ..model import record
from ..common.bounded import parse_json_bounded  # depth and size bounds: another host's report is untrusted
from ..snapshot_file import MAX_SNAPSHOT_BYTES
from .digest import DigestError, HostDigest, digest_document

TARBALL_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2")
_GLOB_CHARACTERS = set("*?[")


class SourceError(ValueError):
    """An input that names nothing readable (a missing path, a glob matching nothing): exit 2."""


@record
class Unreadable:
    source: str
    reason: str


Read = Union[HostDigest, Unreadable]


def expand(inputs: List[str]) -> List[str]:
    """The inputs as given, globs expanded; a name that matches nothing is an error before any reading."""
    expanded: List[str] = []
    for name in inputs:
        if name == "-" or os.path.exists(name):
            expanded.append(name)
        elif _GLOB_CHARACTERS & set(name):
            matches = sorted(glob.glob(name, recursive=True))
            if not matches:
                raise SourceError(f"no file matches {name}")
            expanded.extend(matches)
        else:
            raise SourceError(f"no such file or directory: {name}")
    return expanded


def default_jobs() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def read_all(inputs: List[str], stdin: Optional[IO[str]] = None, jobs: int = 1) -> Iterator[Read]:
    """Every input's digest (or why it could not be read), in the order the inputs name them. With jobs > 1,
    files and tarball members are parsed by that many processes, a bounded batch at a time."""
    names = expand(inputs)
    with _Workers(jobs) as workers:
        files: List[Any] = []  # plain files in a row (a glob's matches) go to the workers together
        for name in names:
            plain = name != "-" and not os.path.isdir(name) and not name.endswith(TARBALL_SUFFIXES + (".jsonl",))
            if plain:
                files.append((name, _source_name(os.path.basename(name))))
                continue
            if files:
                yield from workers.map(_read_file_task, files)
                files = []
            if name == "-":
                yield from read_stream(stdin if stdin is not None else sys.stdin, "stdin")
            elif os.path.isdir(name):
                yield from workers.map(_read_file_task, ((path, _source_name(os.path.relpath(path, name)))
                                                         for path in _json_files(name)))
            elif name.endswith(TARBALL_SUFFIXES):
                yield from workers.map(_digest_bytes_task, read_tarball_members(name))
            else:
                try:
                    with open(name, encoding="utf-8") as stream:
                        yield from read_stream(stream, name)
                except (OSError, UnicodeDecodeError) as error:
                    yield Unreadable(name, _why(error))
        if files:
            yield from workers.map(_read_file_task, files)


def _json_files(directory: str) -> Iterator[str]:
    for root, directories, files in os.walk(directory):
        directories.sort()
        for file_name in sorted(files):
            if file_name.endswith(".json") and not file_name.startswith("."):
                yield os.path.join(root, file_name)


def _source_name(path: str) -> str:
    """A report's name from its file: `racks/a/node07.json` -> `racks/a/node07`."""
    for suffix in (".json", ".md", ".html"):
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


def _why(error: Exception) -> str:
    if isinstance(error, OSError):
        return error.strerror or str(error)
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(error)


def read_file(path: str, source_name: str) -> Read:
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as error:
        return Unreadable(path, _why(error))
    return digest_bytes(data, path, source_name)


def _json_loader() -> Callable[[bytes], Any]:
    """orjson parses a report in about half the time of the standard library, where it is installed
    (`pip install 'gpubal[fast]'`); both read the same JSON to the same values."""
    try:
        import orjson

        return orjson.loads
    except ImportError:
        return json.loads


_loads = _json_loader()


def digest_bytes(data: bytes, source: str, source_name: str) -> Read:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    head = data[:64].lstrip()
    try:
        if head.startswith((b"<", b"#")):  # a Markdown or HTML report carries its snapshot
            return _digest_embedded(data.decode("utf-8"), source, source_name)
        return digest_document(parse_json_bounded(_loads, data, MAX_SNAPSHOT_BYTES), source, source_name)
    except UnicodeDecodeError:
        return Unreadable(source, "not UTF-8 text")
    except ValueError as error:  # DigestError and both parsers' JSON errors alike
        message = str(error) if isinstance(error, DigestError) else f"not JSON: {error}"
        return Unreadable(source, message)


def _digest_embedded(text: str, source: str, source_name: str) -> Read:
    from ..snapshot_file import SnapshotError, snapshot_from_text, to_jsonable

    try:
        snapshot = snapshot_from_text(text)
    except SnapshotError as error:
        return Unreadable(source, str(error))
    return digest_document(to_jsonable(snapshot), source, source_name)


def read_tarball_members(path: str) -> Iterator[Any]:
    """(bytes, source, name) per *.json member, in the order the archive holds them, read as a stream: a
    compressed tarball is never unpacked to disk or held whole in memory. An Unreadable when it breaks."""
    try:
        with tarfile.open(path, mode="r|*") as archive:
            for member in archive:
                if not member.isfile() or not member.name.endswith(".json"):
                    continue
                stream = archive.extractfile(member)
                if stream is None:
                    continue
                name = member.name[2:] if member.name.startswith("./") else member.name
                yield (stream.read(), f"{path}:{name}", _source_name(name))
    except (OSError, tarfile.TarError, EOFError) as error:
        yield Unreadable(path, f"not a readable tarball: {_why(error)}")


def _read_file_task(task: Any) -> Read:
    return read_file(*task)


def _digest_bytes_task(task: Any) -> Read:
    return task if isinstance(task, Unreadable) else digest_bytes(*task)


BATCH = 256  # tasks handed to the workers at once; two batches at most wait in memory (a tarball's members)


class _Workers:
    """A process pool used in bounded batches, or plain calls in this process when jobs is 1. Order is kept.
    The workers parse the next batch while this process takes in the results of the one before."""

    def __init__(self, jobs: int):
        self.jobs = jobs
        self._pool: Any = None

    def __enter__(self) -> "_Workers":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()

    def map(self, function: Callable[[Any], Read], tasks: Iterable[Any]) -> Iterator[Read]:
        if self.jobs <= 1:
            for task in tasks:
                yield function(task)
            return
        pending: Optional[Callable[[], List[Read]]] = None
        batch: List[Any] = []
        for task in tasks:
            batch.append(task)
            if len(batch) >= BATCH:
                submitted = self._submit(function, batch)
                if pending is not None:
                    yield from pending()
                pending, batch = submitted, []
        submitted = self._submit(function, batch) if batch else None
        if pending is not None:
            yield from pending()
        if submitted is not None:
            yield from submitted()

    def _submit(self, function: Callable[[Any], Read], batch: List[Any]) -> Callable[[], List[Read]]:
        """The batch started on the workers; calling the answer waits for its results, in order."""
        if len(batch) < 8:  # not worth a pool
            return lambda: [function(task) for task in batch]
        if self._pool is None:
            import multiprocessing

            self._pool = multiprocessing.get_context(start_method()).Pool(self.jobs)
        return self._pool.map_async(function, batch, chunksize=max(1, len(batch) // (self.jobs * 4))).get


def start_method() -> str:
    """How the workers are started: forked on Linux (the fastest; `gpubal fleet` has one thread when it
    starts them), but from a fork server where other threads run, since a fork copies whatever lock one of
    them held at that moment and the child can wait on it forever (Python 3.12 warns of it); spawned
    elsewhere."""
    import threading

    if not sys.platform.startswith("linux"):
        return "spawn"
    return "fork" if threading.active_count() == 1 else "forkserver"


def read_stream(stream: IO[str], label: str) -> Iterator[Read]:
    """JSON documents one after another: one per line (JSON lines), or pretty-printed ones each ending with a
    `}` alone on a line, as `gpubal doctor --format json` writes them."""
    lines: List[str] = []
    first_line = 0
    number = 0
    while True:
        try:
            line = stream.readline()
        except UnicodeDecodeError:
            yield Unreadable(f"{label}:{number + 1}", "not UTF-8 text")
            return
        if not line:
            break
        number += 1
        if not lines:
            if not line.strip():
                continue
            first_line = number
        lines.append(line)
        stripped = line.rstrip("\r\n")
        single = len(lines) == 1 and stripped.startswith("{") and stripped.rstrip().endswith("}")
        if single or stripped == "}" or (len(lines) == 1 and not stripped.lstrip().startswith("{")):
            source = f"{label}:{first_line}"
            yield _digest_text("".join(lines), source)
            lines = []
    if lines:
        yield Unreadable(f"{label}:{first_line}", "the input ended inside a JSON document")


def _digest_text(text: str, source: str) -> Read:
    try:
        return digest_document(parse_json_bounded(json.loads, text, MAX_SNAPSHOT_BYTES), source, source)
    except ValueError as error:
        message = str(error) if isinstance(error, DigestError) else f"not JSON: {error}"
        return Unreadable(source, message)
