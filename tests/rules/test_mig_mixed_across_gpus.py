from helpers import assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_gpu

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity
from gpubal.rules.mig_mixed_across_gpus import mig_mixed_across_gpus as rule


def test_passes_with_mig_off_everywhere(h200x2_snapshot):
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"host": Outcome.PASSED}


def test_passes_with_mig_on_everywhere(h200x2_snapshot):
    snapshot = with_gpu(with_gpu(h200x2_snapshot, 0, mig_enabled_current=known(True)), 1,
                        mig_enabled_current=known(True))
    assert outcomes(evaluate(snapshot, [rule])) == {"host": Outcome.PASSED}


def test_mig_on_one_gpu_only_is_advice(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, mig_enabled_current=known(True))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.rule_id == "mig-mixed-across-gpus"
    assert found.severity is Severity.INFO
    assert found.subject == "host"
    assert found.evidence == {"gpu:0.mig_enabled_current": True, "gpu:1.mig_enabled_current": False}
    assert found.fix.commands == ("nvidia-smi -L", "sudo nvidia-smi -i 0 -mig 0")
    assert_actionable(found.fix)


def test_not_evaluated_when_a_gpu_mig_mode_is_unavailable(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 1, mig_enabled_current=unavailable(Reason.TIMEOUT))
    result = only_result(evaluate(snapshot, [rule]), "host")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:1.mig_enabled_current"


def test_a_gpu_without_mig_is_left_out_of_the_comparison(h200x2_snapshot):
    # GPU 1 has no MIG (NVML: not supported); GPU 0 with MIG on is then no mix
    snapshot = with_gpu(h200x2_snapshot, 0, mig_enabled_current=known(True))
    snapshot = with_gpu(snapshot, 1, mig_enabled_current=unavailable(Reason.NOT_SUPPORTED))
    assert only_result(evaluate(snapshot, [rule]), "host").outcome is Outcome.PASSED
