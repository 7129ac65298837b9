from helpers import assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_gpu

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity
from gpubal.rules.persistence_mode_off import persistence_mode_off as rule


def test_passes_with_persistence_on(h200x2_snapshot):
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"gpu:0": Outcome.PASSED, "gpu:1": Outcome.PASSED}


def test_persistence_off_is_a_warning(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, persistence_mode=known(False))
    report = evaluate(snapshot, [rule])
    found = single_finding(report, "gpu:0")
    assert found.rule_id == "persistence-mode-off"
    assert found.severity is Severity.WARNING
    assert found.subject == "gpu:0"
    assert found.evidence == {"gpu:0.persistence_mode": False, "driver.persistenced_running": False}
    assert found.fix.commands == ("sudo systemctl enable --now nvidia-persistenced",)
    assert_actionable(found.fix)
    assert only_result(report, "gpu:1").outcome is Outcome.PASSED


def test_evidence_says_why_the_daemon_state_is_unknown_inside_a_container(h200x1_snapshot):
    snapshot = with_gpu(h200x1_snapshot, 0, persistence_mode=known(False))
    found = single_finding(evaluate(snapshot, [rule]), "gpu:0")
    assert found.evidence["driver.persistenced_running"].startswith("not_found (/proc/*/comm)")


def test_not_evaluated_when_persistence_mode_is_unavailable(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, persistence_mode=unavailable(Reason.NOT_SUPPORTED))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:0.persistence_mode"


def test_a_gpu_that_drives_a_display_is_not_warned(h200x2_snapshot):
    # the display server holds the device open, so the driver keeps the GPU initialised without persistence
    snapshot = with_gpu(h200x2_snapshot, 0, persistence_mode=known(False), display_active=known(True))
    assert only_result(evaluate(snapshot, [rule]), "gpu:0").outcome is Outcome.PASSED


def test_a_headless_gpu_is_warned_and_the_evidence_says_no_display(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, persistence_mode=known(False), display_active=known(False))
    found = single_finding(evaluate(snapshot, [rule]), "gpu:0")
    assert found.evidence["gpu:0.display_active"] is False


def test_display_unknown_keeps_the_warning(h200x2_snapshot):
    # a recording or paste that does not show the display: headless servers are what persistence is for
    snapshot = with_gpu(h200x2_snapshot, 0, persistence_mode=known(False),
                        display_active=unavailable(Reason.NOT_IN_INPUT))
    found = single_finding(evaluate(snapshot, [rule]), "gpu:0")
    assert "gpu:0.display_active" not in found.evidence
