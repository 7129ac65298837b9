"""Xid lines of NVIDIA's kernel driver, from kernel log text: journalctl's or dmesg's output pasted into an
issue, or what gpubal reads from journalctl and /dev/kmsg on a live host (doctor/collect/kernel_log.py).

    NVRM: Xid (PCI:0000:2b:00): 79, GPU has fallen off the bus.
    NVRM: Xid (PCI:0000:cb:00): 109, pid=1797828, name=pt_main_thread, Ch 00000008, errorString CTX SWITCH TIMEOUT, Info 0x58005
    NVRM: Xid (0000:03:00): 14, Channel 00000001          (older drivers: no "PCI:")

Lines of one code for one GPU are counted into one XidEvent: one fault can log a line per SM."""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Tuple

from ...model import XidEvent
from .common import Observation, Parser, clean, unquote
from ...common.lazy import lazy

SECTION = "kernel log"
LINE_LIMIT = 500  # characters of a line kept to quote; the count says how many there were
PROCESSES_KEPT = 8

# An Xid code has at most 3 digits today; a run of digits longer than 6 is no code (and a million-digit
# int() would take seconds, or fail past Python's digit limit)
# compiled on first use: most hosts' logs hold no Xid line, and this pattern is searched only in one that does
XID = lazy(lambda: re.compile(
    r"NVRM: Xid \((?:PCI:)?([0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2})(?:\.[0-7])?\): (\d{1,6})(?!\d),?(.*)$"))
_PID_NAME = lazy(lambda: re.compile(r"^\s*pid=([^,]*),(?:\s*name=(.*?),)?"))
# The time stamp a line starts with: journalctl's short-iso ("2026-05-18T19:02:39+0000") or short ("May 18
# 19:02:39"), dmesg's seconds since boot ("[ 5107.644336]") or its --ctime ("[Fri Aug 30 11:43:14 2024]").
TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\S*|[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}"
                  r"|\[\s*\d+\.\d+\]|\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}\])")


def time_of(line: str) -> str:
    match = TIME.match(line)
    return match.group(1) if match else ""


class XidTally:
    """Xid lines fed one at a time, kept as one event per GPU and code in the order first seen."""

    def __init__(self) -> None:
        self._groups: Dict[Tuple[str, int], dict] = {}

    def add(self, logged_at: str, line: str) -> bool:
        """Count the line if it is an Xid report; True when it was one."""
        if "Xid" not in line:
            return False
        match = XID().search(line)
        if match is None:
            return False
        bus_id, xid, rest = match.group(1).lower(), int(match.group(2)), match.group(3)
        entry = self._groups.setdefault((bus_id, xid), {"count": 0, "first": logged_at,
                                                        "line": match.group(0)[:LINE_LIMIT], "processes": []})
        entry["count"] += 1
        entry["last"] = logged_at
        process = _process(rest)
        if process and process not in entry["processes"] and len(entry["processes"]) < PROCESSES_KEPT:
            entry["processes"].append(process)
        return True

    def events(self) -> List[XidEvent]:
        return [XidEvent(pci_bus_id=bus_id, xid=xid, count=entry["count"], first_logged_at=entry["first"],
                         last_logged_at=entry["last"], first_line=entry["line"], processes=tuple(entry["processes"]))
                for (bus_id, xid), entry in self._groups.items()]


def parse_xid_lines(lines: Iterable[Tuple[str, str]]) -> List[XidEvent]:
    """(time stamp, log line) pairs -> one XidEvent per GPU and Xid code, in the order first seen."""
    tally = XidTally()
    for logged_at, line in lines:
        tally.add(logged_at, line)
    return tally.events()


def _process(rest: str) -> str:
    """"python3 (pid 1818990)" from "pid=1818990, name=python3, ..."; "" when the line names none (the
    driver writes pid='<unknown>' for faults it cannot tie to a process, and pid=0 for the kernel)."""
    match = _PID_NAME().match(rest)
    if match is None:
        return ""
    pid, name = match.group(1).strip(), (match.group(2) or "").strip()
    if not pid.isdigit() or pid == "0":
        return ""
    return f"{name} (pid {pid})" if name and name != "<unknown>" else f"pid {pid}"


class KernelLogResult:
    format_name = SECTION
    problems: List[str] = []

    def __init__(self, events: List[XidEvent]) -> None:
        self.events = events

    @property
    def found(self) -> bool:
        return bool(self.events)

    def observations(self) -> Iterable[Observation]:
        # a paste holds the lines its author chose: what it shows, not every Xid since boot
        yield ("kernel", "xid_events"), self.events, SECTION


class KernelLogParser(Parser):
    """Pasted journalctl or dmesg output: only its Xid lines are read."""

    name = SECTION

    def __init__(self) -> None:
        self._tally = XidTally()

    def feed(self, raw: str) -> None:
        if "Xid" in raw:
            line = unquote(clean(raw))
            self._tally.add(time_of(line), line)

    def finish(self) -> KernelLogResult:
        return KernelLogResult(self._tally.events())


__all__ = ["KernelLogParser", "XidTally", "parse_xid_lines", "time_of"]
