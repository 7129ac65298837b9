"""What an expert concludes from the real nvidia-smi, topology and NVLink pastes of the corpus, said by the
same rules that judge a live host: NVML errors become the driver facts, partial lists stay unjudged,
and each dump is judged as of its own date."""

from __future__ import annotations


import pytest

from gpubal.doctor.engine import evaluate
from gpubal.doctor.ingest.dumps import snapshot_from_dumps
from gpubal.model import Outcome, Reason, Unavailable
from gpubal.rules import all_rules
from helpers.paths import FIXTURES

DUMPS = FIXTURES / "dumps"


def judge(*samples: str):
    report = evaluate(snapshot_from_dumps([str(DUMPS / sample) for sample in samples]).snapshot, all_rules())
    return report, {(finding.rule_id, finding.subject) for finding in report.findings()}


def result(report, rule_id: str, subject: str = "host"):
    return next(r for r in report.results if r.rule_id == rule_id and r.subject == subject)


@pytest.mark.parametrize("sample", ["smi/tinygrad-p2p-nvml-mismatch-570.124.txt",
                                    "smi/intel-llvm-ci-nvml-mismatch-550.144.txt",
                                    "smi/shine-cluster-nvml-mismatch-then-squeue.txt",
                                    "smi/popos-470-nvml-mismatch.txt"])
def test_nvml_version_mismatch_is_the_module_and_library_disagreeing(sample):
    report, found = judge(sample)
    assert ("kernel-module-userspace-mismatch", "host") in found
    assert result(report, "no-nvidia-driver").outcome is Outcome.NOT_EVALUATED  # the driver is there


def test_the_library_version_printed_beside_a_mismatch_is_the_driver_version():
    report, _ = judge("smi/tinygrad-p2p-nvml-mismatch-570.124.txt")
    assert report.snapshot.driver.version.value == "570.124"


@pytest.mark.parametrize("sample", ["smi/shine-cluster-driver-not-loaded-prompt.txt",
                                    "smi/nvidia-docker-driver-not-loaded-quoted-wrapped.txt",
                                    "smi/darknet-driver-not-loaded-indented-command.txt",
                                    "smi/qixuema-driver-not-loaded-curly-apostrophe.txt",
                                    "smi/mattshma-container-without-runtime-driver-not-loaded.txt"])
def test_nvidia_smi_that_cannot_reach_the_driver_is_no_driver(sample):
    report, found = judge(sample)
    assert ("no-nvidia-driver", "host") in found
    assert not any(rule == "kernel-module-userspace-mismatch" for rule, _ in found)


@pytest.mark.parametrize("sample", ["smi/rapidsai-v100-cuda-na-bold-shell-prompt.txt",
                                    "smi/ros-docker-quadro-p620-cuda-na-prompt.txt"])
def test_cuda_version_na_is_a_fact_that_libcuda_is_unusable(sample):
    fact = judge(sample)[0].snapshot.driver.cuda_driver_version
    assert isinstance(fact, Unavailable) and fact.reason is Reason.NOT_FOUND
    assert fact.detail.startswith("CUDA Version: N/A")


def test_a_name_nvidia_smi_cut_is_kept_and_its_source_says_so():
    gpu = judge("smi/finpilot-rtx3080-r610-name-cut.txt")[0].snapshot.gpu_list()[0]
    assert gpu.name.value == "NVIDIA GeForce RTX 3080 ..."
    assert "cut short by nvidia-smi" in gpu.name.source


def test_the_r610_header_gives_the_driver_and_its_cuda():
    driver = judge("smi/sglang-2xb200-r610-kmd-umd-fenced.txt")[0].snapshot.driver
    assert (driver.version.value, driver.cuda_driver_version.value) == ("610.43.02", "13.3")


def test_an_elided_nvlink_list_is_not_judged_as_fewer_links():
    report, found = judge("nvlink-s/k8s-test-infra-gb200-gpu1-elided.txt")
    assert not any(rule in ("nvlink-asymmetric", "nvlink-link-inactive") for rule, _ in found)
    asymmetric = result(report, "nvlink-asymmetric")
    assert asymmetric.outcome is Outcome.NOT_EVALUATED and asymmetric.missing_fact == "gpu:1.nvlinks"
    assert "partial" in asymmetric.missing_reason


def test_two_h100_with_all_links_up_pass_the_nvlink_checks():
    report, _ = judge("nvlink-s/bottlerocket-2xh100-nvlink-status-bash-prompt.txt")
    assert result(report, "nvlink-asymmetric").outcome is Outcome.PASSED
    assert {r.outcome for r in report.results if r.rule_id == "nvlink-link-inactive"} == {Outcome.PASSED}


def test_a_fabric_excerpt_without_gpu_headers_still_says_fabric_manager_has_not_finished():
    _, found = judge("smi-q/gpu-operator-fabric-in-progress-no-gpu-header.txt")
    assert ("nvswitch-fabric-not-ready", "gpu:0") in found


@pytest.mark.parametrize("sample", ["topo/thunderkittens-8xh100-nv18-prompt.txt", "topo/aws-p4d-8xa100-nv12-nvswitch.txt",
                                    "topo/k8s-test-infra-4xgb200-nv18-short-cpu-lists.txt",
                                    "topo/h200x2-hgx-nvswitch-topo.txt"])
def test_healthy_nvlink_matrices_pass_the_topology_nvlink_check(sample):
    report, _ = judge(sample)
    assert result(report, "nvlink-pair-fewer-links").outcome is Outcome.PASSED


@pytest.mark.parametrize("sample", ["topo/nccl-dgx-a100-nv12-12nics-rows-cut.txt",
                                    "topo/dcgm-dgx-a100-root-prompt-rows-cut.txt",
                                    "topo/sglang-8xh100-nv18-9nics-3numa-rows-cut.txt"])
def test_a_matrix_cut_short_is_not_judged_for_missing_links(sample):
    report, found = judge(sample)
    assert not any(rule == "nvlink-pair-fewer-links" for rule, _ in found)
    assert result(report, "nvlink-pair-fewer-links").outcome is Outcome.NOT_EVALUATED


def test_eight_pcie_gpus_over_two_sockets_cross_numa_only_between_sockets():
    _, found = judge("topo/go-gpuallocator-8x4090-sys-two-sockets-tabs.txt")
    crossing = {subject for rule, subject in found if rule == "gpu-pair-crosses-numa"}
    assert "gpu:0-gpu:4" in crossing and "gpu:3-gpu:7" in crossing


def test_a_dump_is_judged_as_of_its_own_timestamp():
    report, _ = judge("smi/wolf-2x4090d-550-fenced-command.txt")
    assert report.snapshot.collected_at == "2024-08-30T16:21:04"
    assert "dated 2024-08-30T16:21:04 by the dump's own timestamp" in report.snapshot.origin
    # R550 is listed as ended only in an edition read in 2026: not judged for an August 2024 dump
    assert result(report, "driver-branch-end-of-life").outcome is Outcome.NOT_EVALUATED

