from helpers import assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_gpu

from gpubal.doctor.engine import evaluate
from gpubal.model import MigInstance, Outcome, Reason, Severity
from gpubal.rules.mig_enabled_without_instances import mig_enabled_without_instances as rule


def test_passes_with_mig_off(h200x2_snapshot):
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"gpu:0": Outcome.PASSED, "gpu:1": Outcome.PASSED}


def test_mig_on_without_instances_is_an_error(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, mig_enabled_current=known(True), mig_enabled_pending=known(True),
                        mig_instances=known([]))
    report = evaluate(snapshot, [rule])
    found = single_finding(report, "gpu:0")
    assert found.rule_id == "mig-enabled-without-instances"
    assert found.severity is Severity.ERROR
    assert found.subject == "gpu:0"
    assert found.evidence == {"gpu:0.mig_enabled_current": True, "gpu:0.mig_instances": 0}
    assert "sudo nvidia-smi mig -i 0 -lgip" in found.fix.commands
    assert_actionable(found.fix)
    assert only_result(report, "gpu:1").outcome is Outcome.PASSED


def test_mig_on_with_an_instance_passes(h200x2_snapshot):
    instance = MigInstance("MIG-5c5a4b31-0b8c-5b3e-9d0e-1e2f3a4b5c6d", 1, 0, 150754820096 // 7)
    snapshot = with_gpu(h200x2_snapshot, 0, mig_enabled_current=known(True), mig_instances=known([instance]))
    assert only_result(evaluate(snapshot, [rule]), "gpu:0").outcome is Outcome.PASSED


def test_not_evaluated_when_mig_mode_is_unavailable(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, mig_enabled_current=unavailable(Reason.NO_PERMISSION))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:0.mig_enabled_current"


def test_does_not_apply_to_a_gpu_without_mig(h200x2_snapshot):
    # NVML answers "not supported" for the MIG mode of a GPU that has no MIG (an L40S, a GeForce)
    snapshot = with_gpu(h200x2_snapshot, 0, mig_enabled_current=unavailable(Reason.NOT_SUPPORTED))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_APPLICABLE
    assert result.missing_reason == "GPU 0 has no MIG (NVML: not supported)"


def test_not_evaluated_when_mig_devices_cannot_be_listed(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, mig_enabled_current=known(True),
                        mig_instances=unavailable(Reason.NO_PERMISSION))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:0.mig_instances"
