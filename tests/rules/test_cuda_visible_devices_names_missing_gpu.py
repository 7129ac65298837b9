"""CUDA_VISIBLE_DEVICES of processes on the recorded 2x H200 host (GPU 0 GPU-07f4a309..., GPU 1
GPU-ef0d3f05...)."""

import dataclasses

from helpers import SERVER, assert_actionable, known, only_result, unavailable

from gpubal.doctor.engine import evaluate
from gpubal.model import Known, Outcome, Reason, Severity
from gpubal.rules.cuda_visible_devices_names_missing_gpu import cuda_visible_devices_names_missing_gpu as rule


def _run(snapshot, **environment_or_changes):
    process = dataclasses.replace(SERVER, **environment_or_changes)
    return only_result(evaluate(dataclasses.replace(snapshot, processes=Known([process], "test")), [rule]), "host")


def test_gpus_that_exist_pass(h200x2_snapshot):
    assert _run(h200x2_snapshot).outcome is Outcome.PASSED
    assert _run(h200x2_snapshot, gpu_environment=known({"CUDA_VISIBLE_DEVICES": "GPU-ef0d3f05"})).outcome \
        is Outcome.PASSED
    assert _run(h200x2_snapshot, gpu_environment=known({})).outcome is Outcome.PASSED


def test_an_index_past_the_last_gpu_is_a_warning_naming_what_cuda_sees(h200x2_snapshot):
    result = _run(h200x2_snapshot, gpu_environment=known({"CUDA_VISIBLE_DEVICES": "0,2,1"}))
    (found,) = result.findings
    assert found.severity is Severity.WARNING and found.subject == "process:4242"
    assert found.message == ("PID 4242 (vllm) has CUDA_VISIBLE_DEVICES=0,2,1, but '2' names no GPU here: CUDA "
                             "stops there, and ignores 1 after it, so it sees GPU 0")
    assert found.evidence["process:4242.cuda_sees"] == [0]
    assert "nvidia-smi -L" in found.fix.commands
    assert any("systemctl edit vllm.service" in command for command in found.fix.commands)
    assert_actionable(found.fix)


def test_a_uuid_of_another_host_hides_every_gpu(h200x2_snapshot):
    (found,) = _run(h200x2_snapshot, gpu_environment=known({"CUDA_VISIBLE_DEVICES": "GPU-8932f937"})).findings
    assert found.severity is Severity.WARNING and "so it sees GPU none" in found.message


def test_minus_one_to_force_the_cpu_is_only_info(h200x2_snapshot):
    (found,) = _run(h200x2_snapshot, gpu_environment=known({"CUDA_VISIBLE_DEVICES": "-1"})).findings
    assert found.severity is Severity.INFO and "runs on the CPU" in found.message


def test_ollama_is_left_to_its_own_rule(h200x2_snapshot):
    result = _run(h200x2_snapshot, program=known("ollama"), gpu_environment=known({"CUDA_VISIBLE_DEVICES": "7"}))
    assert result.outcome is Outcome.PASSED


def test_an_unreadable_environment_is_not_evaluated(h200x2_snapshot):
    result = _run(h200x2_snapshot, gpu_environment=unavailable(Reason.NO_PERMISSION))
    assert result.outcome is Outcome.NOT_EVALUATED and result.missing_fact == "process:4242.gpu_environment"
