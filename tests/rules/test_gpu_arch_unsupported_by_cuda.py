from helpers import assert_actionable, h200x2_stack, known, ollama_running, only_result, single_finding, unavailable, with_driver, with_gpu, with_host, with_ollama, with_pair, with_stack

import dataclasses

from gpubal.doctor.engine import evaluate
from gpubal.model import (LibraryCopy, MigInstance, OllamaLogOffload, OllamaModel, Outcome, PythonPackage, Reason, Severity)

from gpubal.rules.gpu_arch_unsupported_by_cuda import gpu_arch_unsupported_by_cuda as rule


def test_hopper_passes_with_cuda_13(h200x2_full_snapshot):
    assert only_result(evaluate(h200x2_full_snapshot, [rule]), "gpu:0").outcome is Outcome.PASSED


def test_volta_with_cuda_13_is_an_error(h200x2_full_snapshot):
    snapshot = with_gpu(h200x2_full_snapshot, 0, compute_capability=known("7.0"))
    found = single_finding(evaluate(snapshot, [rule]), "gpu:0")
    assert found.severity is Severity.ERROR and found.evidence["architecture"] == "Volta"
    assert found.evidence["removed in CUDA"] == "13.0"
    assert "CUDA 12.9 or older" in found.fix.summary
    assert_actionable(found.fix)


def test_not_evaluated_for_a_compute_capability_the_matrix_lacks(h200x2_full_snapshot):
    snapshot = with_gpu(h200x2_full_snapshot, 0, compute_capability=known("99.0"))
    assert only_result(evaluate(snapshot, [rule]), "gpu:0").missing_fact == "matrix: compute capability 99.0"
