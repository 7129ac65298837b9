"""Clock event reasons on the recorded 2x H200 host (idle when recorded: gpu_idle), made busy and hot."""

import pytest
from helpers import assert_actionable, known, only_result, unavailable, with_gpu

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity
from gpubal.rules.gpu_throttled_while_busy import gpu_throttled_while_busy as rule


def _result(snapshot, reasons, utilization):
    changed = with_gpu(snapshot, 1, clock_event_reasons=known(reasons), utilization_gpu_percent=utilization)
    return only_result(evaluate(changed, [rule]), "gpu:1")


def test_the_recorded_idle_host_passes_without_knowing_utilization(h200x2_snapshot):
    report = evaluate(h200x2_snapshot, [rule])
    assert {r.outcome for r in report.results} == {Outcome.PASSED}


def test_a_busy_gpu_in_thermal_slowdown_is_a_warning(h200x2_snapshot):
    result = _result(h200x2_snapshot, ["sw_thermal_slowdown", "hw_thermal_slowdown"], known(97))
    (found,) = result.findings
    assert found.severity is Severity.WARNING and found.subject == "gpu:1"
    assert found.message == "GPU 1 is busy (97%) and slowed down: sw_thermal_slowdown, hw_thermal_slowdown"
    assert found.evidence == {"gpu:1.clock_event_reasons": ["sw_thermal_slowdown", "hw_thermal_slowdown"],
                              "gpu:1.utilization_gpu_percent": 97}
    assert found.fix.commands == ("nvidia-smi -i 1 -q -d PERFORMANCE,TEMPERATURE,POWER",)
    assert_actionable(found.fix)


def test_the_power_cap_under_load_is_only_advice(h200x2_snapshot):
    (found,) = _result(h200x2_snapshot, ["sw_power_cap"], known(100)).findings
    assert found.severity is Severity.INFO and "sudo nvidia-smi -i 1 -pl WATTS" in found.fix.commands


@pytest.mark.parametrize("reasons, utilization", [
    (["gpu_idle", "sw_thermal_slowdown"], known(0)),  # idle clocks are not throttling
    (["hw_slowdown"], known(0)),  # no kernel ran in the last sample period
    ([], known(100)),  # busy and free to boost
    (["applications_clocks_setting"], known(100)),
])
def test_idle_or_unthrottled_gpus_pass(h200x2_snapshot, reasons, utilization):
    assert _result(h200x2_snapshot, reasons, utilization).outcome is Outcome.PASSED


def test_throttled_with_unknown_utilization_is_not_evaluated(h200x2_snapshot):
    result = _result(h200x2_snapshot, ["hw_power_brake_slowdown"], unavailable(Reason.NOT_SUPPORTED))
    assert result.outcome is Outcome.NOT_EVALUATED and result.missing_fact == "gpu:1.utilization_gpu_percent"
