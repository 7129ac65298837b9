from helpers import assert_actionable, known, ollama_running, only_result, single_finding, unavailable, with_driver, with_gpu, with_host, with_ollama, with_stack

from gpubal.doctor.engine import evaluate
from gpubal.model import MigInstance, OllamaLogOffload, OllamaModel, Outcome, Reason, Severity

from gpubal.rules.fabric_manager_missing import fabric_manager_missing as rule


def test_vm_with_a_completed_fabric_passes_without_fabric_manager(h200x2_snapshot):
    assert only_result(evaluate(h200x2_snapshot, [rule]), "host").outcome is Outcome.PASSED


def test_a_completed_fabric_passes_on_bare_metal_too(h200x2_snapshot):
    # Fabric Manager set the fabric up wherever it runs: a GPU Operator container leaves no binary on disk
    snapshot = with_host(h200x2_snapshot, virtualization=known("none"))
    assert only_result(evaluate(snapshot, [rule]), "host").outcome is Outcome.PASSED


def test_a_fabric_not_started_without_fabric_manager_is_an_error(h200x2_snapshot):
    snapshot = with_host(h200x2_snapshot, virtualization=known("none"))
    for index in (0, 1):
        snapshot = with_gpu(snapshot, index, fabric_state=known("not_started"))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.severity is Severity.ERROR and "not installed" in found.message
    assert found.fix.commands == ("sudo apt-get install nvidia-fabricmanager-580",
                                  "sudo systemctl enable --now nvidia-fabricmanager")
    assert_actionable(found.fix)


def test_not_evaluated_without_the_fabric_state(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, fabric_state=unavailable(Reason.API_MISSING))
    assert only_result(evaluate(snapshot, [rule]), "host").missing_fact == "gpu:0.fabric_state"


def test_a_running_fabric_manager_process_passes_whatever_its_install_path(h200x2_snapshot):
    snapshot = with_stack(with_gpu(h200x2_snapshot, 0, fabric_state=known("in_progress")),
                          fabric_manager_running=known(True), fabric_manager_installed=known(False))
    assert only_result(evaluate(snapshot, [rule]), "host").outcome is Outcome.PASSED
