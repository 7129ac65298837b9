from helpers import assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_gpu

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity
from gpubal.rules.pcie_link_downtrained import pcie_link_downtrained as rule


def test_passes_at_gen5_x16(h200x2_snapshot):
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"gpu:0": Outcome.PASSED, "gpu:1": Outcome.PASSED}


def test_narrower_link_is_a_warning(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, pcie_link_width_current=known(8))
    report = evaluate(snapshot, [rule])
    found = single_finding(report, "gpu:0")
    assert found.rule_id == "pcie-link-downtrained"
    assert found.severity is Severity.WARNING
    assert found.subject == "gpu:0"
    assert found.evidence == {"gpu:0.pcie_link_width_current": 8, "gpu:0.pcie_link_width_max": 16}
    assert found.message == "GPU 0 PCIe link runs at x8, below the x16 it can reach"
    assert "sudo lspci -vv -s 0000:00:06.0 | grep -E 'LnkCap|LnkSta'" in found.fix.commands
    assert_actionable(found.fix)
    assert only_result(report, "gpu:1").outcome is Outcome.PASSED


def test_narrower_link_is_reported_even_on_an_idle_gpu(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, pcie_link_width_current=known(4), clock_event_reasons=known(["gpu_idle"]))
    assert single_finding(evaluate(snapshot, [rule]), "gpu:0").evidence["gpu:0.pcie_link_width_current"] == 4


def test_lower_generation_on_an_idle_gpu_is_power_saving_and_passes(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, pcie_link_gen_current=known(1),
                        clock_event_reasons=known(["gpu_idle"]))
    assert only_result(evaluate(snapshot, [rule]), "gpu:0").outcome is Outcome.PASSED


def test_lower_generation_on_a_busy_gpu_is_a_warning(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 1, pcie_link_gen_current=known(3),
                        clock_event_reasons=known(["sw_power_cap"]))
    found = single_finding(evaluate(snapshot, [rule]), "gpu:1")
    assert found.severity is Severity.WARNING
    assert found.evidence == {
        "gpu:1.pcie_link_width_current": 16, "gpu:1.pcie_link_width_max": 16,
        "gpu:1.pcie_link_gen_current": 3, "gpu:1.pcie_link_gen_max": 5,
        "gpu:1.clock_event_reasons": ["sw_power_cap"],
    }
    assert "Gen3 while busy, below the Gen5" in found.message
    assert_actionable(found.fix)


def test_narrower_link_is_kept_when_the_generation_cannot_be_read(h200x2_snapshot):
    # the width finding is real even though the generation check could not run
    snapshot = with_gpu(h200x2_snapshot, 0, pcie_link_width_current=known(8),
                        pcie_link_gen_current=unavailable(Reason.NOT_SUPPORTED))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.FINDING
    assert [f.evidence["gpu:0.pcie_link_width_current"] for f in result.findings] == [8]
    assert result.missing_fact == "gpu:0.pcie_link_gen_current"


def test_not_evaluated_when_the_width_is_unavailable(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, pcie_link_width_current=unavailable(Reason.NOT_SUPPORTED))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:0.pcie_link_width_current"


def test_not_evaluated_when_a_lower_generation_cannot_be_told_idle_or_busy(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, pcie_link_gen_current=known(3),
                        clock_event_reasons=unavailable(Reason.API_MISSING))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:0.clock_event_reasons"
