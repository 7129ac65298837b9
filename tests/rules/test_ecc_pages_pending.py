from helpers import assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_gpu

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity
from gpubal.rules.ecc_pages_pending import ecc_pages_pending as rule


def test_passes_on_healthy_h200_where_page_retirement_is_not_supported(h200x2_snapshot):
    # Hopper has row remapping only: retired_pages_pending is not_supported, remapped_rows_pending False
    assert h200x2_snapshot.gpu_list()[0].retired_pages_pending.reason is Reason.NOT_SUPPORTED
    report = evaluate(h200x2_snapshot, [rule])
    assert outcomes(report) == {"gpu:0": Outcome.PASSED, "gpu:1": Outcome.PASSED}


def test_pending_row_remap_is_a_warning(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 1, remapped_rows_pending=known(True))
    report = evaluate(snapshot, [rule])
    found = single_finding(report, "gpu:1")
    assert found.rule_id == "ecc-pages-pending"
    assert found.severity is Severity.WARNING
    assert found.subject == "gpu:1"
    assert found.evidence == {"gpu:1.remapped_rows_pending": True}  # the unreadable fact is not evidence
    assert "sudo nvidia-smi -r -i 1" in found.fix.commands
    assert_actionable(found.fix)
    assert only_result(report, "gpu:0").outcome is Outcome.PASSED


def test_pending_page_retirement_on_older_gpus_is_a_warning(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, retired_pages_pending=known(True),
                        remapped_rows_pending=unavailable(Reason.NOT_SUPPORTED))
    found = single_finding(evaluate(snapshot, [rule]), "gpu:0")
    assert found.severity is Severity.WARNING
    assert found.evidence == {"gpu:0.retired_pages_pending": True}


def test_not_evaluated_when_neither_mechanism_can_be_read(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, remapped_rows_pending=unavailable(Reason.NO_PERMISSION))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:0.remapped_rows_pending"
    assert "no_permission" in result.missing_reason
