from helpers import (assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_pair,
                      with_snapshot)

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity
from gpubal.rules.gpu_pair_crosses_numa import gpu_pair_crosses_numa as rule


def test_passes_on_healthy_h200x2_whose_pair_has_nvlink(h200x2_snapshot):
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"gpu:0-gpu:1": Outcome.PASSED}


def test_not_applicable_on_a_single_gpu_host(h200x1_snapshot):
    assert outcomes(evaluate(h200x1_snapshot, [rule])) == {"host": Outcome.NOT_APPLICABLE}


def test_pair_across_sockets_without_nvlink_is_advice(h200x2_snapshot):
    snapshot = with_pair(h200x2_snapshot, 0, 1, nvlink_count=known(0), nvlink_route=known("none"),
                         pcie_path=known("SYS"))
    found = single_finding(evaluate(snapshot, [rule]), "gpu:0-gpu:1")
    assert found.rule_id == "gpu-pair-crosses-numa"
    assert found.severity is Severity.INFO
    assert found.subject == "gpu:0-gpu:1"
    assert found.evidence == {"gpu:0-gpu:1.pcie_path": "SYS", "gpu:0-gpu:1.nvlink_count": 0}
    assert "nvidia-smi topo -m" in found.fix.commands
    assert_actionable(found.fix)


def test_pair_across_sockets_with_nvlink_passes(h200x2_snapshot):
    snapshot = with_pair(h200x2_snapshot, 0, 1, pcie_path=known("SYS"))
    assert only_result(evaluate(snapshot, [rule]), "gpu:0-gpu:1").outcome is Outcome.PASSED


def test_pair_under_one_socket_without_nvlink_passes(h200x2_snapshot):
    snapshot = with_pair(h200x2_snapshot, 0, 1, nvlink_count=known(0), pcie_path=known("NODE"))
    assert only_result(evaluate(snapshot, [rule]), "gpu:0-gpu:1").outcome is Outcome.PASSED


def test_not_evaluated_when_the_nvlink_count_is_unavailable(h200x2_snapshot):
    snapshot = with_pair(h200x2_snapshot, 0, 1, nvlink_count=unavailable(Reason.API_MISSING))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0-gpu:1")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:0-gpu:1.nvlink_count"


def test_not_evaluated_when_the_pairs_are_unavailable(h200x2_snapshot):
    snapshot = with_snapshot(h200x2_snapshot, pairs=unavailable(Reason.TIMEOUT))
    result = only_result(evaluate(snapshot, [rule]), "host")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "pairs"
