from helpers import assert_actionable, only_result, single_finding, with_driver

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity, Unavailable
from gpubal.rules.nvml_unresponsive import nvml_unresponsive as rule

HUNG = Unavailable(Reason.TIMEOUT, "NVML", "no answer within 20 s: a GPU or the driver may be hung")


def test_a_driver_that_answers_passes(h200x2_snapshot):
    assert only_result(evaluate(h200x2_snapshot, [rule]), "host").outcome is Outcome.PASSED


def test_nvml_past_its_deadline_is_an_error(h200x2_snapshot):
    found = single_finding(evaluate(with_driver(h200x2_snapshot, nvml_status=HUNG), [rule]), "host")
    assert found.severity is Severity.ERROR
    assert found.evidence == {"driver.nvml_status": HUNG.describe()}
    assert "sudo dmesg | grep -i xid" in found.fix.commands
    assert_actionable(found.fix)


def test_no_driver_at_all_is_not_this_rules_business(h200x2_snapshot):
    missing = Unavailable(Reason.NOT_FOUND, "nvmlInit", "NVML Shared Library Not Found")
    result = only_result(evaluate(with_driver(h200x2_snapshot, nvml_status=missing), [rule]), "host")
    assert result.outcome is Outcome.NOT_APPLICABLE and "did not start (not_found)" in result.missing_reason
