from helpers import assert_actionable, known, ollama_running, only_result, single_finding, unavailable, with_driver, with_gpu, with_host, with_ollama, with_stack

from gpubal.doctor.engine import evaluate
from gpubal.model import MigInstance, OllamaLogOffload, OllamaModel, Outcome, Reason, Severity

from gpubal.rules.ollama_gpu_unsupported import ollama_gpu_unsupported as rule


def test_hopper_passes(h200x2_snapshot):
    assert only_result(evaluate(ollama_running(h200x2_snapshot), [rule]), "gpu:0").outcome is Outcome.PASSED


def test_kepler_is_an_error(h200x2_snapshot):
    snapshot = with_gpu(ollama_running(h200x2_snapshot), 1, compute_capability=known("3.7"))
    found = single_finding(evaluate(snapshot, [rule]), "gpu:1")
    assert found.evidence == {"gpu:1.compute_capability": "3.7", "ollama minimum compute capability": "5.0"}
    assert_actionable(found.fix)


def test_not_evaluated_when_ollama_is_absent(h200x2_snapshot):
    assert only_result(evaluate(h200x2_snapshot, [rule]), "gpu:0").missing_fact == "ollama"
