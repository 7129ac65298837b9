"""Rules x Snapshot -> Report. Each rule runs once per subject of its scope (the host, each GPU, each
pair of GPUs), so every (rule, subject) gets exactly one outcome: passed, finding, not evaluated (a fact
it needed was unavailable), not applicable (no subject of that kind, or the rule found its subject
positively absent), or crashed (a bug in the rule, reported as an internal-error finding while the run
goes on).

The engine loads the compatibility matrix once per run and hands it, like every input a rule declares
(`Rule.inputs`), to the rule as a keyword argument: rules never load anything themselves."""

from __future__ import annotations

import dataclasses
import traceback
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from packaging.version import InvalidVersion

from ..rules import Rule
from .. import matrix as _matrix
from ..model import (FactMissing, Finding, Fix, NotApplicable, Outcome, Reason, Report, RuleResult, Severity, Snapshot, Unavailable, need)
from ..common.topology_class import classify_topology

if TYPE_CHECKING:
    from .policy import PolicyFile


def evaluate(snapshot: Snapshot, rules: Sequence[Rule], policy: "Optional[PolicyFile]" = None,
             matrix: "Optional[_matrix.Matrix]" = None) -> Report:
    """`matrix` defaults to gpubal's own (loaded once, cached); a test may hand in another."""
    matrix = matrix if matrix is not None else _matrix.load_matrix()
    inputs: Dict[str, Any] = {"matrix": matrix}
    results: List[RuleResult] = []
    for rule in rules:
        # each result carries its rule's area, so renderers group results without looking rules up
        results.extend(dataclasses.replace(result, area=rule.area) for result in _run_rule(rule, snapshot, inputs))
    applied = ""
    if policy is not None:  # after the rules ran: its checks added, skipped rules marked, findings re-graded
        from .policy import apply, hostname_of

        site = policy.for_host(hostname_of(snapshot))
        results, applied = apply(results, snapshot, site), site.describe()
    return Report(snapshot=snapshot, results=tuple(results), matrix_version=matrix.version, policy=applied,
                  topology_class=classify_topology(snapshot))


def _subjects(rule: Rule, snapshot: Snapshot) -> List[Tuple[str, Tuple[Any, ...]]]:
    if rule.scope == "host":
        return [("host", (snapshot,))]
    if rule.scope == "gpu":
        return [(gpu.subject(), (gpu, snapshot)) for gpu in need(snapshot.gpus, "gpus")]
    return [(pair.subject(), (pair, snapshot)) for pair in need(snapshot.pairs, "pairs")]


def _run_rule(rule: Rule, snapshot: Snapshot, inputs: Dict[str, Any]) -> List[RuleResult]:
    try:
        subjects = _subjects(rule, snapshot)
    except FactMissing as missing:
        return [_not_evaluated(rule, "host", missing)]
    if not subjects:
        what = "GPUs" if rule.scope == "gpu" else "pairs of GPUs"
        return [RuleResult(rule.id, "host", Outcome.NOT_APPLICABLE, missing_reason=f"this host has no {what}")]
    declared = {name: inputs[name] for name in rule.inputs}
    return [_run_one(rule, subject, args, declared) for subject, args in subjects]


def _run_one(rule: Rule, subject: str, args: Tuple[Any, ...], inputs: Dict[str, Any]) -> RuleResult:
    found: List[Finding] = []
    try:
        for one in rule.check(*args, **inputs):
            found.append(dataclasses.replace(one, rule_id=rule.id))
    except NotApplicable as absent:
        return RuleResult(rule.id, subject, Outcome.NOT_APPLICABLE, missing_reason=absent.reason)
    except FactMissing as missing:
        if not found:
            return _not_evaluated(rule, subject, missing)
        # a rule that found something before it lacked a fact for a further check keeps its findings;
        # the result still names the fact that stopped it
        return RuleResult(rule.id, subject, Outcome.FINDING, findings=tuple(found),
                          missing_fact=missing.fact_name, missing_reason=missing.unavailable.describe())
    except InvalidVersion as error:
        # a version string that is not a version (a hand-edited snapshot, a garbled paste): the comparison
        # the rule needed cannot be made, which is "not evaluated", not a bug in the rule
        missing = FactMissing("a version number", Unavailable(Reason.ERROR, "snapshot", f"not a version number: {error}"))
        return _not_evaluated(rule, subject, missing) if not found else RuleResult(
            rule.id, subject, Outcome.FINDING, findings=tuple(found), missing_fact=missing.fact_name,
            missing_reason=missing.unavailable.describe())
    except Exception as error:  # noqa: BLE001 - one broken rule must not stop the doctor
        return RuleResult(rule.id, subject, Outcome.CRASHED, findings=(_crash_finding(rule, subject, error),))
    outcome = Outcome.FINDING if found else Outcome.PASSED
    return RuleResult(rule.id, subject, outcome, findings=tuple(found))


def _not_evaluated(rule: Rule, subject: str, missing: FactMissing) -> RuleResult:
    return RuleResult(rule.id, subject, Outcome.NOT_EVALUATED, missing_fact=missing.fact_name,
                      missing_reason=missing.unavailable.describe())


def _crash_finding(rule: Rule, subject: str, error: Exception) -> Finding:
    where = traceback.extract_tb(error.__traceback__)[-1]
    return Finding(
        rule_id=rule.id,
        severity=Severity.ERROR,
        subject=subject,
        message=f"internal error: rule {rule.id} crashed ({type(error).__name__}: {error}); "
                f"this is a bug in gpubal, and the other rules still ran",
        evidence={"exception": f"{type(error).__name__}: {error}", "at": f"{where.filename}:{where.lineno}"},
        fix=Fix(summary="Report it with the snapshot attached: `gpubal collect -o snapshot.json`"),
    )
