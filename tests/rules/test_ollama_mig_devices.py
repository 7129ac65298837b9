from helpers import assert_actionable, known, ollama_running, only_result, single_finding, unavailable, with_gpu, with_ollama

from gpubal.doctor.engine import evaluate
from gpubal.model import MigInstance, OllamaLogOffload, OllamaModel, Outcome, Reason, Severity

from gpubal.rules.ollama_mig_devices import ollama_mig_devices as rule

MIG = MigInstance("MIG-4f1a2b3c-0000-5000-8000-000000000001", 1, 0, 10 << 30)


def _mig(snapshot):
    return with_gpu(snapshot, 0, mig_enabled_current=known(True), mig_instances=known([MIG]))


def test_no_mig_passes(h200x2_snapshot):
    assert only_result(evaluate(ollama_running(h200x2_snapshot), [rule]), "host").outcome is Outcome.PASSED


def test_one_mig_uuid_passes(h200x2_snapshot):
    snapshot = ollama_running(_mig(h200x2_snapshot), process_environment=known({"CUDA_VISIBLE_DEVICES": MIG.uuid}))
    assert only_result(evaluate(snapshot, [rule]), "host").outcome is Outcome.PASSED


def test_mig_without_a_mig_uuid_is_a_warning(h200x2_snapshot):
    found = single_finding(evaluate(ollama_running(_mig(h200x2_snapshot)), [rule]), "host")
    assert "is not set" in found.message and f'Environment="CUDA_VISIBLE_DEVICES={MIG.uuid}"' in found.fix.commands[1]
    assert_actionable(found.fix)


def test_not_evaluated_when_ollama_is_absent(h200x2_snapshot):
    assert only_result(evaluate(_mig(h200x2_snapshot), [rule]), "host").missing_fact == "ollama"
