"""Pasted journalctl and dmesg text (`gpubal doctor --from`): its Xid lines become the xid_events fact, and
only those: a paste shows the lines its author chose. The lines are real (tests/fixtures/kernel_log)."""

from __future__ import annotations


from gpubal.doctor.engine import evaluate
from gpubal.doctor.ingest.dumps import snapshot_from_dumps
from gpubal.model import Known, Reason, Severity
from gpubal.rules.gpu_xid_events import gpu_xid_events
from helpers.paths import FIXTURES

KERNEL_LOG = FIXTURES / "kernel_log" / "journalctl-k.txt"
LINES = KERNEL_LOG.read_text().splitlines()


def _pasted(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_pasted_kernel_log_gives_its_xid_events(tmp_path):
    ingested = snapshot_from_dumps([str(KERNEL_LOG)])
    events = ingested.snapshot.xid_events
    assert isinstance(events, Known) and events.source == f"{KERNEL_LOG}: kernel log"
    assert {(event.pci_bus_id, event.xid) for event in events.value} >= {("0000:2b:00", 79), ("0000:43:00", 13)}
    assert ingested.recognised[str(KERNEL_LOG)] == ["kernel log"]


def test_an_issue_reply_with_quote_markers_and_a_fence_is_read(tmp_path):
    line = next(line for line in LINES if "): 48," in line)
    reply = _pasted(tmp_path, "reply.md", f"Here is dmesg:\n\n> ```\n> {line}\n> ```\n")
    (event,) = snapshot_from_dumps([reply]).snapshot.xid_events.value
    assert event.xid == 48 and event.first_logged_at == "Dec  2 11:38:47"
    assert event.first_line.startswith("NVRM: Xid (PCI:0000:07:00): 48, pid='<unknown>'")


def test_two_pastes_give_every_event_once(tmp_path):
    first = _pasted(tmp_path, "a.txt", "\n".join(LINES[:5]) + "\n")
    second = _pasted(tmp_path, "b.txt", "\n".join(LINES[3:]) + "\n")  # overlapping the first
    events = snapshot_from_dumps([first, second]).snapshot.xid_events.value
    keys = [(event.pci_bus_id, event.xid, event.count) for event in events]
    assert len(keys) == len(set(keys)) and ("0000:2b:00", 79, 1) in keys and ("0000:00:00", 149, 1) in keys


def test_a_paste_without_xid_lines_holds_no_kernel_log(tmp_path):
    topo = FIXTURES / "dumps" / "topo" / "club3090-2x3090-sys-two-sockets-legend-cut.txt"
    assert snapshot_from_dumps([str(topo)]).snapshot.xid_events.reason is Reason.NOT_IN_INPUT


def test_the_pasted_xid_79_is_an_error_and_a_reset_names_the_bus(tmp_path):
    pasted = _pasted(tmp_path, "dmesg.txt", "\n".join(line for line in LINES if "): 79," in line or "): 64," in line))
    report = evaluate(snapshot_from_dumps([pasted]).snapshot, [gpu_xid_events])
    found = {f.evidence["xid_events"]["xid"]: f for result in report.results for f in result.findings}
    assert found[79].severity is Severity.ERROR and found[79].fix.commands == ("sudo reboot",)
    # no GPU list in the paste: nvidia-smi -i takes the PCI bus id the line names
    assert "sudo nvidia-smi --gpu-reset -i 0000:07:00.0" in found[64].fix.commands
