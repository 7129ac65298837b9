from helpers import assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_gpu

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity
from gpubal.rules.mig_pending_reboot import mig_pending_reboot as rule


def test_passes_when_nothing_is_pending(h200x2_snapshot):
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"gpu:0": Outcome.PASSED, "gpu:1": Outcome.PASSED}


def test_mig_enabled_but_not_yet_applied_is_a_warning(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 1, mig_enabled_pending=known(True))
    report = evaluate(snapshot, [rule])
    found = single_finding(report, "gpu:1")
    assert found.rule_id == "mig-pending-reboot"
    assert found.severity is Severity.WARNING
    assert found.subject == "gpu:1"
    assert found.evidence == {"gpu:1.mig_enabled_current": False, "gpu:1.mig_enabled_pending": True}
    assert "disabled on GPU 1 but enabled after the next GPU reset" in found.message
    assert found.fix.commands == ("sudo nvidia-smi -r -i 1",)
    assert_actionable(found.fix)
    assert only_result(report, "gpu:0").outcome is Outcome.PASSED


def test_not_evaluated_when_the_pending_mode_is_unavailable(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, mig_enabled_pending=unavailable(Reason.NOT_SUPPORTED))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:0.mig_enabled_pending"
