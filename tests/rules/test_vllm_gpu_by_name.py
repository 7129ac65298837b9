"""vllm-gpu-unsupported where the dump shows only GPU names (nvidia-smi tables, collect_env's GPU list):
the compute capability comes from NVIDIA's CUDA GPUs pages (matrix/data/compute_capability.toml), and the
floor from the vLLM release's own installation docs."""

from helpers import FIXTURES, known, only_result, single_finding, unavailable, with_gpu, with_stack

from gpubal import matrix
from gpubal.doctor.engine import evaluate
from gpubal.doctor.ingest.dumps import snapshot_from_dumps
from gpubal.model import Outcome, PythonPackage, Reason, Severity
from gpubal.rules.vllm_gpu_unsupported import vllm_gpu_unsupported as vllm_gpu

DUMPS = FIXTURES / "dumps" / "collect-env"
NVIDIA_LEGACY = "https://developer.nvidia.com/cuda-legacy-gpus"
VLLM_0_21 = "https://raw.githubusercontent.com/vllm-project/vllm/v0.21.0/docs/getting_started/installation/gpu.cuda.inc.md"


def with_vllm(snapshot, version):
    package = PythonPackage(name="vllm", version=version, location="", cuda_version="", requires=())
    return with_stack(snapshot, python_packages=known([package]))


def from_dump(name):
    return snapshot_from_dumps([str(DUMPS / name)]).snapshot


def test_real_p100_names_from_a_vllm_issue_are_below_every_vllm_floor():
    # vLLM issue 8626 "doesn't work on pascal tesla P100": collect_env lists names, no compute capability
    snapshot = with_vllm(from_dump("vllm8626-2xp100-pascal-qemu.txt"), "0.6.1")
    assert snapshot.gpus.value[0].compute_capability.reason is Reason.NOT_IN_INPUT
    found = single_finding(evaluate(snapshot, [vllm_gpu]), "gpu:0")
    assert found.severity is Severity.ERROR
    assert found.evidence["gpu:0.name"] == "Tesla P100-PCIE-16GB"
    assert found.evidence["gpu:0.compute_capability (NVIDIA lists Tesla P100)"] == "6.0"
    assert found.evidence["compute capability source"] == NVIDIA_LEGACY
    assert found.evidence["vllm minimum compute capability"] == "7.0"
    assert "6.0" in found.message and "7.0" in found.message


def test_real_v100s_name_is_not_listed_so_not_evaluated():
    # vLLM issue 10147: "Tesla V100S-PCIE-32GB" is not on NVIDIA's pages as stored (only "NVIDIA V100"):
    # V100S is another model, never matched to V100 by a guess
    snapshot = with_vllm(from_dump("vllm10147-torch-cu118-v100s-runpy-warning.txt"), "0.6.3")
    assert only_result(evaluate(snapshot, [vllm_gpu]), "gpu:0").outcome is Outcome.NOT_EVALUATED


def test_v100_by_name_under_vllm_0_21_is_below_its_7_5_floor(h200x2_snapshot):
    snapshot = with_gpu(with_vllm(h200x2_snapshot, "0.21.0"), 0, name=known("Tesla V100-SXM2-32GB"),
                        compute_capability=unavailable(Reason.NOT_IN_INPUT))
    found = single_finding(evaluate(snapshot, [vllm_gpu]), "gpu:0")
    assert found.evidence["gpu:0.compute_capability (NVIDIA lists NVIDIA V100)"] == "7.0"
    assert found.evidence["vllm minimum compute capability"] == "7.5"
    assert found.evidence["vllm minimum compute capability source"] == VLLM_0_21


def test_v100_under_vllm_0_14_passes(h200x2_snapshot):
    snapshot = with_gpu(with_vllm(h200x2_snapshot, "0.14.0"), 0, name=known("Tesla V100-SXM2-32GB"),
                        compute_capability=unavailable(Reason.NOT_IN_INPUT))
    assert only_result(evaluate(snapshot, [vllm_gpu]), "gpu:0").outcome is Outcome.PASSED


def test_v100_under_a_release_between_the_documented_floors_is_not_evaluated(h200x2_snapshot):
    snapshot = with_gpu(with_vllm(h200x2_snapshot, "0.17.1"), 0, compute_capability=known("7.0"))
    result = only_result(evaluate(snapshot, [vllm_gpu]), "gpu:0")
    assert result.outcome is Outcome.NOT_EVALUATED


def test_k80_by_name_is_below_every_floor(h200x2_snapshot):
    snapshot = with_gpu(with_vllm(h200x2_snapshot, "0.17.1"), 0, name=known("Tesla K80"),
                        compute_capability=unavailable(Reason.NOT_IN_INPUT))
    found = single_finding(evaluate(snapshot, [vllm_gpu]), "gpu:0")
    assert found.evidence["gpu:0.compute_capability (NVIDIA lists Tesla K80)"] == "3.7"
    assert found.evidence["vllm minimum compute capability"] == "7.0"


def test_a_read_compute_capability_wins_over_the_name(h200x2_snapshot):
    snapshot = with_gpu(with_vllm(h200x2_snapshot, "0.21.0"), 0, name=known("Tesla K80"),
                        compute_capability=known("9.0"))
    assert only_result(evaluate(snapshot, [vllm_gpu]), "gpu:0").outcome is Outcome.PASSED


def test_names_nvidia_smi_prints_match_only_their_own_model():
    table = matrix.load_matrix()
    lookup = {name: (matrix.compute_capability_for_name(table, name) or (None,))[0] for name in (
        "Tesla P100-PCIE-16GB", "Tesla V100-SXM2-16GB", "Tesla V100-SXM2...", "NVIDIA H100 80GB HBM3",
        "NVIDIA RTX 6000 Ada Generation", "NVIDIA GeForce RTX 3090", "Tesla P40",
        # other models, or names cut where a "Ti" may hide: no answer
        "NVIDIA GeForce RTX 3090 Ti", "NVIDIA GeForce RTX 3090 ...", "NVIDIA A10G", "Tesla V100S-PCIE-32GB",
        "NVIDIA TITAN X (Pascal)", "NVIDIA A100-SXM4-80GB")}
    assert lookup == {
        "Tesla P100-PCIE-16GB": "6.0", "Tesla V100-SXM2-16GB": "7.0", "Tesla V100-SXM2...": "7.0",
        "NVIDIA H100 80GB HBM3": "9.0", "NVIDIA RTX 6000 Ada Generation": "8.9", "NVIDIA GeForce RTX 3090": "8.6",
        "Tesla P40": "6.1", "NVIDIA GeForce RTX 3090 Ti": None, "NVIDIA GeForce RTX 3090 ...": None,
        "NVIDIA A10G": None, "Tesla V100S-PCIE-32GB": None, "NVIDIA TITAN X (Pascal)": None,
        "NVIDIA A100-SXM4-80GB": None}


def test_every_name_row_cites_nvidia():
    for row in matrix.load_matrix().gpu_compute_capabilities:
        assert row.source.startswith(("https://developer.nvidia.com/", "https://forums.developer.nvidia.com/"))
