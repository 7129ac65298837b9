"""vLLM and SGLang servers on the recorded 8x H100 HGX host, whose NVSwitch fabric NVML reported completed;
the cases change only the fabric state NVML would report before Fabric Manager is up, and the server's
environment. NCCL sets NVLS up only for more than two GPUs, so the servers see four."""

import dataclasses

import pytest

from helpers import assert_actionable, known, only_result, real_snapshot, unavailable, with_gpu, with_stack

from gpubal.doctor.engine import evaluate
from gpubal.model import Known, Outcome, PythonPackage, Reason, Severity
from gpubal.rules.nccl_nvls_without_fabric import nccl_nvls_without_fabric as rule
from helpers import SERVER

TP4 = "vllm serve /models/Qwen3-8B --tensor-parallel-size 4"
FOUR = {"CUDA_VISIBLE_DEVICES": "0,1,2,3"}


@pytest.fixture(scope="module")
def hgx8_snapshot():
    return real_snapshot("hgx8-h100-nvswitch")


def _result(snapshot, environment=None, program="vllm"):
    process = dataclasses.replace(SERVER, program=known(program), command_line=known(TP4),
                                  gpu_environment=known({**FOUR, **(environment or {})}))
    return only_result(evaluate(dataclasses.replace(snapshot, processes=Known([process], "test")), [rule]), "host")


def _fabric_starting(snapshot):
    """The GPUs as NVML reports them while Fabric Manager has not finished (nvmlGpuFabricState IN_PROGRESS)."""
    for index in range(8):
        snapshot = with_gpu(snapshot, index, fabric_state=known("in_progress"))
    return snapshot


def test_a_ready_fabric_passes(hgx8_snapshot):
    assert _result(hgx8_snapshot).outcome is Outcome.PASSED


def test_nvls_left_at_its_default_on_a_fabric_not_ready_is_a_warning(hgx8_snapshot):
    result = _result(_fabric_starting(hgx8_snapshot))
    (found,) = result.findings
    assert found.severity is Severity.WARNING and found.subject == "process:4242"
    assert found.evidence["process:4242.NCCL_NVLS_ENABLE"] == "unset (NCCL's default 2)"
    assert found.evidence["fabric"] == {f"gpu:{index}": "in progress" for index in range(4)}
    assert "export NCCL_NVLS_ENABLE=0" in found.fix.commands
    assert found.fix.url == "https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/env.html"
    assert_actionable(found.fix)


def test_nvls_turned_off_passes(hgx8_snapshot):
    assert _result(_fabric_starting(hgx8_snapshot), {"NCCL_NVLS_ENABLE": "0"}).outcome is Outcome.PASSED


def test_nvls_forced_on_is_named_as_set(hgx8_snapshot):
    (found,) = _result(_fabric_starting(hgx8_snapshot), {"NCCL_NVLS_ENABLE": "1"}, program="sglang").findings
    assert "NCCL_NVLS_ENABLE=1" in found.message and found.message.startswith("sglang (PID 4242)")


def test_only_the_gpus_the_server_sees_count(hgx8_snapshot):
    snapshot = with_gpu(hgx8_snapshot, 1, fabric_state=known("not_started"))
    assert _result(snapshot, {"CUDA_VISIBLE_DEVICES": "0,2,3"}).outcome is Outcome.PASSED
    (found,) = _result(snapshot, {"CUDA_VISIBLE_DEVICES": "1,2,3"}).findings
    assert found.evidence["fabric"] == {"gpu:1": "not started"}


def test_a_server_on_two_gpus_passes_as_nccl_sets_no_nvls_up_for_it(hgx8_snapshot):
    assert _result(_fabric_starting(hgx8_snapshot), {"CUDA_VISIBLE_DEVICES": "0,1"}).outcome is Outcome.PASSED


def test_a_fabric_completed_with_an_error_is_not_ready(hgx8_snapshot):
    snapshot = with_gpu(hgx8_snapshot, 0, fabric_status=known("error_unknown"))
    (found,) = _result(snapshot).findings
    assert found.evidence["fabric"] == {"gpu:0": "completed with error_unknown"}


def test_gpus_without_a_fabric_pass(hgx8_snapshot):
    snapshot = hgx8_snapshot
    for index in range(8):
        snapshot = with_gpu(snapshot, index, fabric_state=known("not_supported"))
    assert _result(snapshot, {"NCCL_NVLS_ENABLE": "1"}).outcome is Outcome.PASSED


def test_an_unreadable_environment_is_not_evaluated(hgx8_snapshot):
    process = dataclasses.replace(SERVER, program=known("vllm"), gpu_environment=unavailable(Reason.NO_PERMISSION))
    snapshot = dataclasses.replace(_fabric_starting(hgx8_snapshot), processes=Known([process], "test"))
    result = only_result(evaluate(snapshot, [rule]), "host")
    assert result.outcome is Outcome.NOT_EVALUATED and result.missing_fact == "process:4242.gpu_environment"


def test_vllm_installed_but_not_running_is_judged_with_this_environment(hgx8_snapshot):
    vllm = PythonPackage(name="vllm", version="0.14.0", location="/usr/lib/python3/dist-packages", cuda_version="",
                         requires=())
    packages = hgx8_snapshot.stack.python_packages.value + [vllm]
    snapshot = with_stack(_fabric_starting(hgx8_snapshot), python_packages=known(packages),
                          environment=known({}))
    snapshot = dataclasses.replace(snapshot, processes=Known([], "test"))
    (found,) = only_result(evaluate(snapshot, [rule]), "host").findings
    assert found.subject == "host" and found.message.startswith("vllm installed here")


def test_no_server_and_none_installed_does_not_apply(h200x2_full_snapshot):
    snapshot = dataclasses.replace(h200x2_full_snapshot, processes=Known([], "test"))
    assert only_result(evaluate(snapshot, [rule]), "host").outcome is Outcome.NOT_APPLICABLE
