from helpers import assert_actionable, only_result, outcomes, single_finding, unavailable, with_gpu, with_snapshot

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity
from gpubal.rules.gpu_lost import gpu_lost as rule

_LOST = "Unknown Error (NVML_ERROR_GPU_IS_LOST)"


def test_passes_on_healthy_h200x2(h200x2_snapshot):
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"gpu:0": Outcome.PASSED, "gpu:1": Outcome.PASSED}


def test_lost_gpu_is_an_error_naming_the_facts_that_were_lost(h200x2_snapshot):
    lost = unavailable(Reason.GPU_LOST, _LOST)
    snapshot = with_gpu(h200x2_snapshot, 1, name=lost, uuid=lost, memory_total_bytes=lost)
    report = evaluate(snapshot, [rule])
    found = single_finding(report, "gpu:1")
    assert found.rule_id == "gpu-lost"
    assert found.severity is Severity.ERROR
    assert found.subject == "gpu:1"
    assert found.evidence == {
        "gpu:1.name": f"gpu_lost (test): {_LOST}",
        "gpu:1.uuid": f"gpu_lost (test): {_LOST}",
        "gpu:1.memory_total_bytes": f"gpu_lost (test): {_LOST}",
    }
    assert "sudo dmesg | grep -i xid" in found.fix.commands
    assert_actionable(found.fix)
    assert only_result(report, "gpu:0").outcome is Outcome.PASSED


def test_evidence_names_the_fact_that_was_lost_not_always_the_name(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, memory_total_bytes=unavailable(Reason.GPU_LOST, _LOST))
    found = single_finding(evaluate(snapshot, [rule]), "gpu:0")
    assert list(found.evidence) == ["gpu:0.memory_total_bytes"]


def test_a_fact_that_is_merely_unsupported_is_not_a_lost_gpu(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, name=unavailable(Reason.NOT_SUPPORTED))
    assert only_result(evaluate(snapshot, [rule]), "gpu:0").outcome is Outcome.PASSED


def test_not_evaluated_when_nvml_cannot_list_the_gpus(h200x2_snapshot):
    snapshot = with_snapshot(h200x2_snapshot, gpus=unavailable(Reason.NOT_FOUND, "driver not loaded"))
    result = only_result(evaluate(snapshot, [rule]), "host")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpus"
