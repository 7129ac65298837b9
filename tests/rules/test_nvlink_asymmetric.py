import dataclasses

from helpers import (assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_gpu,
                      with_nvlinks)

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity
from gpubal.rules.nvlink_asymmetric import nvlink_asymmetric as rule


def test_passes_with_18_links_on_both_gpus(h200x2_snapshot):
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"host": Outcome.PASSED}


def test_passes_on_a_gpu_without_nvlink(h200x1_snapshot):
    assert outcomes(evaluate(h200x1_snapshot, [rule])) == {"host": Outcome.PASSED}


def test_gpu_with_fewer_links_is_a_warning(h200x2_snapshot):
    snapshot = with_nvlinks(h200x2_snapshot, 1, inactive=[16, 17])
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.rule_id == "nvlink-asymmetric"
    assert found.severity is Severity.WARNING
    assert found.subject == "host"
    assert found.evidence == {"gpu:0.nvlinks_active": 18, "gpu:1.nvlinks_active": 16}
    assert found.message == "NVIDIA H200: GPU 1 has fewer active NVLinks than the others (18)"
    assert found.fix.commands == ("nvidia-smi nvlink -s -i 1",)
    assert_actionable(found.fix)


def test_not_evaluated_when_a_gpu_links_are_unavailable(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 0, nvlinks=unavailable(Reason.API_MISSING))
    result = only_result(evaluate(snapshot, [rule]), "host")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:0.nvlinks"


def test_not_evaluated_when_one_link_state_is_unavailable(h200x2_snapshot):
    links = list(h200x2_snapshot.gpu_list()[1].nvlinks.value)
    links[3] = dataclasses.replace(links[3], active=unavailable(Reason.ERROR))
    snapshot = with_gpu(h200x2_snapshot, 1, nvlinks=known(links))
    result = only_result(evaluate(snapshot, [rule]), "host")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:1.nvlink:3.active"
