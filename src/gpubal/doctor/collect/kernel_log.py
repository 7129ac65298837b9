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
from typing import Iterable, List, Tuple, Union

from ...model import Fact, Known, Reason, Unavailable, XidEvent
from ..ingest.kernel_log import TIME, parse_xid_lines, time_of
from ..probes.commands import CommandRunner
from ..probes.files import HostFiles
from ...common.lazy import lazy

JOURNALCTL = ("journalctl", "-k", "-b", "--no-pager", "-o", "short-iso")
JOURNALCTL_TIMEOUT_S = 3.0
KMSG = "/dev/kmsg"

_KMSG_RECORD = lazy(lambda: re.compile(r"^\d+,(\d+),(\d+),[^;]*;"))
# journalctl's notes when it may not read the system's messages (systemd, src/shared/journal-util.c)
_NOT_PERMITTED = ("You are currently not seeing messages from", "insufficient permissions")


def collect_xid_events(files: HostFiles, run: CommandRunner) -> Fact[List[XidEvent]]:
    output = run(list(JOURNALCTL), JOURNALCTL_TIMEOUT_S)
    journal = _journal_answer(output)
    if isinstance(journal, Known):
        return journal
    records = files.read_kernel_log(KMSG)
    if records == []:
        # the ring buffer holds the kernel's boot lines at least: a device that answers nothing (a container's
        # /dev/kmsg mapped to /dev/null) is no kernel log, not a log without Xid
        records = Unavailable(Reason.NOT_FOUND, KMSG, "it answered no record: not the kernel's ring buffer")
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
    if not any(TIME.match(line) for line in output.splitlines()):
        # A host's kernel logs from its first moment, so an empty answer means journald kept no kernel
        # messages of this boot (a container, ReadKMsg=no, "No journal files were found"), not that no
        # Xid happened: the ring buffer is asked instead.
        return Unavailable(Reason.NOT_FOUND, source, f"no kernel messages of this boot in the journal "
                                                     f"({output.strip()[:200] or 'empty answer'})")
    return Known(parse_xid_lines(_journal_lines(output)), source)


# Only lines that name an Xid are counted (XidTally.add), so only those are given their time stamp: a
# ring buffer holds thousands of records, each of which cost a regex match and a formatted time.


def _journal_lines(output: str) -> Iterable[Tuple[str, str]]:
    for line in output.splitlines():
        if "Xid" in line:
            yield (time_of(line), line)


def _kmsg_lines(records: List[str]) -> Iterable[Tuple[str, str]]:
    record_head = _KMSG_RECORD().match
    for record in records:
        if "Xid" not in record:  # nor in the line cut from it
            continue
        head = record_head(record)
        if head is None:  # a recorded ring buffer in dmesg's words rather than the device's records
            yield (time_of(record), record)
            continue
        microseconds = int(head.group(2))
        yield (f"{microseconds // 1_000_000}.{microseconds % 1_000_000:06d} s after boot",
               record[head.end():].split("\n", 1)[0])


def _kmsg_source(records: List[str]) -> str:
    """/dev/kmsg, saying when older records had already been overwritten: the ring buffer is finite."""
    head = _KMSG_RECORD().match(records[0]) if records else None
    if head is not None and int(head.group(1)) > 0:
        return f"{KMSG} (the ring buffer starts at record {head.group(1)}: older lines were overwritten)"
    return KMSG
