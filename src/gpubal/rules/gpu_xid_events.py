import re
from typing import Dict, List, Tuple

from ..common import links as _links
from ..matrix import Matrix, XidEntry, xid_entry
from ..model import Fix, Gpu, Known, Severity, Snapshot, XidEvent, need
from . import finding, rule

SEVERITY = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}
# Xid 154 names the recovery action in its own line ("GPU recovery action changed from 0x0 (None) to 0x2
# (Node Reboot Required)", the catalog's example). The catalog lists "None", "Drain P2P", "Drain and Reset",
# "GPU Reset Required" and "Node Reboot Required"; drivers also write other words for them ("OS Reboot",
# "PF FLR"), so every action but "None" stops the GPU until it is taken.
XID_RECOVERY_ACTION = 154


@rule("gpu-xid-events", scope="host", area="gpu",
      summary="No Xid since boot that NVIDIA's Xid catalog says needs a GPU reset, a drain or a reboot",
      inputs=("matrix",))
def gpu_xid_events(snapshot: Snapshot, matrix: Matrix):
    """
    What it checks
        The Xid reports NVIDIA's kernel driver logged since boot ("NVRM: Xid (PCI:0000:2b:00): 79, ..."),
        read from `journalctl -k -b` or, where that is missing or not permitted, from /dev/kmsg without
        clearing it; from pasted journalctl or dmesg text (`gpubal doctor --from`), only the lines
        pasted. Each GPU's Xid is looked up in NVIDIA's Xid catalog (Ampere and newer), whose
        "Resolution Bucket (Immediate Action)" says what brings the GPU back into service.

    Why it matters
        An Xid is the driver's record of a GPU fault. Some end one program (Xid 13, 31: usually the
        program's own bug), others leave the GPU unusable until it is reset or the host restarted: Xid 79
        (the GPU fell off the PCIe bus), 48 and 95 (uncorrectable memory errors), 119 and 120 (the GPU's
        GSP firmware stopped answering). A model server split across such a GPU hangs or fails at start,
        and NCCL waits for a peer that will not answer.

    How to fix
        Follow the catalog's immediate action: RESET_GPU (`nvidia-smi --gpu-reset -i N` once no process
        uses the GPU, else reboot), RESTART_BM (restart the host), RESTART_APP (restart the program that
        hit it). If the Xid comes back after that, the catalog's investigatory action applies (run field
        diagnostics, contact your hardware vendor). An Xid gpubal has no catalog row for is reported as
        information with the line as logged: look it up in the catalog.

    References
        links.XID_ERRORS
        https://docs.nvidia.com/deploy/xid-errors/archive/index.html
    """
    events: List[XidEvent] = need(snapshot.xid_events, "xid_events")
    gpus = _gpus_by_bus_id(snapshot)
    for event in events:
        gpu = gpus.get(_bus_key(event.pci_bus_id))
        subject = gpu.subject() if gpu is not None else f"pci:{event.pci_bus_id}"
        which = f"GPU {gpu.index} ({event.pci_bus_id})" if gpu is not None else f"the GPU at {event.pci_bus_id}"
        evidence = {"xid_events": {"pci_bus_id": event.pci_bus_id, "xid": event.xid, "count": event.count,
                                   "first_logged_at": event.first_logged_at, "last_logged_at": event.last_logged_at,
                                   "first_line": event.first_line, "processes": list(event.processes)}}
        times = _times(event)
        if event.xid == XID_RECOVERY_ACTION:
            yield _recovery_action(event, gpu, subject, which, times, evidence)
            continue
        entry = xid_entry(matrix, event.xid)
        if entry is None:
            yield finding(
                Severity.INFO, subject,
                f"Xid {event.xid} on {which} {times}; gpubal has no catalog row for it: look it up. "
                f"As logged: {event.first_line}",
                evidence,
                Fix(summary=f"Look up Xid {event.xid} in NVIDIA's Xid catalog and follow its immediate action",
                    commands=("sudo journalctl -k -b --no-pager | grep -i 'NVRM: Xid'",), url=_links.XID_ERRORS))
            continue
        evidence["catalog"] = {"mnemonic": entry.mnemonic, "immediate_action": entry.immediate_action,
                               "investigatory_action": entry.investigatory_action, "source": entry.source}
        who = f" (hit by {', '.join(event.processes)})" if event.processes else ""
        yield finding(
            SEVERITY[entry.severity], subject,
            f"Xid {event.xid} ({entry.description}) on {which} {times}{who}; NVIDIA's catalog: "
            f"{entry.immediate_action}. As logged: {event.first_line}",
            evidence, _fix(entry, gpu, event))


def _gpus_by_bus_id(snapshot: Snapshot) -> Dict[Tuple[int, int, int], Gpu]:
    if not isinstance(snapshot.gpus, Known):
        return {}  # the events are still reported, by bus id
    return {_bus_key(gpu.pci_bus_id.value): gpu for gpu in snapshot.gpus.value if isinstance(gpu.pci_bus_id, Known)}


def _bus_key(bus_id: str) -> Tuple[int, int, int]:
    """NVML's "00000000:2B:00.0" and the driver's "0000:2b:00" as (domain, bus, device)."""
    parts = bus_id.split(".")[0].split(":")
    try:
        return int(parts[-3], 16), int(parts[-2], 16), int(parts[-1], 16)
    except (IndexError, ValueError):
        return (-1, -1, -1)


def _times(event: XidEvent) -> str:
    lines = "logged once" if event.count == 1 else f"logged {event.count} times"
    when = event.first_logged_at if event.count == 1 or event.first_logged_at == event.last_logged_at \
        else f"{event.first_logged_at} to {event.last_logged_at}"
    return lines + (f" ({when})" if when else "")


def _fix(entry: XidEntry, gpu, event: XidEvent) -> Fix:
    action = entry.immediate_action
    if action == "RESTART_BM":
        commands: Tuple[str, ...] = ("sudo reboot",)
        summary = "Restart the host (the catalog's RESTART_BM)"
    elif action in ("RESET_GPU", "WORKFLOW_XID_48", "WORKFLOW_NVLINK_ERR"):
        commands = _reset_commands(gpu, event)
        summary = "Stop the programs on the GPU, then reset it (or restart the host, when the GPU is gone)"
    elif action == "CHECK_MECHANICALS":
        commands = ()
        summary = "Check the GPU's seating and its auxiliary power connectors (the catalog's CHECK_MECHANICALS)"
    elif action == "RESTART_APP":
        commands = ()
        summary = "Restart the program that hit it; the GPU needs no reset (the catalog's RESTART_APP)"
    else:
        commands = ()
        summary = f"The catalog's immediate action is {action}"
    if entry.investigatory_action not in ("IGNORE", "IGNORE (sympathetic)"):
        summary += f"; if it comes back: {entry.investigatory_action}"
    return Fix(summary=summary, commands=commands, url=_links.XID_ERRORS)


def _reset_commands(gpu, event: XidEvent) -> Tuple[str, ...]:
    # nvidia-smi -i takes an index or a PCI bus id (domain:bus:device.function); the Xid line gives the bus
    index = str(gpu.index) if gpu is not None else f"{event.pci_bus_id}.0"
    return (f"nvidia-smi --query-compute-apps=pid,process_name --format=csv -i {index}",
            f"sudo nvidia-smi --gpu-reset -i {index}")


def _recovery_action(event: XidEvent, gpu, subject: str, which: str, times: str, evidence: dict):
    # written in the call, so re compiles (and caches) it the first time an Xid 154 is read, not at import
    match = re.search(r"to 0x[0-9a-fA-F]{1,16} \(([^)]{0,100})\)", event.first_line)
    action = match.group(1) if match else ""
    stopping = bool(action) and action.strip().lower() != "none"
    return finding(
        Severity.ERROR if stopping else Severity.INFO, subject,
        f"Xid 154 on {which} {times}: the driver says the recovery action is "
        f"{action or 'not named in the line'}. As logged: {event.first_line}",
        evidence,
        Fix(summary=("Follow the driver's recovery action after handling the Xid it follows"
                     if stopping else "Xid 154 summarises another Xid's recovery; follow that one"),
            commands=(("sudo reboot",) if "reboot" in action.lower()
                      else _reset_commands(gpu, event) if "reset" in action.lower() else ()),
            url=_links.XID_ERRORS))
