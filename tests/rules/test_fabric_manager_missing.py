from conftest import assert_actionable, known, ollama_running, only_result, single_finding, unavailable, with_driver, with_gpu, with_host, with_ollama, with_stack

from gpubal.doctor.engine import evaluate
from gpubal.doctor.model import MigInstance, OllamaLogOffload, OllamaModel, Outcome, Reason, Severity

from gpubal.rules.fabric_manager_missing import check as rule


def test_vm_with_a_completed_fabric_passes_without_fabric_manager(h200x2_snapshot):
    assert only_result(evaluate(h200x2_snapshot, [rule]), "host").outcome is Outcome.PASSED


def test_bare_metal_nvswitch_host_without_fabric_manager_is_an_error(h200x2_snapshot):
    snapshot = with_host(h200x2_snapshot, virtualization=known("none"))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.severity is Severity.ERROR and "not installed" in found.message
    assert found.fix.commands == ("sudo apt-get install nvidia-fabricmanager-580",
                                  "sudo systemctl enable --now nvidia-fabricmanager")
    assert_actionable(found.fix)


def test_not_evaluated_without_the_fabric_state(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, fabric_state=unavailable(Reason.API_MISSING))
    assert only_result(evaluate(snapshot, [rule]), "host").missing_fact == "gpu:0.fabric_state"
