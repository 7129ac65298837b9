"""The kernel's word on the GPUs: the Xid reports NVIDIA's driver logged since boot.

Read-only, in this order: `journalctl -k -b` (the kernel messages of this boot that journald kept), and
where journalctl is missing or may not read the kernel's messages, the kernel's ring buffer through
/dev/kmsg, read without waiting and without clearing it. gpubal never runs `dmesg -c` or anything that
writes to the log.

A line looks like this (NVIDIA's Xid catalog, and the real lines in tests/fixtures/kernel_log):

    NVRM: Xid (PCI:0000:2b:00): 79, GPU has fallen off the bus.
    NVRM: Xid (PCI:0000:cb:00): 109, pid=1797828, name=pt_main_thread, Ch 00000008, errorString CTX SWITCH TIMEOUT, Info 0x58005
    NVRM: Xid (0000:03:00): 14, Channel 00000001          (older drivers: no "PCI:")
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Tuple, Union

from ...model import Fact, Known, Reason, Unavailable, XidEvent
from ..probes.commands import CommandRunner
from ..probes.files import HostFiles

JOURNALCTL = ("journalctl", "-k", "-b", "--no-pager", "-o", "short-iso")
JOURNALCTL_TIMEOUT_S = 3.0
KMSG = "/dev/kmsg"
LINE_LIMIT = 500  # characters of a line kept to quote; the count says how many there were
PROCESSES_KEPT = 8

_XID = re.compile(r"NVRM: Xid \((?:PCI:)?([0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2})(?:\.[0-7])?\): (\d+),?(.*)$")
_PID_NAME = re.compile(r"^\s*pid=([^,]*),(?:\s*name=(.*?),)?")
# The time stamp a line starts with: journalctl's short-iso ("2026-05-18T19:02:39+0000") or short ("May 18
# 19:02:39"), dmesg's seconds since boot ("[ 5107.644336]") or its --ctime ("[Fri Aug 30 11:43:14 2024]").
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\S*|[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}"
                   r"|\[\s*\d+\.\d+\]|\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}\])")
_KMSG_RECORD = re.compile(r"^\d+,(\d+),(\d+),[^;]*;")
# journalctl's notes when it may not read the system's messages (systemd, src/shared/journal-util.c)
_NOT_PERMITTED = ("You are currently not seeing messages from", "insufficient permissions")


def collect_xid_events(files: HostFiles, run: CommandRunner) -> Fact[List[XidEvent]]:
    output = run(list(JOURNALCTL), JOURNALCTL_TIMEOUT_S)
    journal = _journal_answer(output)
    if isinstance(journal, Known):
        return journal
    records = files.read_kernel_log(KMSG)
    if isinstance(records, Unavailable):
        reason = Reason.NO_PERMISSION if Reason.NO_PERMISSION in (journal.reason, records.reason) else \
            Reason.NOT_IN_INPUT if (journal.reason, records.reason) == (Reason.NOT_IN_INPUT, Reason.NOT_FOUND) else \
            records.reason  # a replayed recording without a recorded ring buffer holds no kernel log
        return Unavailable(reason, f"{' '.join(JOURNALCTL)}, {KMSG}",
                           f"journalctl: {journal.detail or journal.reason.value}; {KMSG}: "
                           f"{records.detail or records.reason.value}"
                           + (" (run gpubal as root to read the kernel log)" if reason is Reason.NO_PERMISSION else ""))
    return Known(parse_xid_lines(_kmsg_lines(records)), _kmsg_source(records))


def _journal_answer(output: Union[str, Unavailable]) -> Union[Known, Unavailable]:
    source = " ".join(JOURNALCTL)
    if isinstance(output, Unavailable):
        if output.reason is not Reason.ERROR or not any(note in output.detail for note in _NOT_PERMITTED):
            return output
        output = output.detail
    if any(note in output for note in _NOT_PERMITTED):
        return Unavailable(Reason.NO_PERMISSION, source,
                           "journalctl shows the kernel's messages only to root and the systemd-journal and adm groups")
    if not any(_TIME.match(line) for line in output.splitlines()):
        # A host's kernel logs from its first moment, so an empty answer means journald kept no kernel
        # messages of this boot (a container, ReadKMsg=no, "No journal files were found"), not that no
        # Xid happened: the ring buffer is asked instead.
        return Unavailable(Reason.NOT_FOUND, source, f"no kernel messages of this boot in the journal "
                                                     f"({output.strip()[:200] or 'empty answer'})")
    return Known(parse_xid_lines(_journal_lines(output)), source)


def _journal_lines(output: str) -> Iterable[Tuple[str, str]]:
    for line in output.splitlines():
        time = _TIME.match(line)
        yield (time.group(1) if time else "", line)


def _kmsg_lines(records: List[str]) -> Iterable[Tuple[str, str]]:
    for record in records:
        head = _KMSG_RECORD.match(record)
        if head is None:  # a recorded ring buffer in dmesg's words rather than the device's records
            time = _TIME.match(record)
            yield (time.group(1) if time else "", record)
            continue
        microseconds = int(head.group(2))
        yield (f"{microseconds // 1_000_000}.{microseconds % 1_000_000:06d} s after boot",
               record[head.end():].split("\n", 1)[0])


def _kmsg_source(records: List[str]) -> str:
    """/dev/kmsg, saying when older records had already been overwritten: the ring buffer is finite."""
    head = _KMSG_RECORD.match(records[0]) if records else None
    if head is not None and int(head.group(1)) > 0:
        return f"{KMSG} (the ring buffer starts at record {head.group(1)}: older lines were overwritten)"
    return KMSG


def parse_xid_lines(lines: Iterable[Tuple[str, str]]) -> List[XidEvent]:
    """(time stamp, log line) pairs -> one XidEvent per GPU and Xid code, in the order first seen."""
    groups: Dict[Tuple[str, int], dict] = {}
    for logged_at, line in lines:
        match = _XID.search(line)
        if match is None:
            continue
        bus_id, xid, rest = match.group(1).lower(), int(match.group(2)), match.group(3)
        entry = groups.setdefault((bus_id, xid), {"count": 0, "first": logged_at, "line": match.group(0)[:LINE_LIMIT],
                                                  "processes": []})
        entry["count"] += 1
        entry["last"] = logged_at
        process = _process(rest)
        if process and process not in entry["processes"] and len(entry["processes"]) < PROCESSES_KEPT:
            entry["processes"].append(process)
    return [XidEvent(pci_bus_id=bus_id, xid=xid, count=entry["count"], first_logged_at=entry["first"],
                     last_logged_at=entry["last"], first_line=entry["line"], processes=tuple(entry["processes"]))
            for (bus_id, xid), entry in groups.items()]


def _process(rest: str) -> str:
    """"python3 (pid 1818990)" from "pid=1818990, name=python3, ..."; "" when the line names none (the
    driver writes pid='<unknown>' for faults it cannot tie to a process, and pid=0 for the kernel)."""
    match = _PID_NAME.match(rest)
    if match is None:
        return ""
    pid, name = match.group(1).strip(), (match.group(2) or "").strip()
    if not pid.isdigit() or pid == "0":
        return ""
    return f"{name} (pid {pid})" if name and name != "<unknown>" else f"pid {pid}"
