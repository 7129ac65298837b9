from helpers import assert_actionable, known, ollama_running, only_result, single_finding, unavailable, with_gpu, with_ollama

from gpubal.doctor.engine import evaluate
from gpubal.model import MigInstance, OllamaLogOffload, OllamaModel, Outcome, Reason, Severity

from gpubal.rules.ollama_unknown_setting import ollama_unknown_setting as rule


def test_known_settings_pass(h200x2_snapshot):
    snapshot = ollama_running(h200x2_snapshot, service_environment=known({"OLLAMA_HOST": "0.0.0.0", "OLLAMA_NUM_PARALLEL": "2"}))
    assert only_result(evaluate(snapshot, [rule]), "host").outcome is Outcome.PASSED


def test_ollama_scheduler_does_not_exist(h200x2_snapshot):
    snapshot = ollama_running(h200x2_snapshot, service_environment=known({"OLLAMA_SCHEDULER": "spread"}))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.severity is Severity.WARNING and "OLLAMA_SCHED_SPREAD" in found.fix.summary
    assert_actionable(found.fix)


def test_tensor_parallel_flag_says_ollama_has_none_and_names_vllm_and_sglang(h200x2_snapshot):
    snapshot = ollama_running(h200x2_snapshot, service_exec_start=known("/usr/local/bin/ollama serve --tensor-parallel 2"))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert "does not do tensor parallelism" in found.message and "--tensor-parallel-size" in found.message
    assert "--tp-size" in found.message


def test_a_setting_the_server_config_line_does_not_list(h200x2_snapshot):
    snapshot = ollama_running(h200x2_snapshot, service_environment=known({"OLLAMA_MAX_VRAM": "1"}),
                              log_server_config=known({"OLLAMA_HOST": "http://127.0.0.1:11434"}))
    assert "does not list it" in single_finding(evaluate(snapshot, [rule]), "host").message


def test_not_evaluated_when_ollama_is_absent(h200x2_snapshot):
    assert only_result(evaluate(h200x2_snapshot, [rule]), "host").missing_fact == "ollama"
