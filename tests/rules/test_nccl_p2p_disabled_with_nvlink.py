from helpers import assert_actionable, known, ollama_running, only_result, single_finding, unavailable, with_driver, with_gpu, with_host, with_ollama, with_stack

from gpubal.doctor.engine import evaluate
from gpubal.model import MigInstance, OllamaLogOffload, OllamaModel, Outcome, Reason, Severity

from gpubal.rules.nccl_p2p_disabled_with_nvlink import nccl_p2p_disabled_with_nvlink as rule


def test_passes_without_p2p_variables(h200x2_full_snapshot):
    assert only_result(evaluate(h200x2_full_snapshot, [rule]), "host").outcome is Outcome.PASSED


def test_p2p_disable_on_an_nvlink_host_is_a_warning(h200x2_snapshot):
    snapshot = with_stack(h200x2_snapshot, environment=known({"NCCL_P2P_DISABLE": "1"}))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.evidence == {"stack.environment": {"NCCL_P2P_DISABLE": "1"}, "NVLink pairs": ["gpu:0-gpu:1"]}
    assert_actionable(found.fix)


def test_p2p_level_loc_is_a_warning(h200x2_snapshot):
    snapshot = with_stack(h200x2_snapshot, environment=known({"NCCL_P2P_LEVEL": "LOC"}))
    assert "NCCL_P2P_LEVEL=LOC" in single_finding(evaluate(snapshot, [rule]), "host").message


def test_not_evaluated_without_the_environment(h200x2_snapshot):
    snapshot = with_stack(h200x2_snapshot, environment=unavailable(Reason.NO_PERMISSION))
    assert only_result(evaluate(snapshot, [rule]), "host").missing_fact == "stack.environment"
