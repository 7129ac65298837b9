from helpers import assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_gpu

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity
from gpubal.rules.ecc_row_remapping_failed import ecc_row_remapping_failed as rule


def test_passes_on_healthy_h200x2(h200x2_snapshot):
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"gpu:0": Outcome.PASSED, "gpu:1": Outcome.PASSED}


def test_failed_remap_is_an_error(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, remapped_rows_failed=known(True))
    report = evaluate(snapshot, [rule])
    found = single_finding(report, "gpu:0")
    assert found.rule_id == "ecc-row-remapping-failed"
    assert found.severity is Severity.ERROR
    assert found.subject == "gpu:0"
    assert found.evidence == {"gpu:0.remapped_rows_failed": True}
    assert "nvidia-smi -q -d ROW_REMAPPER -i 0" in found.fix.commands
    assert_actionable(found.fix)
    assert only_result(report, "gpu:1").outcome is Outcome.PASSED


def test_not_evaluated_when_row_remapping_cannot_be_read(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, remapped_rows_failed=unavailable(Reason.NOT_SUPPORTED))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:0.remapped_rows_failed"
