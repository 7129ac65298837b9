"""Parsing bytes gpubal did not write (a server on port 11434, a snapshot, an NVML profile, a policy file)
with a bound on size and nesting, and an error of its own when a bound is passed.

Python's json and tomllib parsers recurse once per nesting level: 2,000 bytes of `[[[[` raise
RecursionError, which is not a ValueError and escaped every caller. Real documents are shallow (a
snapshot nests about 10 levels, Ollama's answers 4, a policy 3), so 64 levels is far above any of them
and far below the interpreter's limit, for the parsers and for gpubal's own recursive walks after them.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Union

MAX_DEPTH = 64


class TooLarge(ValueError):
    """The input passes a size or nesting bound: refused, not parsed."""


def loads_json(text: str, max_bytes: int) -> Any:
    """json.loads with bounds; ValueError (TooLarge included) for anything that is not acceptable JSON."""
    return parse_bounded(json.loads, text, max_bytes)


def check_size(length: int, max_bytes: int) -> None:
    if length > max_bytes:
        raise TooLarge(f"larger than {_size(max_bytes)}")


def parse_bounded(parse: Callable[[str], Any], text: str, max_bytes: int) -> Any:
    """parse(text) (json.loads, tomllib.loads) refused with TooLarge past max_bytes or MAX_DEPTH."""
    data = _parse_sized(parse, text, max_bytes)
    check_depth(data)
    return data


def parse_json_bounded(parse: Callable[[Any], Any], text: Union[str, bytes], max_bytes: int) -> Any:
    """parse_bounded for JSON (json.loads, orjson.loads), with the nesting measured on the text instead of
    by walking the parsed values: the same verdict, in about a third of the time on a 170 KB report, which
    is what `gpubal fleet` spends most of its time on over thousands of them."""
    data = _parse_sized(parse, text, max_bytes)
    if json_nesting_exceeds(text, MAX_DEPTH):
        raise TooLarge(f"nested deeper than {MAX_DEPTH} levels")
    return data


def _parse_sized(parse: Callable[[Any], Any], text: Union[str, bytes], max_bytes: int) -> Any:
    check_size(len(text), max_bytes)  # characters: at most the byte count, so never over-strict
    try:
        data = parse(text)
    except RecursionError:
        raise TooLarge(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:
        # Whether a parser refuses deep input, and how, depends on the parser and the Python: 3.13's json
        # reads 2,000 unclosed `[` to the end ("Expecting value"), orjson stops at 1,024 levels with its
        # own words. Input nested past the bound before the point of failure is refused for that reason,
        # the same way everywhere.
        failed_at = getattr(error, "pos", None)
        if nests_deeper(text if failed_at is None else text[:failed_at + 1], MAX_DEPTH):
            raise TooLarge(f"nested deeper than {MAX_DEPTH} levels") from None
        raise
    return data


# A JSON string (closed or cut off) or one bracket: strings are skipped whole, so brackets inside them do
# not count. The two branches of the string body start with different characters: linear.
_TOKEN_TEXT = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')
_TOKEN_BYTES = re.compile(rb'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


def nests_deeper(text: Union[str, bytes], max_depth: int) -> bool:
    """True when JSON text opens more than max_depth lists or mappings at once; stops as soon as it does."""
    depth = 0
    pattern = _TOKEN_BYTES if isinstance(text, bytes) else _TOKEN_TEXT
    openers = ("[", "{", b"[", b"{")
    for token in pattern.finditer(text):
        found = token.group()
        if found in openers:
            depth += 1
            if depth > max_depth:
                return True
        elif found in ("]", "}", b"]", b"}"):
            depth -= 1
    return False


_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")
_NOT_BRACKET_OR_QUOTE = bytes(byte for byte in range(256) if byte not in b'[]{}"')


def json_nesting_exceeds(text: Union[str, bytes], max_depth: int) -> bool:
    """Whether JSON text that parsed opens more than max_depth lists or mappings at once. Every step runs in
    C: drop escapes (so an escaped quote ends no string), keep only brackets and quotes, drop the strings
    (an even count of quotes before a character means it is outside every string; dropping two adjacent
    quotes first keeps that count's parity for all the rest), then strip innermost pairs, one level a pass.
    Only for text a JSON parser accepted: on broken JSON the count means nothing."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if b"\\" in data:
        data = _ESCAPE.sub(b"", data)
    data = data.translate(None, _NOT_BRACKET_OR_QUOTE).replace(b'""', b"")
    if b'"' in data:
        data = b"".join(data.split(b'"')[0::2])
    # bytes.replace is several times faster than a regex pass, but one pass of both may strip two levels
    # (`{[]}`): when that empties the text within max_depth / 2 passes, it is no deeper than max_depth
    shallow = data
    for _ in range(max_depth // 2):
        if not shallow:
            return False
        shallow = shallow.replace(b"[]", b"").replace(b"{}", b"")
    for _ in range(max_depth):  # exact: one level a pass
        if not data:
            return False
        data = _EMPTY_PAIR.sub(b"", data)
    return bool(data)


def check_depth(data: Any, max_depth: int = MAX_DEPTH) -> None:
    """TooLarge when lists and mappings nest deeper than max_depth; iterative, so itself bounded."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > max_depth:
            raise TooLarge(f"nested deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def _size(count: int) -> str:
    return f"{count >> 20} MiB" if count >= 1 << 20 else f"{count >> 10} KiB" if count >= 1 << 10 else f"{count} bytes"
