from helpers import assert_actionable, known, ollama_running, only_result, single_finding, unavailable, with_gpu, with_ollama

from gpubal.doctor.engine import evaluate
from gpubal.model import MigInstance, OllamaLogOffload, OllamaModel, Outcome, Reason, Severity

from gpubal.rules.ollama_hidden_gpus import ollama_hidden_gpus as rule

UUID1 = "GPU-ef0d3f05-6806-164c-47f3-28be3d1fcbc3"


def _env(snapshot, value):
    return ollama_running(snapshot, process_environment=known({"CUDA_VISIBLE_DEVICES": value}))


def test_unset_passes(h200x2_snapshot):
    assert only_result(evaluate(ollama_running(h200x2_snapshot), [rule]), "host").outcome is Outcome.PASSED


def test_both_gpus_by_index_and_uuid_prefix_pass(h200x2_snapshot):
    assert only_result(evaluate(_env(h200x2_snapshot, "0,GPU-ef0d3f05"), [rule]), "host").outcome is Outcome.PASSED


def test_one_uuid_hides_the_other_gpu(h200x2_snapshot):
    found = single_finding(evaluate(_env(h200x2_snapshot, UUID1), [rule]), "host")
    assert found.severity is Severity.WARNING and found.evidence["hidden from Ollama"] == ["gpu:0"]
    assert_actionable(found.fix)


def test_an_invalid_index_hides_what_follows_it(h200x2_snapshot):
    found = single_finding(evaluate(_env(h200x2_snapshot, "-1,0,1"), [rule]), "host")
    assert found.severity is Severity.ERROR and "'-1'" in found.message


def test_a_mig_uuid_counts_its_gpu_as_visible(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, mig_instances=known([MigInstance("MIG-abc", 1, 0, 10 << 30)]))
    found = single_finding(evaluate(_env(snapshot, "MIG-abc"), [rule]), "host")
    assert found.evidence["visible to Ollama"] == [0]


def test_not_evaluated_when_no_settings_source_is_readable(h200x2_snapshot):
    snapshot = ollama_running(h200x2_snapshot, process_environment=unavailable(Reason.NO_PERMISSION))
    assert only_result(evaluate(snapshot, [rule]), "host").missing_fact == "ollama.process_environment"
