from helpers import assert_actionable, known, ollama_running, only_result, single_finding, unavailable, with_driver, with_gpu, with_host, with_ollama, with_stack

from gpubal.doctor.engine import evaluate
from gpubal.model import MigInstance, OllamaLogOffload, OllamaModel, Outcome, Reason, Severity

from gpubal.rules.fabric_manager_version_mismatch import fabric_manager_version_mismatch as rule


def _installed(snapshot, version):
    return with_stack(snapshot, fabric_manager_installed=known(True), fabric_manager_version=known(version))


def test_same_version_passes(h200x2_snapshot):
    assert only_result(evaluate(_installed(h200x2_snapshot, "580.159.04"), [rule]), "host").outcome is Outcome.PASSED


def test_other_version_is_an_error(h200x2_snapshot):
    found = single_finding(evaluate(_installed(h200x2_snapshot, "580.95.05"), [rule]), "host")
    assert found.evidence == {"stack.fabric_manager_version": "580.95.05", "driver.version": "580.159.04"}
    assert_actionable(found.fix)


def test_not_evaluated_without_the_package_version(h200x2_snapshot):
    snapshot = with_stack(h200x2_snapshot, fabric_manager_installed=known(True),
                          fabric_manager_version=unavailable(Reason.NOT_FOUND))
    assert only_result(evaluate(snapshot, [rule]), "host").missing_fact == "stack.fabric_manager_version"
