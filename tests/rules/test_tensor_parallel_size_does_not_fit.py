"""vLLM and SGLang servers on the recorded 2x H200 host (both GPUs visible unless CUDA_VISIBLE_DEVICES says)."""

import dataclasses

from helpers import assert_actionable, known, only_result, unavailable

from gpubal.doctor.engine import evaluate
from gpubal.model import Known, Outcome, Reason, Severity
from gpubal.rules.tensor_parallel_size_does_not_fit import tensor_parallel_size_does_not_fit as rule
from helpers import SERVER

QWEN3_8B = Known({"num_attention_heads": 32, "num_key_value_heads": 8}, "/models/Qwen3-8B/config.json")


def _run(snapshot, command, environment=None, program="vllm", model_config=QWEN3_8B):
    process = dataclasses.replace(SERVER, program=known(program), command_line=known(command),
                                  gpu_environment=known(environment or {}), model_config=model_config)
    return only_result(evaluate(dataclasses.replace(snapshot, processes=Known([process], "test")), [rule]), "host")


def test_tensor_parallel_over_both_gpus_passes(h200x2_snapshot):
    assert _run(h200x2_snapshot, "vllm serve /models/Qwen3-8B --tensor-parallel-size 2").outcome is Outcome.PASSED
    assert _run(h200x2_snapshot, "python3 -m sglang.launch_server --model-path Qwen/Qwen3-8B --tp 2",
                program="sglang").outcome is Outcome.PASSED


def test_a_size_that_does_not_divide_the_heads_is_an_error(h200x2_snapshot):
    heads_28 = Known({"num_attention_heads": 28}, "/models/Qwen2.5-7B/config.json")
    result = _run(h200x2_snapshot, "vllm serve /models/Qwen2.5-7B -tp 3", model_config=heads_28)
    errors = [f for f in result.findings if f.severity is Severity.ERROR]
    (found,) = errors
    assert "does not divide its model's 28 attention heads" in found.message
    assert found.evidence["process:4242.model_config.source"] == "/models/Qwen2.5-7B/config.json"
    assert found.fix.commands == ("vllm serve MODEL --tensor-parallel-size 2",)
    assert_actionable(found.fix)


def test_more_gpus_than_visible_is_a_warning(h200x2_snapshot):
    result = _run(h200x2_snapshot, "vllm serve /models/Qwen3-8B --tensor-parallel-size 2",
                  environment={"CUDA_VISIBLE_DEVICES": "1"})
    (found,) = result.findings
    assert found.severity is Severity.WARNING
    assert found.message == ("PID 4242 (vllm) needs 2 GPUs (tensor 2 × pipeline 1 × data 1) but its CUDA sees 1: "
                             "it cannot run on this host alone")
    assert "vllm serve MODEL --tensor-parallel-size 1" in found.fix.commands
    assert_actionable(found.fix)


def test_gpus_seen_but_unused_are_advice(h200x2_snapshot):
    (found,) = _run(h200x2_snapshot, "vllm serve /models/Qwen3-8B").findings
    assert found.severity is Severity.INFO and "uses 1 of the 2 GPUs its CUDA sees" in found.message


def test_data_parallel_counts_and_multi_node_is_left_alone(h200x2_snapshot):
    assert _run(h200x2_snapshot, "python3 -m sglang.launch_server --model-path M --tp 2 --dp 2",
                program="sglang").findings[0].severity is Severity.WARNING
    assert _run(h200x2_snapshot, "python3 -m sglang.launch_server --model-path M --tp 4 --nnodes 2",
                program="sglang").outcome is Outcome.PASSED


def test_other_programs_are_not_judged(h200x2_snapshot):
    assert _run(h200x2_snapshot, "python train.py -tp 3", program="python").outcome is Outcome.PASSED


def test_an_unreadable_environment_is_not_evaluated(h200x2_snapshot):
    process = dataclasses.replace(SERVER, command_line=known("vllm serve M -tp 2"),
                                  gpu_environment=unavailable(Reason.NO_PERMISSION))
    snapshot = dataclasses.replace(h200x2_snapshot, processes=Known([process], "test"))
    assert only_result(evaluate(snapshot, [rule]), "host").outcome is Outcome.NOT_EVALUATED
