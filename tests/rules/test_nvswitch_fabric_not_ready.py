from helpers import assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_gpu

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity
from gpubal.rules.nvswitch_fabric_not_ready import nvswitch_fabric_not_ready as rule


def test_passes_when_registration_completed_with_success(h200x2_snapshot):
    gpu = h200x2_snapshot.gpu_list()[0]
    assert (gpu.fabric_state.value, gpu.fabric_status.value) == ("completed", "success")
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"gpu:0": Outcome.PASSED, "gpu:1": Outcome.PASSED}


def test_passes_on_a_gpu_without_a_fabric(h200x1_snapshot):
    assert h200x1_snapshot.gpu_list()[0].fabric_state.value == "not_supported"
    assert outcomes(evaluate(h200x1_snapshot, [rule])) == {"gpu:0": Outcome.PASSED}


def test_fabric_state_not_supported_passes_whatever_the_status(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, fabric_state=known("not_supported"),
                        fabric_status=unavailable(Reason.NOT_SUPPORTED))
    assert only_result(evaluate(snapshot, [rule]), "gpu:0").outcome is Outcome.PASSED


def test_registration_in_progress_is_an_error(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 1, fabric_state=known("in_progress"))
    report = evaluate(snapshot, [rule])
    found = single_finding(report, "gpu:1")
    assert found.rule_id == "nvswitch-fabric-not-ready"
    assert found.severity is Severity.ERROR
    assert found.subject == "gpu:1"
    assert found.evidence == {"gpu:1.fabric_state": "in_progress"}
    assert "state: in progress" in found.message and "802" in found.message
    assert "sudo systemctl enable --now nvidia-fabricmanager" in found.fix.commands
    assert_actionable(found.fix)
    assert only_result(report, "gpu:0").outcome is Outcome.PASSED


def test_fabric_manager_not_started_is_an_error(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, fabric_state=known("not_started"))
    found = single_finding(evaluate(snapshot, [rule]), "gpu:0")
    assert found.evidence == {"gpu:0.fabric_state": "not_started"}


def test_registration_completed_with_an_error_is_an_error(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, fabric_status=known("not_ready"))
    found = single_finding(evaluate(snapshot, [rule]), "gpu:0")
    assert found.severity is Severity.ERROR
    assert found.evidence == {"gpu:0.fabric_state": "completed", "gpu:0.fabric_status": "not_ready"}


def test_not_evaluated_when_the_fabric_state_is_unavailable(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, fabric_state=unavailable(Reason.API_MISSING))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:0.fabric_state"


def test_not_evaluated_when_a_completed_registration_has_no_status(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, fabric_status=unavailable(Reason.ERROR))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:0.fabric_status"


def test_does_not_apply_to_a_gpu_without_an_nvswitch_fabric(h200x2_snapshot):
    # NVML answers "not supported" for the fabric of a GPU that has none (an L40S, a PCIe H100)
    snapshot = with_gpu(h200x2_snapshot, 0, fabric_state=unavailable(Reason.NOT_SUPPORTED))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_APPLICABLE
    assert result.missing_reason == "GPU 0 has no NVSwitch fabric (NVML: not supported)"


def test_not_evaluated_when_the_fabric_state_could_not_be_read(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, fabric_state=unavailable(Reason.API_MISSING))
    assert only_result(evaluate(snapshot, [rule]), "gpu:0").outcome is Outcome.NOT_EVALUATED


def test_fabric_manager_is_not_asked_for_on_gpus_without_a_fabric(h200x2_snapshot):
    from gpubal.rules.fabric_manager_missing import fabric_manager_missing

    snapshot = h200x2_snapshot
    for index in (0, 1):
        snapshot = with_gpu(snapshot, index, fabric_state=unavailable(Reason.NOT_SUPPORTED))
    assert only_result(evaluate(snapshot, [fabric_manager_missing]), "host").outcome is Outcome.PASSED
