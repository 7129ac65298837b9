from conftest import assert_actionable, h200x2_stack, known, ollama_running, only_result, single_finding, unavailable, with_driver, with_gpu, with_host, with_ollama, with_pair, with_stack

import dataclasses

from gpubal.doctor.engine import evaluate
from gpubal.doctor.model import LibraryCopy, MigInstance, OllamaLogOffload, OllamaModel, Outcome, PythonPackage, Reason, Severity

from gpubal.rules.driver_branch_end_of_life import check as rule


def test_r580_passes(h200x2_snapshot):
    assert only_result(evaluate(h200x2_snapshot, [rule]), "host").outcome is Outcome.PASSED


def test_r535_after_june_2026_is_a_warning(h200x2_snapshot):
    snapshot = dataclasses.replace(with_driver(h200x2_snapshot, version=known("535.104.05")),
                                   collected_at="2026-07-01T00:00:00+00:00")
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.evidence == {"driver.version": "535.104.05", "branch": "R535", "end_of_life": "2026-06",
                              "snapshot date": "2026-07-01"}
    assert "R580" in found.fix.summary
    assert_actionable(found.fix)


def test_r535_before_its_end_passes(h200x2_snapshot):
    snapshot = dataclasses.replace(with_driver(h200x2_snapshot, version=known("535.104.05")),
                                   collected_at="2026-06-30T00:00:00+00:00")
    assert only_result(evaluate(snapshot, [rule]), "host").outcome is Outcome.PASSED


def test_not_evaluated_for_a_branch_the_matrix_lacks(h200x2_snapshot):
    snapshot = with_driver(h200x2_snapshot, version=known("470.256.02"))
    assert only_result(evaluate(snapshot, [rule]), "host").missing_fact == "matrix: driver branch R470"
