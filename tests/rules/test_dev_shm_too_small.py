from helpers import with_snapshot, assert_actionable, known, ollama_running, only_result, single_finding, unavailable, with_driver, with_gpu, with_host, with_ollama, with_stack

from gpubal.doctor.engine import evaluate
from gpubal.model import MigInstance, OllamaLogOffload, OllamaModel, Outcome, Reason, Severity

from gpubal.rules.dev_shm_too_small import dev_shm_too_small as rule


def test_outside_a_container_with_no_gpu_process_passes(h200x2_full_snapshot):
    snapshot = with_snapshot(h200x2_full_snapshot, processes=known([]))
    assert only_result(evaluate(snapshot, [rule]), "host").outcome is Outcome.PASSED


def test_docker_default_64_mib_with_two_gpus_is_a_warning(h200x2_full_snapshot):
    snapshot = with_host(h200x2_full_snapshot, container=known("docker"))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.evidence["stack.dev_shm_bytes"] == 64 << 20 and "--shm-size=1g" in found.fix.commands[1]
    assert_actionable(found.fix)


def test_not_evaluated_without_the_shm_size(h200x2_snapshot):
    snapshot = with_host(h200x2_snapshot, container=known("docker"))
    assert only_result(evaluate(snapshot, [rule]), "host").missing_fact == "stack.dev_shm_bytes"
