"""One way to turn a probe's answer into a fact: a value that does not have the expected shape (an
odd profile, a driver that answers something new) becomes Unavailable(error), never an exception."""

from __future__ import annotations

from typing import Any, Callable

from ...model import Fact, Known, Reason, Unavailable


def to_fact(answer: Any, source: str, convert: Callable[[Any], Any] = lambda value: value) -> Fact[Any]:
    if isinstance(answer, Unavailable):
        return answer
    try:
        return Known(convert(answer), source)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        return Unavailable(Reason.ERROR, source, f"unexpected answer {answer!r:.200}: {error}")


def as_int(value: Any) -> int:
    """An integer answer; bool, float and text are not (a profile with "16" for a width is wrong)."""
    if type(value) is not int:
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    if abs(value) > 2**64:  # wider than any NVML number (and than a snapshot may hold)
        raise ValueError(f"{value} is wider than any reading")
    return value


def as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def as_int_list(value: Any) -> list:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return [as_int(item) for item in value]
