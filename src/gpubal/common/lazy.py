"""Regexes compiled on first use. A module imported on every start (the live collection, redaction) may
hold patterns that a run never needs: a pasted dump's parser, a secret shape no string hints at. Compiled
at import they cost milliseconds of every `gpubal doctor` start; wrapped here, each costs nothing until used.

    _UUID = lazy(lambda: re.compile(r"GPU-[0-9a-f-]+"))
    _UUID().sub(...)

The `re.compile` call stays in the source as a literal, where tests/test_regex_linear.py finds and sweeps it.
"""

from __future__ import annotations

import functools
from typing import Callable, TypeVar

T = TypeVar("T")


def lazy(make: Callable[[], T]) -> Callable[[], T]:
    """`make()` on the first call, the same value after. functools' cache: its C wrapper costs about a
    third of a Python-level check on each later call, which matters in a parser's per-line loop."""
    return functools.lru_cache(maxsize=None)(make)
