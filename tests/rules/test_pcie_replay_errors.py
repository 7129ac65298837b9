from conftest import assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_gpu

from gpubal.doctor.engine import evaluate
from gpubal.doctor.model import Outcome, Reason, Severity
from gpubal.rules.pcie_replay_errors import check as rule


def test_passes_with_no_replays(h200x2_snapshot):
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"gpu:0": Outcome.PASSED, "gpu:1": Outcome.PASSED}


def test_the_real_h200x1_replay_is_a_warning(h200x1_snapshot):
    found = single_finding(evaluate(h200x1_snapshot, [rule]), "gpu:0")
    assert found.rule_id == "pcie-replay-errors"
    assert found.severity is Severity.WARNING
    assert found.subject == "gpu:0"
    assert found.evidence == {"gpu:0.pcie_replay_count": 1}
    assert "nvidia-smi -q -d PCIE -i 0" in found.fix.commands
    assert_actionable(found.fix)


def test_many_replays_are_a_warning(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 1, pcie_replay_count=known(4127))
    report = evaluate(snapshot, [rule])
    found = single_finding(report, "gpu:1")
    assert found.evidence == {"gpu:1.pcie_replay_count": 4127}
    assert "4127 times" in found.message
    assert only_result(report, "gpu:0").outcome is Outcome.PASSED


def test_not_evaluated_when_the_counter_is_unavailable(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, pcie_replay_count=unavailable(Reason.NOT_SUPPORTED))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:0.pcie_replay_count"
