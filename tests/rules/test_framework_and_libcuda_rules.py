"""Pass/fail cases for libcuda-unusable (nvidia-smi's `CUDA Version: N/A`), framework-cuda-build and
vllm-gpu-unsupported, on hand-built snapshots."""

from helpers import assert_actionable, known, only_result, single_finding, unavailable, with_driver, with_gpu, with_stack

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, PythonPackage, Reason, Severity

from gpubal.rules.framework_cuda_build import framework_cuda_build as framework
from gpubal.rules.libcuda_unusable import CUDA_NA
from gpubal.rules.libcuda_unusable import libcuda_unusable as libcuda_unusable
from gpubal.rules.vllm_gpu_unsupported import vllm_gpu_unsupported as vllm_gpu


def package(name, version, cuda=""):
    return PythonPackage(name=name, version=version, location="", cuda_version=cuda, requires=())


def test_cuda_na_is_libcuda_unusable(h200x2_snapshot):
    snapshot = with_driver(h200x2_snapshot, cuda_driver_version=unavailable(
        Reason.NOT_FOUND, f"{CUDA_NA}: nvidia-smi found no usable libcuda.so"))
    found = single_finding(evaluate(snapshot, [libcuda_unusable]), "host")
    assert found.severity is Severity.ERROR
    assert any("NVIDIA_DRIVER_CAPABILITIES=compute,utility" in command for command in found.fix.commands)
    assert_actionable(found.fix)


def test_a_known_cuda_version_passes(h200x2_snapshot):
    assert only_result(evaluate(h200x2_snapshot, [libcuda_unusable]), "host").outcome is Outcome.PASSED


def test_cuda_version_missing_for_another_reason_is_not_evaluated(h200x2_snapshot):
    snapshot = with_driver(h200x2_snapshot, cuda_driver_version=unavailable(Reason.NOT_IN_INPUT, "not pasted"))
    assert only_result(evaluate(snapshot, [libcuda_unusable]), "host").outcome is Outcome.NOT_EVALUATED


def test_cpu_only_torch_is_an_error(h200x2_snapshot):
    snapshot = with_stack(h200x2_snapshot, python_packages=known([package("torch", "2.1.0+cpu", "none")]))
    found = single_finding(evaluate(snapshot, [framework]), "host")
    assert found.evidence == {"torch": "2.1.0+cpu", "CUDA used to build PyTorch": "None"}
    assert_actionable(found.fix)


def test_vllm_without_torch_is_an_error(h200x2_snapshot):
    snapshot = with_stack(h200x2_snapshot, python_packages=known([package("vllm", "0.6.3")]))
    found = single_finding(evaluate(snapshot, [framework]), "host")
    assert found.evidence["torch"] == "not installed"


def test_torch_for_cuda_12_on_a_470_driver_derives_cuda_from_the_driver(h200x2_snapshot):
    # a collect_env that shows only "Nvidia driver version: 470.239.06": R470 corresponds to CUDA 11.4
    snapshot = with_driver(with_stack(h200x2_snapshot, python_packages=known([package("torch", "2.4.0+cu121", "12.1")])),
                           version=known("470.239.06"), cuda_driver_version=unavailable(Reason.NOT_IN_INPUT))
    found = single_finding(evaluate(snapshot, [framework]), "host")
    assert found.severity is Severity.ERROR
    assert found.evidence["CUDA the driver supports (from NVIDIA's table)"] == "11.4"
    assert found.fix.commands[-1] == "pip install torch --index-url https://download.pytorch.org/whl/cu118"


def test_torch_built_for_a_cuda_the_driver_supports_passes(h200x2_snapshot):
    snapshot = with_driver(with_stack(h200x2_snapshot, python_packages=known([package("torch", "2.4.0+cu121", "12.1")])),
                           version=known("550.54.15"), cuda_driver_version=unavailable(Reason.NOT_IN_INPUT))
    assert only_result(evaluate(snapshot, [framework]), "host").outcome is Outcome.PASSED


def test_pascal_under_vllm_is_an_error(h200x2_snapshot):
    snapshot = with_gpu(with_stack(h200x2_snapshot, python_packages=known([package("vllm", "0.6.3")])), 1,
                        compute_capability=known("6.1"))
    found = single_finding(evaluate(snapshot, [vllm_gpu]), "gpu:1")
    assert found.evidence == {"gpu:1.compute_capability": "6.1", "vllm version": "0.6.3",
                              "vllm minimum compute capability": "7.0",
                              "vllm minimum compute capability source":
                                  "https://docs.vllm.ai/en/v0.14.0/getting_started/installation/gpu/"}
    assert only_result(evaluate(snapshot, [vllm_gpu]), "gpu:0").outcome is Outcome.PASSED
    assert_actionable(found.fix)


def test_vllm_rule_does_not_apply_without_vllm(h200x2_snapshot):
    snapshot = with_stack(h200x2_snapshot, python_packages=known([]))
    assert only_result(evaluate(snapshot, [vllm_gpu]), "gpu:0").outcome is Outcome.NOT_APPLICABLE
