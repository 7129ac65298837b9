from helpers import assert_actionable, known, ollama_running, only_result, single_finding, unavailable, with_gpu, with_ollama

from gpubal.doctor.engine import evaluate
from gpubal.model import MigInstance, OllamaLogOffload, OllamaModel, Outcome, Reason, Severity

from gpubal.rules.ollama_model_partly_on_cpu import ollama_model_partly_on_cpu as rule

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
    drop_in = found.fix.commands[0]
    assert drop_in.startswith("sudo systemctl edit ollama")
    assert 'Environment="OLLAMA_CONTEXT_LENGTH=16384"' in drop_in
    assert 'Environment="OLLAMA_KV_CACHE_TYPE=q8_0"' in drop_in
    assert 'Environment="OLLAMA_FLASH_ATTENTION=1"' in drop_in
    assert 'Environment="OLLAMA_GPU_OVERHEAD=0"' in drop_in
    assert_actionable(found.fix)


def test_not_evaluated_when_the_server_did_not_answer(h200x2_snapshot):
    snapshot = ollama_running(h200x2_snapshot, running_models=unavailable(Reason.TIMEOUT))
    assert only_result(evaluate(snapshot, [rule]), "host").missing_fact == "ollama.running_models"


# the llama.cpp runner's `offloaded 5/37 layers to GPU` (tests/fixtures/dumps/ollama-log/5of37-partial-offload-journald.txt)
FROM_LOG = dict(running_models=unavailable(Reason.NOT_IN_INPUT), log_source=known("ollama.log"))


def test_a_partial_load_in_the_log_is_a_warning_when_the_server_is_not_there(h200x2_snapshot):
    loads = [OllamaLogOffload("", 37, 5, (), "", 0), OllamaLogOffload("", 37, 5, (), "", 0)]
    snapshot = with_ollama(h200x2_snapshot, **FROM_LOG, log_offloads=known(loads))
    found = single_finding(evaluate(snapshot, [rule]), "host")  # the same load twice is one finding
    assert found.message.startswith("a model: only 5 of its 37 layers were put on GPUs")
    assert (found.evidence["layers_on_gpu"], found.evidence["layers_total"]) == (5, 37)
    assert_actionable(found.fix)


def test_a_full_load_in_the_log_passes(h200x2_snapshot):
    loads = [OllamaLogOffload("sha256-feef62", 81, 81, (41, 40), "41,40", 0)]
    snapshot = with_ollama(h200x2_snapshot, **FROM_LOG, log_offloads=known(loads))
    assert only_result(evaluate(snapshot, [rule]), "host").outcome is Outcome.PASSED
