from helpers import assert_actionable, known, ollama_running, only_result, single_finding, unavailable, with_driver, with_gpu, with_host, with_ollama, with_stack

from gpubal.doctor.engine import evaluate
from gpubal.model import MigInstance, OllamaLogOffload, OllamaModel, Outcome, Reason, Severity

from gpubal.rules.ollama_driver_too_old import ollama_driver_too_old as rule


def test_passes_with_a_580_driver(h200x2_snapshot):
    assert only_result(evaluate(ollama_running(h200x2_snapshot), [rule]), "host").outcome is Outcome.PASSED


def test_driver_below_both_floors_is_an_error(h200x2_snapshot):
    snapshot = with_driver(ollama_running(h200x2_snapshot), version=known("525.147.05"))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.severity is Severity.ERROR and found.evidence["ollama minimum driver"] == "550"
    assert_actionable(found.fix)


def test_driver_between_531_and_550_is_a_warning(h200x2_snapshot):
    snapshot = with_driver(ollama_running(h200x2_snapshot), version=known("535.104.05"))
    assert single_finding(evaluate(snapshot, [rule]), "host").severity is Severity.WARNING


def test_not_evaluated_on_one_fact_when_ollama_is_absent(h200x2_snapshot):
    result = only_result(evaluate(h200x2_snapshot, [rule]), "host")
    assert result.outcome is Outcome.NOT_EVALUATED and result.missing_fact == "ollama"
