from conftest import assert_actionable, known, ollama_running, only_result, single_finding, unavailable, with_gpu, with_ollama

from gpubal.doctor.engine import evaluate
from gpubal.doctor.model import MigInstance, OllamaLogOffload, OllamaModel, Outcome, Reason, Severity

from gpubal.rules.ollama_model_partly_on_cpu import check as rule

# sizes of docs/openapi.yaml's /api/ps example (tests/fixtures/ollama/responses/ps_partial_cpu_openapi.json)
PARTIAL = OllamaModel("gemma3", 6591830464, 5333539264)


def test_a_model_fully_on_gpu_passes(h200x2_snapshot):
    snapshot = ollama_running(h200x2_snapshot, running_models=known([OllamaModel("llama3", 5137025024, 5137025024)]))
    assert only_result(evaluate(snapshot, [rule]), "host").outcome is Outcome.PASSED


def test_a_model_partly_on_cpu_says_how_much_and_what_to_change(h200x2_snapshot):
    snapshot = ollama_running(h200x2_snapshot, running_models=known([PARTIAL]),
                              process_environment=known({"OLLAMA_CONTEXT_LENGTH": "32768", "OLLAMA_GPU_OVERHEAD": "2147483648"}))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.message.startswith("gemma3: 1.2 GiB of its 6.1 GiB (19%) is in system memory")
    assert found.evidence["on_cpu_bytes"] == 1258291200
    assert 'Environment="OLLAMA_CONTEXT_LENGTH=16384"' in found.fix.commands
    assert 'Environment="OLLAMA_KV_CACHE_TYPE=q8_0"' in found.fix.commands
    assert 'Environment="OLLAMA_FLASH_ATTENTION=1"' in found.fix.commands
    assert 'Environment="OLLAMA_GPU_OVERHEAD=0"' in found.fix.commands
    assert_actionable(found.fix)


def test_not_evaluated_when_the_server_did_not_answer(h200x2_snapshot):
    snapshot = ollama_running(h200x2_snapshot, running_models=unavailable(Reason.TIMEOUT))
    assert only_result(evaluate(snapshot, [rule]), "host").missing_fact == "ollama.running_models"
