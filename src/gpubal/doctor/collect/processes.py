"""Which programs run on the host, from /proc/*/comm (the kernel keeps a name's first 15 characters)."""

from __future__ import annotations

from typing import Dict

from ..model import Fact, Known, Reason, Unavailable
from ..probes.files import HostFiles


def process_names(files: HostFiles) -> Fact[Dict[int, str]]:
    entries = files.list_dir("/proc")
    if isinstance(entries, Unavailable):
        return entries
    names = {}
    for entry in entries:
        if entry.isdigit():
            comm = files.read_line(f"/proc/{entry}/comm")
            if isinstance(comm, str):
                names[int(entry)] = comm
    return Known(names, "/proc/*/comm")


def program_running(processes: Fact[Dict[int, str]], program: str, container: Fact[str]) -> Fact[bool]:
    if isinstance(processes, Unavailable):
        return processes
    comm_name = program[:15]
    for pid, comm in sorted(processes.value.items()):
        if comm == comm_name:
            return Known(True, f"/proc/{pid}/comm")
    if isinstance(container, Known) and container.value != "none":
        return Unavailable(Reason.NOT_FOUND, "/proc/*/comm",
                           f"no {program} process visible; from inside a container the host's are hidden")
    return Known(False, "/proc/*/comm")
