"""Every fact of a Snapshot as one flat, ordered list of rows (name, value, source), named as rules name
them in evidence (`host.hostname`, `gpu:0.pcie_link_gen_current`, `gpu:0-gpu:1.nvlink_count`), for the
facts tables of the Markdown and HTML reports."""

from __future__ import annotations

import dataclasses
import enum
import json
from dataclasses import dataclass
from typing import Any, List

from ..model import Gpu, GpuPair, GpuProcess, Known, NvLink, Snapshot, Unavailable
from . import words


@dataclass(frozen=True)
class FactRow:
    name: str
    value: str  # the value as text, or why it is unknown
    source: str
    known: bool


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, str):
        return words.P2P_STATUS.get(value, value)
    if isinstance(value, (int, float)):
        return str(value)
    from ..snapshot_file import to_jsonable

    return json.dumps(to_jsonable(value), separators=(", ", ": "), ensure_ascii=False)


def _nvlinks_in_one_line(links: List[NvLink]) -> str:
    """18 links of one GPU as one line: how many are up, and the versions and far ends they have."""
    def count(values: List[str]) -> str:
        seen: dict = {}
        for value in values:
            seen[value] = seen.get(value, 0) + 1
        return ", ".join(f"{value} ×{n}" for value, n in seen.items())

    def show(fact: Any) -> str:
        return _text(fact.value) if isinstance(fact, Known) else words.short(fact)

    active = sum(1 for link in links if isinstance(link.active, Known) and link.active.value)
    return (f"{len(links)} links, {active} active; version {count([show(link.version) for link in links])}; "
            f"far end {count([show(link.remote_device_type) for link in links])}")


def fact_rows(snapshot: Snapshot, collapse_links: bool = False) -> List[FactRow]:
    """All facts, in snapshot order. `collapse_links` sums up each GPU's NVLinks in one row (Markdown,
    where an 8-GPU host would otherwise need ~600 rows and outgrow an issue); the HTML keeps every link."""
    rows: List[FactRow] = [
        FactRow("gpubal_version", snapshot.gpubal_version, "snapshot", True),
        FactRow("collected_at", snapshot.collected_at, "snapshot", True),
        FactRow("origin", snapshot.origin, "snapshot", True),
    ]
    for part in (snapshot.host, snapshot.driver):
        _part_rows(rows, part.subject(), part, collapse_links)
    _fact_rows(rows, "gpus", snapshot.gpus, collapse_links)
    _fact_rows(rows, "pairs", snapshot.pairs, collapse_links)
    for part in (snapshot.stack, snapshot.ollama):
        _part_rows(rows, part.subject(), part, collapse_links)
    _fact_rows(rows, "processes", snapshot.processes, collapse_links)
    _part_rows(rows, snapshot.pci.subject(), snapshot.pci, collapse_links)
    _fact_rows(rows, "xid_events", snapshot.xid_events, collapse_links)
    return rows


def _part_rows(rows: List[FactRow], prefix: str, part: Any, collapse_links: bool) -> None:
    for field in dataclasses.fields(part):
        value = getattr(part, field.name)
        if isinstance(value, (Known, Unavailable)):
            _fact_rows(rows, f"{prefix}.{field.name}", value, collapse_links)


def _fact_rows(rows: List[FactRow], name: str, fact: Any, collapse_links: bool) -> None:
    if isinstance(fact, Unavailable):
        rows.append(FactRow(name, words.phrase(fact), fact.source, False))
        return
    value = fact.value
    if isinstance(value, list) and value and all(isinstance(item, (Gpu, GpuPair, NvLink, GpuProcess)) for item in value):
        if collapse_links and isinstance(value[0], NvLink):
            rows.append(FactRow(name, _nvlinks_in_one_line(value), fact.source, True))
            return
        for item in value:  # a GPU, a pair, a link or a process: its facts under its own subject
            for field in dataclasses.fields(item):
                inner = getattr(item, field.name)
                if isinstance(inner, (Known, Unavailable)):
                    _fact_rows(rows, f"{item.subject()}.{field.name}", inner, collapse_links)
        return
    rows.append(FactRow(name, _text(value), fact.source, True))
