from helpers import (assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_gpu,
                      with_nvlinks)

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity
from gpubal.rules.nvlink_link_inactive import nvlink_link_inactive as rule


def test_passes_with_all_18_links_up(h200x2_snapshot):
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"gpu:0": Outcome.PASSED, "gpu:1": Outcome.PASSED}


def test_passes_on_a_gpu_that_reports_no_links(h200x1_snapshot):
    assert h200x1_snapshot.gpu_list()[0].nvlinks.value == []
    assert outcomes(evaluate(h200x1_snapshot, [rule])) == {"gpu:0": Outcome.PASSED}


def test_links_down_on_a_gpu_that_uses_nvlink_is_a_warning(h200x2_snapshot):
    snapshot = with_nvlinks(h200x2_snapshot, 0, inactive=[3, 7])
    report = evaluate(snapshot, [rule])
    found = single_finding(report, "gpu:0")
    assert found.rule_id == "nvlink-link-inactive"
    assert found.severity is Severity.WARNING
    assert found.subject == "gpu:0"
    assert found.evidence == {"gpu:0.nvlinks_active": 16, "gpu:0.nvlinks_inactive": [3, 7]}
    assert found.message == "GPU 0 (NVIDIA H200) has 2 of 18 NVLinks down: links 3, 7"
    assert "nvidia-smi nvlink -e -i 0" in found.fix.commands
    assert_actionable(found.fix)
    assert only_result(report, "gpu:1").outcome is Outcome.PASSED


def test_all_links_down_means_no_nvlink_in_use_and_passes(h200x2_snapshot):
    snapshot = with_nvlinks(h200x2_snapshot, 0, inactive=list(range(18)))
    assert only_result(evaluate(snapshot, [rule]), "gpu:0").outcome is Outcome.PASSED


def test_not_evaluated_when_the_links_are_unavailable(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, nvlinks=unavailable(Reason.NOT_SUPPORTED))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:0.nvlinks"
