"""Every Ollama rule on a host where Ollama was looked for everywhere and is not there: "does not apply"
with the reason, one verdict shared by all of them. Where a trace could not be looked at (a recording
that did not include Ollama, a server that timed out), they are not evaluated instead."""

from helpers import unavailable, with_ollama

import pytest

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason
from gpubal.rules import all_rules

OLLAMA_RULES = [rule for rule in all_rules() if rule.id.startswith("ollama-")]
ABSENT = {name: unavailable(Reason.NOT_FOUND, f"no {name}") for name in (
    "binary_path", "server_version", "service_environment", "process_environment", "log_source")}


def test_there_are_ollama_rules():
    assert len(OLLAMA_RULES) >= 7


@pytest.mark.parametrize("rule", OLLAMA_RULES, ids=lambda rule: rule.id)
def test_ollama_rules_do_not_apply_where_ollama_is_absent(h200x2_snapshot, rule):
    results = evaluate(with_ollama(h200x2_snapshot, **ABSENT), [rule]).results
    assert {result.outcome for result in results} == {Outcome.NOT_APPLICABLE}
    assert all(result.missing_reason.startswith("no Ollama on this host") for result in results)


@pytest.mark.parametrize("rule", OLLAMA_RULES, ids=lambda rule: rule.id)
def test_a_server_that_timed_out_is_not_absence(h200x2_snapshot, rule):
    facts = {**ABSENT, "server_version": unavailable(Reason.TIMEOUT, "no answer within 2 s")}
    results = evaluate(with_ollama(h200x2_snapshot, **facts), [rule]).results
    assert {result.outcome for result in results} == {Outcome.NOT_EVALUATED}
    assert {result.missing_fact for result in results} == {"ollama"}
