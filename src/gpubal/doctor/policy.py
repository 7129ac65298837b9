"""Site policy: what this site expects of its hosts, as data (`gpubal doctor --policy site.toml`).

Like LBNL NHC's per-node configuration, a policy states what a healthy node of a kind looks like, and
every mismatch is a finding that says "actual X, expected Y":

    [expect]                        # every host
    gpu_count = 8
    gpu_model = "NVIDIA H100 80GB HBM3"   # the NVML name; a glob (`*H100*`) works too
    nvlink_all_pairs = true         # every pair of GPUs joined by NVLink (direct or NVSwitch)
    min_driver = "550.54.15"

    [rules]
    skip = ["persistence-mode-off"]            # not evaluated here, and the report says why
    severity = { pcie-replay-errors = "error" } # re-grade a rule's findings

    [[host]]                        # hosts whose name matches a glob; later sections win
    match = ["gpu-a-*", "gpu-b-*"]
    expect = { gpu_count = 4 }
    rules = { skip = ["nvlink-asymmetric"] }

This module reads and validates the file and applies its skips and re-grades. The checks themselves are
rules (`gpubal/rules/site_policy_*.py`) that the engine runs with the policy as an input, each only when
the policy sets its [expect] key; their findings are errors unless the policy re-grades them. Skipping
and re-grading apply after the rules ran (the engine calls `apply`). A key gpubal does not know, a value
of the wrong type, or a rule id that does not exist is a PolicyError: a typo must not silently turn a
check off.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..model import Known, Outcome, RuleResult, Severity, Snapshot, record

MAX_POLICY_BYTES = 1 << 20  # a policy for hundreds of host patterns is a few KB

# the [expect] keys, in the order their checks appear in a report; each asks for the site-policy-* rule
# whose policy_key it is (a test keeps them in step)
_EXPECT_TYPES = {"gpu_count": int, "gpu_model": str, "nvlink_all_pairs": bool, "min_driver": str}
_RULES_KEYS = ("skip", "severity")
_TOP_KEYS = ("name", "expect", "rules", "host")
_HOST_KEYS = ("match", "expect", "rules")


class PolicyError(ValueError):
    """A policy file that cannot be used: one line for the user, naming the key at fault."""


@record
class Policy:
    name: str  # the file name, or the policy's own `name`
    expect: Mapping[str, Any] = field(default_factory=dict)
    skip: Tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    sections: Tuple[str, ...] = ()  # the [[host]] globs that matched, for the report

    def describe(self) -> str:
        return self.name + (f" (host sections {', '.join(self.sections)})" if self.sections else "")

    def asks(self, key: str) -> bool:
        """Whether the policy sets this [expect] key, so that the site-policy rule checking it runs;
        `nvlink_all_pairs = false` asks nothing, `gpu_count = 0` asks for no GPUs."""
        value = self.expect.get(key)
        return value is not None and value is not False

    def key_order(self, key: str) -> int:
        """Where an [expect] key stands among the keys gpubal knows: its check's place in a report."""
        keys = list(_EXPECT_TYPES)
        return keys.index(key) if key in keys else len(keys)


@record
class _Section:
    match: Tuple[str, ...]
    expect: Mapping[str, Any]
    skip: Tuple[str, ...]
    severity: Mapping[str, Severity]


@record
class PolicyFile:
    """A parsed policy file: the part for every host, and the sections for host-name patterns."""

    name: str
    everywhere: _Section
    hosts: Tuple[_Section, ...]

    def for_host(self, hostname: Optional[str]) -> Policy:
        """The policy for one host: the top level, then each matching [[host]] section over it."""
        expect = dict(self.everywhere.expect)
        skip = list(self.everywhere.skip)
        severity = dict(self.everywhere.severity)
        matched: List[str] = []
        from fnmatch import fnmatchcase  # here: a policy without [[host]] sections matches no pattern

        for section in self.hosts:
            hit = next((glob for glob in section.match if hostname is not None and fnmatchcase(hostname, glob)), None)
            if hit is None:
                continue
            matched.append(hit)
            expect.update(section.expect)
            skip += [rule_id for rule_id in section.skip if rule_id not in skip]
            severity.update(section.severity)
        return Policy(self.name, expect, tuple(skip), severity, tuple(matched))


def _known_rule_ids() -> Dict[str, str]:
    """Every id a policy may name (rules, site-policy checks among them, and renamed rules) -> the id it
    means now."""
    from ..rules import RENAMED, all_rules

    ids = {rule.id: rule.id for rule in all_rules()}
    ids.update({old: new for old, new in RENAMED.items()})
    return ids


known_rule_ids = _known_rule_ids


def ignore_rules(results: Sequence[RuleResult], rule_ids: Sequence[str]) -> List[RuleResult]:
    """`--ignore RULE` on the command line: like a policy's rules.skip, for this run only."""
    return [_not_applicable(result, "ignored on the command line (--ignore)")
            if result.rule_id in rule_ids else result for result in results]


def _not_applicable(result: RuleResult, why: str) -> RuleResult:
    """The result of a rule the user turned off: same rule, subject and area, no findings."""
    return dataclasses.replace(result, outcome=Outcome.NOT_APPLICABLE, findings=(), missing_fact="", missing_reason=why)


def _unknown(what: str, name: str, known: Iterable[str]) -> PolicyError:
    import difflib  # only a policy with a typo needs it

    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}"
    return PolicyError(f"unknown {what} {name!r}{hint}")


def _check_keys(table: Any, allowed: Sequence[str], where: str) -> Mapping[str, Any]:
    if not isinstance(table, dict):
        raise PolicyError(f"{where} must be a table")
    for key in table:
        if key not in allowed:
            raise _unknown(f"key in {where}", key, allowed)
    return table


def _section(table: Mapping[str, Any], where: str, rule_ids: Mapping[str, str]) -> _Section:
    expect = dict(_check_keys(table.get("expect", {}), list(_EXPECT_TYPES), f"{where}expect"))
    for key, value in expect.items():
        wanted = _EXPECT_TYPES[key]
        if type(value) is not wanted:  # bool is an int in Python; `gpu_count = true` is still a typo
            raise PolicyError(f"{where}expect.{key} must be {'an integer' if wanted is int else 'true or false' if wanted is bool else 'a string'}, "
                              f"not {value!r}")
    if "gpu_count" in expect and expect["gpu_count"] < 0:
        raise PolicyError(f"{where}expect.gpu_count must not be negative")
    if "min_driver" in expect:
        _driver_version(expect["min_driver"], f"{where}expect.min_driver")
    rules = _check_keys(table.get("rules", {}), _RULES_KEYS, f"{where}rules")
    skip = rules.get("skip", [])
    if not isinstance(skip, list) or not all(isinstance(item, str) for item in skip):
        raise PolicyError(f"{where}rules.skip must be a list of rule ids")
    for rule_id in skip:
        if rule_id not in rule_ids:
            raise _unknown(f"rule id in {where}rules.skip:", rule_id, rule_ids)
    severity_table = _check_keys(rules.get("severity", {}), list(rule_ids), f"{where}rules.severity") \
        if isinstance(rules.get("severity", {}), dict) else None
    if severity_table is None:
        raise PolicyError(f"{where}rules.severity must be a table of rule id = \"error\" | \"warning\" | \"info\"")
    severity: Dict[str, Severity] = {}
    for rule_id, level in severity_table.items():
        if level not in ("error", "warning", "info"):
            raise PolicyError(f"{where}rules.severity.{rule_id} must be \"error\", \"warning\" or \"info\", not {level!r}")
        severity[rule_ids[rule_id]] = Severity(level)
    return _Section((), expect, tuple(rule_ids[rule_id] for rule_id in skip), severity)


def parse_policy(text: str, name: str) -> PolicyFile:
    # the TOML reader here, not at import: --ignore without a policy file needs none of it
    if sys.version_info >= (3, 11):
        import tomllib as _toml
    else:  # pragma: no cover - exercised on 3.9/3.10 only
        import tomli as _toml

    from ..common.bounded import TooLarge, parse_bounded

    try:
        data = parse_bounded(_toml.loads, text, MAX_POLICY_BYTES)
    except TooLarge as error:
        raise PolicyError(f"refused: the policy is {error}") from None
    except _toml.TOMLDecodeError as error:
        raise PolicyError(f"not valid TOML: {error}") from None
    _check_keys(data, _TOP_KEYS, "the top level")
    rule_ids = _known_rule_ids()
    everywhere = _section(data, "", rule_ids)
    hosts = data.get("host", [])
    if not isinstance(hosts, list):
        raise PolicyError("host must be an array of tables: [[host]]")
    sections = []
    for number, table in enumerate(hosts, 1):
        where = f"host #{number}: "
        _check_keys(table, _HOST_KEYS, f"[[host]] #{number}")
        match = table.get("match")
        if isinstance(match, str):
            match = [match]
        if not match or not isinstance(match, list) or not all(isinstance(glob, str) and glob for glob in match):
            raise PolicyError(f"[[host]] #{number} needs match = \"GLOB\" or a list of globs")
        section = _section(table, where, rule_ids)
        sections.append(dataclasses.replace(section, match=tuple(match)))
    policy_name = data.get("name", name)
    if not isinstance(policy_name, str):
        raise PolicyError("name must be a string")
    return PolicyFile(policy_name, everywhere, tuple(sections))


def _driver_version(text: str, where: str) -> Tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        raise PolicyError(f"{where} must be a driver version like \"550.54.15\", not {text!r}") from None


def apply(results: Sequence[RuleResult], policy: Policy) -> List[RuleResult]:
    """The results (the policy's own checks among them) with skipped rules marked and findings re-graded."""
    out: List[RuleResult] = []
    for result in results:
        if result.rule_id in policy.skip:
            out.append(_not_applicable(result, f"skipped by site policy {policy.name}"))
            continue
        level = policy.severity.get(result.rule_id)
        if level is not None and result.findings:
            result = dataclasses.replace(result, findings=tuple(
                dataclasses.replace(finding, severity=level) for finding in result.findings))
        out.append(result)
    return out


def hostname_of(snapshot: Snapshot) -> Optional[str]:
    return snapshot.host.hostname.value if isinstance(snapshot.host.hostname, Known) else None
