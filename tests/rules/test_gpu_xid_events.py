from helpers import known, only_result, with_gpu, with_snapshot

from gpubal.doctor.collect.kernel_log import JOURNALCTL, collect_xid_events
from gpubal.doctor.engine import evaluate
from gpubal.model import Known, Outcome, Reason, Severity, Unavailable
from gpubal.doctor.probes.files import HostFiles

from gpubal.rules.gpu_xid_events import gpu_xid_events as rule
from helpers import paths

FIXTURES = paths.FIXTURES / "kernel_log"


def logged(*lines):
    """The xid_events fact gpubal collects when journalctl answers these lines (each a real line, see
    tests/fixtures/kernel_log/README.md)."""
    boot_line = (FIXTURES / "journalctl-k.txt").read_text().splitlines()[0]  # a journal holds other kernel lines
    text = "\n".join((boot_line,) + lines) + "\n"
    return collect_xid_events(HostFiles(str(FIXTURES / "no-such-root")), lambda argv, timeout_s: text)


def line_with(code):
    return next(line for line in (FIXTURES / "journalctl-k.txt").read_text().splitlines()
                if f"): {code}," in line)


def findings(snapshot):
    return only_result(evaluate(snapshot, [rule]), "host").findings


def on_gpu0_at(snapshot, nvml_bus_id):
    """The real H200 snapshot with GPU 0 at the bus the public line names (the line stays as logged)."""
    return with_gpu(snapshot, 0, pci_bus_id=known(nvml_bus_id))


def test_no_xid_since_boot_passes(h200x2_snapshot):
    snapshot = with_snapshot(h200x2_snapshot, xid_events=Known([], " ".join(JOURNALCTL)))
    assert only_result(evaluate(snapshot, [rule]), "host").outcome is Outcome.PASSED


def test_an_unreadable_kernel_log_is_not_evaluated(h200x2_snapshot):
    result = only_result(evaluate(h200x2_snapshot, [rule]), "host")  # the recording holds no kernel log
    assert result.outcome is Outcome.NOT_EVALUATED and result.missing_fact == "xid_events"


def test_xid_79_is_an_error_on_the_gpu_it_names_with_a_reboot(h200x2_snapshot):
    snapshot = with_snapshot(on_gpu0_at(h200x2_snapshot, "00000000:2B:00.0"), xid_events=logged(line_with(79)))
    (found,) = [f for f in findings(snapshot) if f.evidence["xid_events"]["pci_bus_id"] == "0000:2b:00"]
    assert found.severity is Severity.ERROR and found.subject == "gpu:0"
    assert "GPU has fallen off the bus" in found.message and "RESTART_BM" in found.message
    assert found.message.endswith("As logged: NVRM: Xid (PCI:0000:2b:00): 79, GPU has fallen off the bus.")
    assert found.fix.commands == ("sudo reboot",) and found.fix.url.endswith("analyzing-xid-catalog.html")
    assert found.evidence["catalog"]["immediate_action"] == "RESTART_BM"


def test_an_xid_of_a_gpu_nvml_no_longer_lists_is_named_by_its_bus(h200x2_snapshot):
    # a GPU that fell off the bus is often missing from NVML's list: the event still counts
    snapshot = with_snapshot(h200x2_snapshot, xid_events=logged(line_with(79)))
    (found,) = findings(snapshot)
    assert found.subject == "pci:0000:2b:00" and found.severity is Severity.ERROR


def test_xid_48_is_an_error_with_a_gpu_reset(h200x2_snapshot):
    snapshot = with_snapshot(on_gpu0_at(h200x2_snapshot, "00000000:07:00.0"), xid_events=logged(line_with(48)))
    (found,) = findings(snapshot)
    assert found.severity is Severity.ERROR and found.subject == "gpu:0"
    assert "sudo nvidia-smi --gpu-reset -i 0" in found.fix.commands
    assert "Double Bit ECC Error" in found.message


def test_xid_13_of_a_program_is_information_counted_once_per_gpu(h200x2_snapshot):
    lines = [line for line in (FIXTURES / "journalctl-k.txt").read_text().splitlines() if "): 13," in line]
    snapshot = with_snapshot(on_gpu0_at(h200x2_snapshot, "00000000:43:00.0"), xid_events=logged(*lines))
    (found,) = findings(snapshot)
    assert found.severity is Severity.INFO and "logged 3 times" in found.message
    assert "RESTART_APP" in found.message


def test_the_processes_the_lines_name_are_in_the_message(h200x2_snapshot):
    snapshot = with_snapshot(on_gpu0_at(h200x2_snapshot, "00000000:CB:00.0"), xid_events=logged(line_with(109)))
    (found,) = findings(snapshot)
    assert "pt_main_thread (pid 1797828)" in found.message and found.severity is Severity.ERROR


def test_an_xid_without_a_verified_catalog_row_is_information_quoting_the_line(h200x2_snapshot):
    snapshot = with_snapshot(h200x2_snapshot, xid_events=logged(line_with(149)))
    (found,) = findings(snapshot)
    assert found.severity is Severity.INFO and "no catalog row" in found.message
    assert "NETIR_LINK_EVT Fatal XC0 i0 Link 00" in found.message
    assert found.fix.url.endswith("analyzing-xid-catalog.html")


def test_kmsg_events_are_judged_like_journal_ones(h200x2_snapshot):
    events = collect_xid_events(HostFiles(str(FIXTURES / "root-kmsg")),
                                lambda argv, timeout_s: Unavailable(Reason.NOT_FOUND, "journalctl", "not installed"))
    snapshot = with_snapshot(h200x2_snapshot, xid_events=events)
    severities = {f.evidence["xid_events"]["xid"]: f.severity for f in findings(snapshot)}
    assert severities == {3: Severity.INFO, 79: Severity.ERROR}  # Xid 3: no row (the catalog marks it unused)


# NVIDIA's catalog gives the wording of Xid 154 ("Xid 154 GPU recovery action changed from 0x0 (None) to 0x2
# (Node Reboot Required)"); the lines below put it in the driver's "NVRM: Xid (PCI:...): N, " frame
XID_154 = "NVRM: Xid (PCI:0000:2b:00): 154, GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required)"


def test_xid_154_naming_a_reboot_is_an_error_with_a_reboot(h200x2_snapshot):
    snapshot = with_snapshot(on_gpu0_at(h200x2_snapshot, "00000000:2B:00.0"), xid_events=logged(XID_154))
    (found,) = findings(snapshot)
    assert found.severity is Severity.ERROR and "Node Reboot Required" in found.message
    assert found.fix.commands == ("sudo reboot",)


def test_xid_154_naming_a_gpu_reset_is_an_error_with_the_reset_commands(h200x2_snapshot):
    # NVML's recovery actions: 0 none, 1 GPU reset, 2 node reboot, 3 drain P2P, 4 drain and reset
    reset = XID_154.replace("0x2 (Node Reboot Required)", "0x1 (GPU Reset Required)")
    snapshot = with_snapshot(on_gpu0_at(h200x2_snapshot, "00000000:2B:00.0"), xid_events=logged(reset))
    (found,) = findings(snapshot)
    assert found.severity is Severity.ERROR and "GPU Reset Required" in found.message
    assert found.fix.commands == ("nvidia-smi --query-compute-apps=pid,process_name --format=csv -i 0",
                                  "sudo nvidia-smi --gpu-reset -i 0")


def test_xid_154_back_to_none_is_information(h200x2_snapshot):
    back = XID_154.replace("from 0x0 (None) to 0x2 (Node Reboot Required)", "from 0x2 (Node Reboot Required) to 0x0 (None)")
    (found,) = findings(with_snapshot(h200x2_snapshot, xid_events=logged(back)))
    assert found.severity is Severity.INFO


def test_an_error_grade_rests_on_a_catalog_action_that_takes_the_gpu_out_of_service():
    """xid_catalog.toml grades "error" where the catalog's immediate action is a reset, a drain or a
    reboot. Xid 54 (SILENT_RUNNING_PWR_REDUCED_CLOCKING: the GPU runs, slower) asks for CHECK_MECHANICALS,
    none of those: a warning."""
    from gpubal.matrix import load_matrix

    out_of_service = {"RESET_GPU", "RESTART_BM", "WORKFLOW_XID_48", "WORKFLOW_NVLINK_ERR"}
    graded_error = {entry.xid: entry.immediate_action for entry in load_matrix().xid_catalog
                    if entry.severity == "error"}
    assert {xid: action for xid, action in graded_error.items() if action not in out_of_service} == {}
