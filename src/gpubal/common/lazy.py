"""Regexes compiled on first use. A module imported on every start (the live collection, redaction) may
hold patterns that a run never needs: a pasted dump's parser, a secret shape no string hints at. Compiling
them at import cost about 20 ms of `gpubal doctor`'s start; wrapped here, each costs nothing until used.

    _UUID = lazy(lambda: re.compile(r"GPU-[0-9a-f-]+"))
    _UUID().sub(...)

The `re.compile` call stays in the source as a literal, where tests/test_regex_linear.py finds and sweeps it.
"""

from __future__ import annotations

from typing import Callable, Generic, Optional, TypeVar

T = TypeVar("T")


class lazy(Generic[T]):  # noqa: N801 - reads as a function at the definition site
    """`make()` on the first call, the same value after (two threads racing may both make it: harmless
    for a regex, which compiles to an equal pattern)."""

    __slots__ = ("_make", "_value")

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._value: Optional[T] = None

    def __call__(self) -> T:
        value = self._value
        if value is None:
            value = self._value = self._make()
        return value
