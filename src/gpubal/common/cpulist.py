"""The kernel's cpulist notation ("0-31,64-95") to and from sets of numbers."""

from __future__ import annotations

from typing import Iterable, List, Set


def parse_cpulist(text: str) -> Set[int]:
    """Raises ValueError on anything that is not a cpulist; an empty string is the empty set."""
    numbers: Set[int] = set()
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            first, last = part.split("-", 1)
            start, end = int(first), int(last)
            if end < start:
                raise ValueError(f"bad cpu range {part!r}")
            numbers.update(range(start, end + 1))
        else:
            numbers.add(int(part))
    return numbers


def format_cpulist(numbers: Iterable[int]) -> str:
    ordered = sorted(set(numbers))
    ranges: List[str] = []
    start = previous = None
    for number in ordered:
        if start is None:
            start = previous = number
        elif number == previous + 1:
            previous = number
        else:
            ranges.append(str(start) if start == previous else f"{start}-{previous}")
            start = previous = number
    if start is not None:
        ranges.append(str(start) if start == previous else f"{start}-{previous}")
    return ",".join(ranges)


def bitmask_words_to_numbers(words: Iterable[int], bits_per_word: int = 64) -> List[int]:
    """NVML affinity masks come as arrays of unsigned longs, lowest word first."""
    numbers = []
    for word_index, word in enumerate(words):
        for bit in range(bits_per_word):
            if word >> bit & 1:
                numbers.append(word_index * bits_per_word + bit)
    return numbers
