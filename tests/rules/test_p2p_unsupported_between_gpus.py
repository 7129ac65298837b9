from helpers import assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_pair

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity
from gpubal.rules.p2p_unsupported_between_gpus import p2p_unsupported_between_gpus as rule


def test_passes_over_nvlink_although_pcie_p2p_is_not_supported(h200x2_snapshot):
    # the real H200 pair: P2P over NVSwitch works, the PCIe path does not offer it
    pair = h200x2_snapshot.pairs.value[0]
    assert (pair.p2p_nvlink.value, pair.p2p_pcie.value) == ("ok", "not_supported")
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"gpu:0-gpu:1": Outcome.PASSED}


def test_passes_over_nvlink_when_pcie_read_and_write_are_not_supported(h200x2_snapshot):
    snapshot = with_pair(h200x2_snapshot, 0, 1, p2p_read=known("not_supported"), p2p_write=known("not_supported"))
    assert only_result(evaluate(snapshot, [rule]), "gpu:0-gpu:1").outcome is Outcome.PASSED


def test_passes_over_pcie_without_nvlink(h200x2_snapshot):
    snapshot = with_pair(h200x2_snapshot, 0, 1, p2p_nvlink=known("not_supported"))
    assert only_result(evaluate(snapshot, [rule]), "gpu:0-gpu:1").outcome is Outcome.PASSED


def test_passes_when_one_path_is_ok_and_another_could_not_be_read(h200x2_snapshot):
    snapshot = with_pair(h200x2_snapshot, 0, 1, p2p_read=unavailable(Reason.ERROR))
    assert only_result(evaluate(snapshot, [rule]), "gpu:0-gpu:1").outcome is Outcome.PASSED


def test_no_path_at_all_is_a_warning_with_the_reason(h200x2_snapshot):
    snapshot = with_pair(h200x2_snapshot, 0, 1, p2p_nvlink=known("not_supported"),
                         p2p_read=known("chipset_not_supported"), p2p_write=known("chipset_not_supported"),
                         pcie_path=known("PXB"))
    found = single_finding(evaluate(snapshot, [rule]), "gpu:0-gpu:1")
    assert found.rule_id == "p2p-unsupported-between-gpus"
    assert found.severity is Severity.WARNING
    assert found.subject == "gpu:0-gpu:1"
    assert found.evidence == {
        "gpu:0-gpu:1.p2p_nvlink": "not_supported",
        "gpu:0-gpu:1.p2p_read": "chipset_not_supported",
        "gpu:0-gpu:1.p2p_write": "chipset_not_supported",
        "gpu:0-gpu:1.pcie_path": "PXB",
    }
    assert "PCIe ACS or the IOMMU" in found.message
    assert "nvidia-smi topo -p2p r" in found.fix.commands
    assert_actionable(found.fix)


def test_not_evaluated_when_no_path_is_ok_and_one_is_unavailable(h200x2_snapshot):
    snapshot = with_pair(h200x2_snapshot, 0, 1, p2p_nvlink=unavailable(Reason.API_MISSING),
                         p2p_read=known("not_supported"), p2p_write=known("not_supported"))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0-gpu:1")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:0-gpu:1.p2p_nvlink"


def _no_p2p(snapshot, reason, path):
    return with_pair(snapshot, 0, 1, p2p_nvlink=known("not_supported"), p2p_read=known(reason),
                     p2p_write=known(reason), pcie_path=known(path))


def test_a_cross_socket_pair_without_p2p_by_design_is_info_not_a_warning(h200x2_snapshot):
    # dual-socket PCIe hosts: the path across the sockets does not carry P2P; nothing is misconfigured
    found = single_finding(evaluate(_no_p2p(h200x2_snapshot, "topology_not_supported", "SYS"), [rule]), "gpu:0-gpu:1")
    assert found.severity is Severity.INFO


def test_gpus_whose_driver_offers_no_p2p_are_info(h200x2_snapshot):
    found = single_finding(evaluate(_no_p2p(h200x2_snapshot, "gpu_not_supported", "PHB"), [rule]), "gpu:0-gpu:1")
    assert found.severity is Severity.INFO


def test_topology_not_supported_inside_one_socket_stays_a_warning(h200x2_snapshot):
    found = single_finding(evaluate(_no_p2p(h200x2_snapshot, "topology_not_supported", "NODE"), [rule]), "gpu:0-gpu:1")
    assert found.severity is Severity.WARNING
