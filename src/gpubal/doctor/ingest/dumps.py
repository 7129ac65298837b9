"""Reading dumps: recognise each file's formats, parse them, merge the facts into one snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Dict, List, Optional, Sequence

from ...model import Snapshot
from .build import Conflict, DumpFacts, build_snapshot
from .reader import InputError, describe_head, open_dump
from .registry import NAMES, detect, run_parsers


@dataclass
class Ingested:
    snapshot: Snapshot
    conflicts: List[Conflict]
    recognised: Dict[str, List[str]]  # dump name -> formats read from it


def read_dump(name: str, stdin: Optional[BinaryIO] = None) -> DumpFacts:
    """The facts in one dump; InputError (one line, naming the dump) when it is not a dump gpubal reads."""
    dump = open_dump(name, stdin)
    try:
        shown = dump.name
        if not dump.head.strip():
            raise InputError(f"{shown}: empty input: nothing to read")
        if dump.binary:
            kind = "gzip-compressed binary" if dump.compressed else "binary"
            raise InputError(f"{shown}: {kind} data, not a text dump; recognised nothing")
        formats = detect(dump.head)
        if not formats:
            count, first = describe_head(dump.head)
            raise InputError(f"{shown}: unknown format: recognised none of {', '.join(NAMES)} "
                             f"(first line: {first!r})")
        try:
            results = run_parsers(formats, dump.chunks())
        except InputError as error:
            raise InputError(f"{error} (recognised: {', '.join(fmt.name for fmt in formats)})") from None
    finally:
        dump.close()
    read = [result for result in results if result.found]
    names = [result.format_name for result in read]
    for result in results:
        for problem in result.problems:
            raise InputError(f"{shown}: {problem} (recognised: {', '.join(names) or 'nothing'})")
    if not read:
        looked = ", ".join(fmt.name for fmt in formats)
        raise InputError(f"{shown}: looked like {looked}, but no facts could be read from it (truncated or "
                         "mangled?)")
    observations = [observation for result in read for observation in result.observations()]
    return DumpFacts(name=shown, observations=observations, formats=names)


def snapshot_from_dumps(names: Sequence[str], stdin: Optional[BinaryIO] = None) -> Ingested:
    if list(names).count("-") > 1:
        raise InputError("-: standard input can be read only once")
    dumps = [read_dump(name, stdin) for name in names]
    snapshot, conflicts = build_snapshot(dumps)
    return Ingested(snapshot, conflicts, {dump.name: dump.formats for dump in dumps})


__all__ = ["Conflict", "Ingested", "InputError", "read_dump", "snapshot_from_dumps"]
