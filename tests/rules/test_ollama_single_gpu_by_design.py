from helpers import assert_actionable, known, ollama_running, only_result, single_finding, unavailable, with_gpu, with_ollama

from gpubal.doctor.engine import evaluate
from gpubal.model import MigInstance, OllamaLogOffload, OllamaModel, Outcome, Reason, Severity

from gpubal.rules.ollama_single_gpu_by_design import ollama_single_gpu_by_design as rule


def test_no_models_and_no_log_pass(h200x2_snapshot):
    assert only_result(evaluate(ollama_running(h200x2_snapshot), [rule]), "host").outcome is Outcome.PASSED


def test_a_model_that_fits_one_gpu_is_information(h200x2_snapshot):
    snapshot = ollama_running(h200x2_snapshot, running_models=known([OllamaModel("llama3", 5137025024, 5137025024)]),
                              log_offloads=known([OllamaLogOffload("", 33, 33, (33,), "", 0)]))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.severity is Severity.INFO and found.evidence["log offload layers.split"] == [33]
    assert found.fix.commands[1] == ("CUDA_VISIBLE_DEVICES=GPU-ef0d3f05-6806-164c-47f3-28be3d1fcbc3 "
                                     "OLLAMA_HOST=127.0.0.1:11435 ollama serve")
    assert_actionable(found.fix)


def test_sched_spread_passes(h200x2_snapshot):
    snapshot = ollama_running(h200x2_snapshot, running_models=known([OllamaModel("llama3", 5137025024, 5137025024)]),
                              process_environment=known({"OLLAMA_SCHED_SPREAD": "1"}))
    assert only_result(evaluate(snapshot, [rule]), "host").outcome is Outcome.PASSED


def test_not_evaluated_without_models_or_log(h200x2_snapshot):
    snapshot = ollama_running(h200x2_snapshot, running_models=unavailable(Reason.TIMEOUT))
    assert only_result(evaluate(snapshot, [rule]), "host").missing_fact == "ollama.running_models"
