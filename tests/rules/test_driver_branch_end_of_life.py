from helpers import assert_actionable, h200x2_stack, known, ollama_running, only_result, single_finding, unavailable, with_driver, with_gpu, with_host, with_ollama, with_pair, with_stack

import dataclasses

from gpubal.doctor.engine import evaluate
from gpubal.model import (LibraryCopy, MigInstance, OllamaLogOffload, OllamaModel, Outcome, PythonPackage, Reason, Severity)

from gpubal.rules.driver_branch_end_of_life import driver_branch_end_of_life as rule


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


def test_an_unlisted_branch_older_than_every_listed_one_is_end_of_life(h200x2_snapshot):
    # R470 has no row; NVIDIA counts every earlier branch not in its table as end of life
    snapshot = with_driver(h200x2_snapshot, version=known("470.256.02"))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.evidence["branch"] == "R470" and found.evidence["oldest branch NVIDIA lists"] == "R535"
    assert found.fix.url == "https://docs.nvidia.com/datacenter/tesla/drivers/supported-drivers-and-cuda-toolkit-versions.html"
    assert_actionable(found.fix)


def test_not_evaluated_for_a_newer_branch_the_matrix_lacks(h200x2_snapshot):
    snapshot = with_driver(h200x2_snapshot, version=known("590.44.01"))
    assert only_result(evaluate(snapshot, [rule]), "host").missing_fact == "matrix: driver branch R590"


def test_an_unlisted_old_branch_in_a_dump_older_than_the_matrix_is_not_judged(h200x2_snapshot):
    # in 2023 R470 was still supported: the note that ends it speaks for the 2026 edition only
    snapshot = dataclasses.replace(with_driver(h200x2_snapshot, version=known("470.256.02")),
                                   collected_at="2023-05-01T00:00:00+00:00")
    assert only_result(evaluate(snapshot, [rule]), "host").missing_fact == "matrix: driver branch R470"


def test_a_branch_with_a_dated_end_of_life_is_judged_in_a_dump_older_than_the_matrix(h200x2_snapshot):
    # R418 ended in March 2022 by NVIDIA's dated row: a dump of July 2024 is past it, whatever edition listed it
    snapshot = dataclasses.replace(with_driver(h200x2_snapshot, version=known("418.74")),
                                   collected_at="2024-07-04T17:13:20")
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.evidence["branch"] == "R418" and found.evidence["end_of_life"] == "2022-03"
