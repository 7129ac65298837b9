from helpers import assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_gpu

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity
from gpubal.rules.heterogeneous_gpus import heterogeneous_gpus as rule

H200_BYTES = 150754820096
H100_BYTES = 85520809984


def test_passes_on_two_identical_h200(h200x2_snapshot):
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"host": Outcome.PASSED}


def test_passes_on_a_single_gpu(h200x1_snapshot):
    assert outcomes(evaluate(h200x1_snapshot, [rule])) == {"host": Outcome.PASSED}


def test_mixed_models_are_advice(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 1, name=known("NVIDIA H100 80GB HBM3"),
                        memory_total_bytes=known(H100_BYTES))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.rule_id == "heterogeneous-gpus"
    assert found.severity is Severity.INFO
    assert found.subject == "host"
    assert found.evidence == {
        "gpu:0.name": "NVIDIA H200", "gpu:1.name": "NVIDIA H100 80GB HBM3",
        "gpu:0.memory_total_bytes": H200_BYTES, "gpu:1.memory_total_bytes": H100_BYTES,
    }
    assert "GPU 0: NVIDIA H200 140 GiB" in found.message and "GPU 1: NVIDIA H100 80GB HBM3 80 GiB" in found.message
    assert_actionable(found.fix)


def test_same_model_with_different_memory_is_advice(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 1, memory_total_bytes=known(H200_BYTES // 2))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.evidence["gpu:1.memory_total_bytes"] == H200_BYTES // 2


def test_not_evaluated_when_a_gpu_name_is_unavailable(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 1, name=unavailable(Reason.GPU_LOST))
    result = only_result(evaluate(snapshot, [rule]), "host")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:1.name"
