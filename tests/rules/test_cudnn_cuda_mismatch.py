from helpers import assert_actionable, h200x2_stack, known, ollama_running, only_result, single_finding, unavailable, with_driver, with_gpu, with_host, with_ollama, with_pair, with_stack

import dataclasses

from gpubal.doctor.engine import evaluate
from gpubal.model import (LibraryCopy, MigInstance, OllamaLogOffload, OllamaModel, Outcome, PythonPackage, Reason, Severity)

from gpubal.rules.cudnn_cuda_mismatch import cudnn_cuda_mismatch as rule


def _with_cudnn(snapshot, version, consumer_cuda):
    copy = LibraryCopy("cudnn", version, "/opt/v/nvidia/cudnn/lib/libcudnn.so.9", "wheel", "torch 2.5.1", "wheel metadata")
    torch = PythonPackage("torch", "2.5.1", "/opt/v", consumer_cuda, ())
    return with_stack(snapshot, libraries=known([copy]), python_packages=known([torch]))


def test_passes_when_the_build_matches(h200x2_snapshot):
    snapshot = _with_cudnn(h200x2_snapshot, "9.10.2.21", "12.8")
    assert only_result(evaluate(snapshot, [rule]), "host").outcome is Outcome.PASSED


def test_cudnn_for_another_cuda_major_is_an_error(h200x2_snapshot):
    snapshot = _with_cudnn(h200x2_snapshot, "9.5.1", "13.0")
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.severity is Severity.ERROR and found.evidence["cuDNN builds for CUDA"] == [11, 12]
    assert found.fix.commands == ("pip install nvidia-cudnn-cu13",)
    assert_actionable(found.fix)


def test_the_real_h200_stack_is_judged_from_nvidias_manifests(h200x2_full_snapshot):
    """cuDNN 9.14.0 (system, CUDA 13.0 runtime) and 9.19.0 (torch cu130): both have CUDA 13 builds."""
    assert only_result(evaluate(h200x2_full_snapshot, [rule]), "host").outcome is Outcome.PASSED


def test_not_evaluated_naming_the_missing_matrix_row(h200x2_snapshot):
    snapshot = _with_cudnn(h200x2_snapshot, "9.16.0.29", "13.0")
    result = only_result(evaluate(snapshot, [rule]), "host")
    assert result.outcome is Outcome.NOT_EVALUATED and result.missing_fact == "matrix: cuDNN 9.16.0"


def test_a_release_known_from_its_manifest_only_is_judged_by_cuda_major(h200x2_snapshot):
    snapshot = _with_cudnn(h200x2_snapshot, "9.11.0.98", "13.0")  # 9.11.0 was built for CUDA 12 only
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.severity is Severity.ERROR and found.evidence["cuDNN builds for CUDA"] == [12]
    assert found.fix.commands == ("pip install nvidia-cudnn-cu13",)
    assert found.fix.url == "https://developer.download.nvidia.com/compute/cudnn/redist/redistrib_9.11.0.json"


def test_a_manifest_only_release_needs_its_cuda_majors_driver(h200x2_snapshot):
    snapshot = with_driver(_with_cudnn(h200x2_snapshot, "9.14.0.64", "13.0"), version=known("575.57.08"))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert "CUDA 13 needs driver 580.65.06" in found.message
