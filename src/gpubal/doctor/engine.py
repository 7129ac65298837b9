"""Rules x Snapshot -> Report. Each rule runs once per subject of its scope (the host, each GPU, each
pair of GPUs), so every (rule, subject) gets exactly one outcome: passed, finding, not evaluated (a fact
it needed was unavailable), not applicable (no subject of that kind, or the rule found its subject
positively absent), or crashed (a bug in the rule, reported as an internal-error finding while the run
goes on).

Rules of scope "balance" judge what `gpubal balance` sampled instead of a Snapshot: `evaluate_balance`.

The engine loads the compatibility matrix once per run and hands it, like every input a rule declares
(`Rule.inputs`), to the rule as a keyword argument: rules never load anything themselves."""

from __future__ import annotations

import dataclasses
import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from ..rules import SNAPSHOT_SCOPES, Rule
from .. import matrix as _matrix
from ..model import (FactMissing, Finding, Fix, NotApplicable, Outcome, Reason, Report, RuleResult, Severity, Snapshot, Unavailable, need)
from ..common.topology_class import classify_topology

if TYPE_CHECKING:
    from ..model.balance import BalanceReport  # an annotation only: a doctor run never loads it
    from .policy import Policy, PolicyFile


def evaluate(snapshot: Snapshot, rules: Sequence[Rule], policy: "Optional[PolicyFile]" = None,
             matrix: "Optional[_matrix.Matrix]" = None) -> Report:
    """`matrix` defaults to gpubal's own (loaded once, cached); a test may hand in another.

    With a policy, the site-policy checks it asks for run after the host's own rules (so a report lists
    the host's verdicts first, then the site's in the order of the policy's keys), then its skips and
    re-grades apply to every result."""
    matrix = matrix if matrix is not None else _matrix.load_matrix()
    site = None
    if policy is not None:
        from .policy import hostname_of

        site = policy.for_host(hostname_of(snapshot))
    inputs: Dict[str, Any] = {"matrix": matrix, "policy": site}
    taking_part = [rule for rule in rules if _takes_part(rule, site)]
    site_checks = [rule for rule in taking_part if "policy" in rule.inputs]
    if site is not None:
        site_checks.sort(key=lambda rule: site.key_order(rule.policy_key))
    ordered = [rule for rule in taking_part if "policy" not in rule.inputs] + site_checks
    results: List[RuleResult] = []
    for rule in ordered:
        results.extend(_run_rule(rule, snapshot, inputs))
    applied = ""
    if site is not None:
        from .policy import apply

        results, applied = apply(results, site), site.describe()
    return Report(snapshot=snapshot, results=tuple(results), matrix_version=matrix.version, policy=applied,
                  topology_class=classify_topology(snapshot))


def evaluate_balance(observation: BalanceReport, rules: Sequence[Rule]) -> List[RuleResult]:
    """The balance diagnoses: each rule of scope "balance" once, on the observation of a `gpubal balance`
    run (a BalanceReport), in the order given; a crash is an internal-error finding, as for any rule."""
    chosen = [rule for rule in rules if rule.scope == "balance"]
    inputs: Dict[str, Any] = {"matrix": _matrix.load_matrix()} if any("matrix" in rule.inputs for rule in chosen) else {}
    results: List[RuleResult] = []
    for rule in chosen:
        declared = {name: inputs[name] for name in rule.inputs}
        results.append(_run_one(rule, "host", (observation,), declared))
    return results


def _takes_part(rule: Rule, site: "Optional[Policy]") -> bool:
    """A rule of the Snapshot takes part in a doctor run; a site-policy check only when the policy asks
    its question. A rule that does not take part leaves no result at all, like one never selected."""
    if rule.scope not in SNAPSHOT_SCOPES:
        return False
    if "policy" in rule.inputs:
        return site is not None and site.asks(rule.policy_key)
    return True


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
        return [RuleResult(rule.id, "host", Outcome.NOT_APPLICABLE, missing_reason=f"this host has no {what}",
                           area=rule.area)]
    declared = {name: inputs[name] for name in rule.inputs}
    return [_run_one(rule, subject, args, declared) for subject, args in subjects]


def _run_one(rule: Rule, subject: str, args: Tuple[Any, ...], inputs: Dict[str, Any]) -> RuleResult:
    """Each result carries its rule's area, so renderers group results without looking rules up."""
    found: List[Finding] = []
    try:
        for one in rule.check(*args, **inputs):
            found.append(dataclasses.replace(one, rule_id=rule.id))
    except NotApplicable as absent:
        return RuleResult(rule.id, subject, Outcome.NOT_APPLICABLE, missing_reason=absent.reason, area=rule.area)
    except FactMissing as missing:
        if not found:
            return _not_evaluated(rule, subject, missing)
        # a rule that found something before it lacked a fact for a further check keeps its findings;
        # the result still names the fact that stopped it
        return RuleResult(rule.id, subject, Outcome.FINDING, findings=tuple(found),
                          missing_fact=missing.fact_name, missing_reason=missing.unavailable.describe(), area=rule.area)
    except Exception as error:  # noqa: BLE001 - one broken rule must not stop the doctor
        if _is_invalid_version(error):
            # a version string that is not a version (a hand-edited snapshot, a garbled paste): the comparison
            # the rule needed cannot be made, which is "not evaluated", not a bug in the rule
            missing = FactMissing("a version number", Unavailable(Reason.ERROR, "snapshot",
                                                                   f"not a version number: {error}"))
            return _not_evaluated(rule, subject, missing) if not found else RuleResult(
                rule.id, subject, Outcome.FINDING, findings=tuple(found), missing_fact=missing.fact_name,
                missing_reason=missing.unavailable.describe(), area=rule.area)
        return RuleResult(rule.id, subject, Outcome.CRASHED, findings=(_crash_finding(rule, subject, error),),
                          area=rule.area)
    outcome = Outcome.FINDING if found else Outcome.PASSED
    return RuleResult(rule.id, subject, outcome, findings=tuple(found), area=rule.area)


def _is_invalid_version(error: Exception) -> bool:
    """packaging's InvalidVersion, without importing packaging: when it is not imported yet, nothing raised it
    (the rules read plain versions without it, gpubal.rules._stack)."""
    module = sys.modules.get("packaging.version")
    return module is not None and isinstance(error, module.InvalidVersion)


def _not_evaluated(rule: Rule, subject: str, missing: FactMissing) -> RuleResult:
    return RuleResult(rule.id, subject, Outcome.NOT_EVALUATED, missing_fact=missing.fact_name,
                      missing_reason=missing.unavailable.describe(), area=rule.area)


def _crash_finding(rule: Rule, subject: str, error: Exception) -> Finding:
    import traceback  # only a crashed rule needs it

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
