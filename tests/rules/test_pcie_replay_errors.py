from helpers import (assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_gpu,
                      with_host)

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity
from gpubal.rules.pcie_replay_errors import pcie_replay_errors as rule


def test_passes_with_no_replays(h200x2_snapshot):
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"gpu:0": Outcome.PASSED, "gpu:1": Outcome.PASSED}


def test_the_real_h200x1_replay_needs_the_uptime_it_was_not_recorded_with(h200x1_snapshot):
    # one replay since the driver loaded; the recording has no /proc/uptime, so no rate can be computed
    result = only_result(evaluate(h200x1_snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "host.uptime_seconds"


def test_one_replay_in_ten_minutes_is_within_dcgms_limit(h200x1_snapshot):
    snapshot = with_host(h200x1_snapshot, uptime_seconds=known(600))
    assert outcomes(evaluate(snapshot, [rule])) == {"gpu:0": Outcome.PASSED}


def test_eight_a_minute_passes_and_more_is_a_warning(h200x2_snapshot):
    at_limit = with_host(with_gpu(h200x2_snapshot, 1, pcie_replay_count=known(80)), uptime_seconds=known(600))
    assert outcomes(evaluate(at_limit, [rule]))["gpu:1"] is Outcome.PASSED
    above = with_host(with_gpu(h200x2_snapshot, 1, pcie_replay_count=known(81)), uptime_seconds=known(600))
    assert single_finding(evaluate(above, [rule]), "gpu:1").severity is Severity.WARNING


def test_many_replays_are_a_warning(h200x2_snapshot):
    snapshot = with_host(with_gpu(h200x2_snapshot, 1, pcie_replay_count=known(4127)), uptime_seconds=known(600))
    report = evaluate(snapshot, [rule])
    found = single_finding(report, "gpu:1")
    assert found.rule_id == "pcie-replay-errors"
    assert found.severity is Severity.WARNING
    assert found.evidence == {"gpu:1.pcie_replay_count": 4127, "host.uptime_seconds": 600,
                              "replays_per_minute": 412.7}
    assert "4127 packets in at most 10 minutes" in found.message
    assert "nvidia-smi -q -d PCIE -i 1" in found.fix.commands
    assert_actionable(found.fix)
    assert only_result(report, "gpu:0").outcome is Outcome.PASSED


def test_not_evaluated_when_the_counter_is_unavailable(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, pcie_replay_count=unavailable(Reason.NOT_SUPPORTED))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:0.pcie_replay_count"
