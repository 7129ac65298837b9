"""The snapshot file: the Snapshot to and from JSON, exactly, and a snapshot found inside a report.

Loading checks every type and fails with one clear `SnapshotError` naming the offending path; the model
itself (gpubal.model) holds only the dataclasses.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import sys
import typing
from typing import Any, Dict, List, Tuple, Union

from .model import NOT_IN_JSON, SCHEMA_VERSION, Known, Reason, Snapshot, Unavailable


class SnapshotError(ValueError):
    """A snapshot file that cannot be read: the message is one line for the user."""


def to_jsonable(obj: Any) -> Any:
    if isinstance(obj, Known):
        return {"value": to_jsonable(obj.value), "source": obj.source}
    if isinstance(obj, Unavailable):
        return {"unavailable": obj.reason.value, "source": obj.source, "detail": obj.detail}
    if isinstance(obj, enum.Enum):
        return obj.value
    if dataclasses.is_dataclass(obj):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not f.metadata.get(NOT_IN_JSON)}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(item) for item in obj]
    if isinstance(obj, dict):
        return {str(key): to_jsonable(value) for key, value in obj.items()}
    return obj


def snapshot_to_json(snapshot: Snapshot) -> str:
    return json.dumps(to_jsonable(snapshot), indent=1, sort_keys=False) + "\n"


# A snapshot is a few levels deep (snapshot > gpus > value > [i] > nvlinks > value > [j] > fact); anything
# much deeper is not one, and Python's own recursion would fail on it with an internal error.
_MAX_DEPTH = 64
# NVML's widest values are unsigned 64-bit; a bigger number is not a reading (10**400 overflows a float).
_MAX_MAGNITUDE = 2**64
_SURROGATE = re.compile("[\ud800-\udfff]")


def _loads(text: str, what: str = "", not_json: str = "not JSON") -> Any:
    """json.loads for a file the user gave: NaN and Infinity, nesting past _MAX_DEPTH, numbers past
    _MAX_MAGNITUDE and lone UTF-16 surrogates (which no UTF-8 output can hold) are SnapshotErrors."""
    def no_constant(name: str) -> Any:
        raise SnapshotError(f"{what}not a gpubal snapshot: {name} is not a value a snapshot holds")

    try:
        data = json.loads(text, parse_constant=no_constant)
    except RecursionError:
        raise SnapshotError(f"{what}not a gpubal snapshot: JSON nested deeper than {_MAX_DEPTH} levels") from None
    except ValueError as error:
        if isinstance(error, SnapshotError):
            raise
        raise SnapshotError(f"{not_json}: {error}") from None
    _check_json_values(data, what)
    return data


def _check_json_values(data: Any, what: str = "") -> None:
    """Depth, number size and surrogates, checked without recursion (the input may be hostile)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise SnapshotError(f"{what}not a gpubal snapshot: JSON nested deeper than {_MAX_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            if _SURROGATE.search(value):
                raise SnapshotError(f"{what}not a gpubal snapshot: a string holds a lone UTF-16 surrogate "
                                    f"({ascii(value[:40])})")
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int) and abs(value) > _MAX_MAGNITUDE:
            raise SnapshotError(f"{what}not a gpubal snapshot: the number {str(value)[:20]}... "
                                f"({len(str(abs(value)))} digits) is larger than any reading")
        elif isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            raise SnapshotError(f"{what}not a gpubal snapshot: {value} is not a value a snapshot holds")


def _check_consistent(snapshot: Snapshot) -> Snapshot:
    """Each GPU index once; each pair names two different listed GPUs, once."""
    gpus, pairs = snapshot.gpus, snapshot.pairs
    indexes = [gpu.index for gpu in gpus.value] if isinstance(gpus, Known) else []
    repeated = sorted({index for index in indexes if indexes.count(index) > 1})
    if repeated:
        raise SnapshotError(f"snapshot.gpus: GPU index {repeated[0]} appears more than once")
    if isinstance(pairs, Known):
        seen = set()
        for number, pair in enumerate(pairs.value):
            key = (min(pair.gpu_a, pair.gpu_b), max(pair.gpu_a, pair.gpu_b))
            if pair.gpu_a == pair.gpu_b or key in seen or (
                    isinstance(gpus, Known) and not {pair.gpu_a, pair.gpu_b} <= set(indexes)):
                raise SnapshotError(f"snapshot.pairs[{number}]: gpu:{pair.gpu_a}-gpu:{pair.gpu_b} is not a pair of "
                                    "two different listed GPUs, or is listed twice")
            seen.add(key)
    return snapshot


def snapshot_from_dict(data: Any) -> Snapshot:
    """A Snapshot from parsed JSON that nobody has checked yet (depth, numbers, surrogates, then types)."""
    _check_json_values(data)
    return _snapshot_from_checked(data)


def _snapshot_from_checked(data: Any) -> Snapshot:
    """A Snapshot from parsed JSON whose values _check_json_values has passed (as _loads does)."""
    if not isinstance(data, dict):
        raise SnapshotError("not a gpubal snapshot: the top level is not a JSON object")
    if "snapshot" in data and "host" not in data:  # a `--format json` report holds one
        data = data["snapshot"]
        if not isinstance(data, dict):
            raise SnapshotError("not a gpubal snapshot: 'snapshot' is not a JSON object")
    version = data.get("schema_version")
    if version is None:
        raise SnapshotError("not a gpubal snapshot: it has no schema_version")
    if version != SCHEMA_VERSION:
        raise SnapshotError(
            f"snapshot schema_version {version!r} is not supported: this gpubal reads version "
            f"{SCHEMA_VERSION}"
        )
    return _check_consistent(_from_jsonable(Snapshot, data, "snapshot"))


MAX_SNAPSHOT_BYTES = 64 * 2**20  # an 8-GPU snapshot is about 150 KB


def snapshot_from_json(text: str) -> Snapshot:
    return _snapshot_from_checked(_loads(text))


# Where Markdown and HTML reports embed their snapshot (gpubal.reports.context writes them): a fenced
# ```json block after a `<!-- gpubal-snapshot ... -->` comment, and a <script type="application/json"
# id="gpubal-snapshot"> element. The JSON in both has <, >, & and ` as \u escapes, so json.loads reads
# the block as it stands.
_HTML_SNAPSHOT = re.compile(r'<script\b[^<>]*\bid="gpubal-snapshot"[^<>]*>([^<]*)</script>')
_MARKDOWN_SNAPSHOT = re.compile(r"<!-- gpubal-snapshot\b[^<>]*-->\s*\n(`{3,}|~{3,})[ \t]*(json|base64)[ \t]*\n"
                                r"((?:(?!\n[`~]{3}).)*)\n\1",
                                re.DOTALL)
_MAX_EMBEDDED_BYTES = 64 * 2**20  # a compressed block never unpacks to more than this


def _decompressed(block: str) -> str:
    """A Markdown report too large for an issue embeds its snapshot as zlib-compressed JSON in base64."""
    import base64
    import binascii
    import zlib

    try:
        packed = base64.b64decode("".join(block.split()), validate=True)
        inflater = zlib.decompressobj()
        data = inflater.decompress(packed, _MAX_EMBEDDED_BYTES)
        if inflater.unconsumed_tail:
            raise SnapshotError("the embedded snapshot unpacks to more than 64 MiB")
        return data.decode("utf-8")
    except (binascii.Error, zlib.error, UnicodeDecodeError) as error:
        raise SnapshotError(f"the embedded snapshot cannot be unpacked (was the report edited?): {error}") from None


def snapshot_from_text(text: str) -> Snapshot:
    """A snapshot from a snapshot file, a JSON report, or a Markdown or HTML report that embeds one."""
    if text.lstrip("\ufeff \t\r\n").startswith(("{", "[")):
        return snapshot_from_json(text)
    if "gpubal-snapshot" not in text:
        if text.lstrip().startswith(("<", "#")):
            raise SnapshotError("not a gpubal snapshot: a Markdown or HTML file without an embedded snapshot "
                                "(the gpubal-snapshot block is missing)")
        return snapshot_from_json(text)
    text = text.replace("\r\n", "\n")
    match = _HTML_SNAPSHOT.search(text)
    if match is None:
        match = _MARKDOWN_SNAPSHOT.search(text)
        body = None if match is None else match.group(3) if match.group(2) == "json" else _decompressed(match.group(3))
    else:
        body = match.group(1)
    if body is None:
        raise SnapshotError("not a gpubal snapshot: neither JSON nor a Markdown or HTML report with an "
                            "embedded snapshot (the gpubal-snapshot block is missing)")
    return _snapshot_from_checked(_loads(body, "the embedded snapshot: ",
                                         "the embedded snapshot is not JSON (was the report edited?)"))


_PRIMITIVES = {int, str, bool, float}


def _from_jsonable(hint: Any, data: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return data
    if origin is Union:
        return _fact_from_jsonable(args, data, path)
    if dataclasses.is_dataclass(hint):
        if not isinstance(data, dict):
            raise SnapshotError(f"{path}: expected an object, got {type(data).__name__}")
        hints = _type_hints(hint)
        values = {}
        for f in dataclasses.fields(hint):
            if f.name not in data:
                if f.default is not dataclasses.MISSING:  # a part with a default: a file without it still loads
                    values[f.name] = f.default
                    continue
                if f.default_factory is not dataclasses.MISSING:
                    values[f.name] = f.default_factory()
                    continue
                raise SnapshotError(f"{path}.{f.name}: missing")
            values[f.name] = _from_jsonable(hints[f.name], data[f.name], f"{path}.{f.name}")
        return hint(**values)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(data)
        except ValueError:
            raise SnapshotError(f"{path}: {data!r} is not one of {[m.value for m in hint]}") from None
    if origin in (list, List):
        if not isinstance(data, list):
            raise SnapshotError(f"{path}: expected a list, got {type(data).__name__}")
        return [_from_jsonable(args[0], item, f"{path}[{i}]") for i, item in enumerate(data)]
    if origin in (tuple, Tuple):
        if not isinstance(data, list):
            raise SnapshotError(f"{path}: expected a list, got {type(data).__name__}")
        return tuple(_from_jsonable(args[0], item, f"{path}[{i}]") for i, item in enumerate(data))
    if origin in (dict, Dict):
        if not isinstance(data, dict):
            raise SnapshotError(f"{path}: expected an object, got {type(data).__name__}")
        return {key: _from_jsonable(args[1], value, f"{path}.{key}") for key, value in data.items()}
    if hint in _PRIMITIVES:
        # bool is an int in Python; a snapshot with true where a count belongs is still wrong
        if type(data) is not hint and not (hint is float and type(data) is int):
            raise SnapshotError(f"{path}: expected {hint.__name__}, got {type(data).__name__}")
        return data
    raise SnapshotError(f"{path}: cannot read type {hint!r}")  # pragma: no cover - a model bug


def _fact_from_jsonable(union_args: Tuple[Any, ...], data: Any, path: str) -> Any:
    if type(None) in union_args:  # Optional[...] is not used in the snapshot
        raise SnapshotError(f"{path}: optional values are not part of the schema")  # pragma: no cover
    if not isinstance(data, dict):
        raise SnapshotError(f"{path}: expected a fact object, got {type(data).__name__}")
    if "unavailable" in data:
        try:
            reason = Reason(data["unavailable"])
        except ValueError:
            raise SnapshotError(f"{path}: unknown reason {data['unavailable']!r}") from None
        source, detail = data.get("source", ""), data.get("detail", "")
        if not isinstance(source, str) or not isinstance(detail, str):
            raise SnapshotError(f"{path}: source and detail must be strings")
        return Unavailable(reason, source, detail)
    if "value" not in data or not isinstance(data.get("source"), str):
        raise SnapshotError(f"{path}: a fact needs 'value' and 'source', or 'unavailable'")
    known_hint = next(arg for arg in union_args if typing.get_origin(arg) is Known)
    (value_hint,) = typing.get_args(known_hint)
    return Known(_from_jsonable(value_hint, data["value"], path), data["source"])


_HINTS_CACHE: Dict[type, Dict[str, Any]] = {}


def _type_hints(cls: type) -> Dict[str, Any]:
    if cls not in _HINTS_CACHE:
        _HINTS_CACHE[cls] = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
    return _HINTS_CACHE[cls]
