"""Named pass and fail scenarios for the rules: tests/rules/scenarios/<rule-id>/{pass,fail}-<what>.json.

A scenario is a recorded host with a few facts changed, and what the rule must conclude about it:

    {
      "about": "GPU 0's PCIe link trained at x8 although the slot and the GPU can do x16 ...",
      "base": "h200x2",
      "set": {"gpus.0.pcie_link_width_current": 8},
      "expect": {"subject": "gpu:0", "outcome": "finding", "severity": "warning",
                 "message": "runs at x8, below the x16"}
    }

- `base` names a host recorded under tests/fixtures: `<name>` is the snapshot gpubal collects from
  nvml/<name>.json and roots/<name>/ (h200x2, h200x1, mixed-h100-a100, ...); `h200x2-full` is h200x2 with
  its real CUDA/cuDNN/NCCL/torch stack (roots/h200x2-stack). For the balance diagnoses (rules of scope
  "balance"), `balance:<name>` is what `gpubal balance` observes replaying balance/<name>.json; such a
  scenario has no `set`: the recorded series is the case.
- `set` maps dotted paths of the snapshot file (what `gpubal collect -o` writes) to new values, applied in
  order. A path steps through a fact's value by itself (`gpus.0.nvlinks.2.active`, not
  `gpus.value.0...`); list items are numbered from 0. Values are written plainly: wherever the model
  holds a fact, a plain value becomes a known fact with source "scenario" and
  `{"unavailable": "not_supported", "detail": "..."}` an unavailable one, also inside a new list item
  (a process, a loaded model). A new key is allowed only in a mapping fact (`stack.environment.X`). The
  result is read back through the snapshot file codec, so a scenario that names a fact the model does
  not have, or gives it the wrong type, fails with a message naming the path.
- `policy` (site-policy rules only): the tables of the `--policy` file, as JSON
  (`{"expect": {"gpu_count": 8}}` is `[expect]` / `gpu_count = 8`).
- `expect`: `outcome` (passed / finding / not_evaluated / not_applicable), and for a finding its
  `severity` and a fragment of its `message`, optionally a subset of its `evidence` (where the rule gives
  several findings for the subject, one of them must match all three). With a `subject` — the
  result's, by the rule's scope: `host` (whose findings may name a GPU or a process), `gpu:0`,
  `gpu:0-gpu:1` — the rule's one result for that subject must match; without one, every result the rule
  gives must (a pass scenario: the rule passes on every GPU).

A file named pass-* must expect `passed`; one named fail-* must expect `finding` and name its subject,
severity and message.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import sys
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Union

from gpubal.model import Finding, Known, Outcome, RuleResult, Severity, Snapshot
from gpubal.snapshot_file import snapshot_from_dict, to_jsonable

from .balance import replay_balance
from .paths import FIXTURES, TESTS
from .snapshots import h200x2_stack, real_snapshot

if TYPE_CHECKING:
    from gpubal.doctor.policy import PolicyFile

SCENARIOS = TESTS / "rules" / "scenarios"
BALANCE = "balance:"  # a base that is a recorded `gpubal balance` series, not a host snapshot
PREFIX_OUTCOME = {"pass": Outcome.PASSED, "fail": Outcome.FINDING}
_KEYS = {"about", "base", "set", "policy", "expect"}
_EXPECT_KEYS = {"subject", "outcome", "severity", "message", "evidence"}


class ScenarioError(ValueError):
    """A scenario file that cannot be read as written: says which file and what is wrong."""


@dataclasses.dataclass(frozen=True)
class Scenario:
    rule_id: str  # the folder it lives in
    name: str  # the file name without .json: pass-<what> or fail-<what>
    path: Path
    about: str
    base: str
    edits: Dict[str, Any]
    expect: Dict[str, Any]
    policy_tables: Dict[str, Any]  # the site policy file's tables, {} for a run without --policy

    @property
    def kind(self) -> str:
        return self.name.split("-", 1)[0]

    def snapshot(self) -> Snapshot:
        data = copy.deepcopy(_base_dict(self.base))
        for path, value in self.edits.items():
            try:
                _set(data, path, value)
            except (KeyError, IndexError, ValueError, TypeError) as error:
                raise ScenarioError(f"{self.path}: cannot set {path}: {error}") from None
        try:
            return snapshot_from_dict(_as_facts(Snapshot, data, "snapshot"))
        except ValueError as error:
            raise ScenarioError(f"{self.path}: the edited snapshot does not load: {error}") from None


    def policy(self) -> "Optional[PolicyFile]":
        """The site policy of a `gpubal doctor --policy FILE` run, parsed from the TOML its tables make."""
        if not self.policy_tables:
            return None
        from gpubal.doctor.policy import parse_policy

        return parse_policy(_toml(self.policy_tables), f"{self.path.stem}.toml")


def load(path: Path) -> Scenario:
    data = json.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - _KEYS
    if unknown or not {"about", "base", "expect"} <= set(data):
        raise ScenarioError(f"{path}: keys must be {sorted(_KEYS)} ('set' may be left out), got {sorted(data)}")
    if set(data["expect"]) - _EXPECT_KEYS or "outcome" not in data["expect"]:
        raise ScenarioError(f"{path}: expect takes {sorted(_EXPECT_KEYS)} and needs outcome")
    scenario = Scenario(rule_id=path.parent.name, name=path.stem, path=path, about=data["about"],
                        base=data["base"], edits=data.get("set", {}), expect=data["expect"],
                        policy_tables=data.get("policy", {}))
    wanted = PREFIX_OUTCOME.get(scenario.kind)
    if wanted is None or Outcome(scenario.expect["outcome"]) is not wanted:
        raise ScenarioError(f"{path}: a pass-* scenario expects 'passed' and a fail-* one 'finding'")
    if scenario.base.startswith(BALANCE) and scenario.edits:
        raise ScenarioError(f"{path}: a balance scenario is its recorded series as it stands; it has no 'set'")
    if scenario.kind == "fail" and not {"subject", "severity", "message"} <= set(scenario.expect):
        raise ScenarioError(f"{path}: a fail-* scenario names the subject, severity and message it expects")
    return scenario


def all_scenarios() -> List[Scenario]:
    return [load(path) for path in sorted(SCENARIOS.glob("*/*.json"))]


def run(scenario: Scenario) -> List[RuleResult]:
    """The scenario's rule run by the real engine on the scenario's snapshot (or balance observation)."""
    from gpubal.doctor.engine import evaluate
    from gpubal.rules import find_rule

    rule = find_rule(scenario.rule_id)
    assert rule is not None and rule.id == scenario.rule_id, f"{scenario.path}: no rule {scenario.rule_id}"
    if scenario.base.startswith(BALANCE):
        from gpubal.balance.analysis import analyze
        from gpubal.doctor.engine import evaluate_balance

        return list(evaluate_balance(analyze(replay_balance(scenario.base[len(BALANCE):])), [rule]))
    return list(evaluate(scenario.snapshot(), [rule], policy=scenario.policy()).results)


def check(scenario: Scenario, results: Sequence[RuleResult]) -> None:
    """Assert that `results` (the rule run on the scenario's case) conclude what the scenario expects."""
    expect = scenario.expect
    results = [result for result in results if result.rule_id == scenario.rule_id]
    assert results, f"{scenario.path}: the rule gave no result"
    subject = expect.get("subject")
    if subject is not None:
        results = [result for result in results if result.subject == subject]
        assert len(results) == 1, f"{scenario.path}: expected one result for {subject}, got {results}"
    for result in results:
        where = f"{scenario.path}: {result.subject}"
        assert result.outcome is Outcome(expect["outcome"]), f"{where}: {result}"
        if result.outcome is Outcome.FINDING:
            assert any(_matches(finding, expect) for finding in result.findings), \
                f"{where}: no finding matches {expect}: {result.findings}"


def _matches(finding: Finding, expect: Dict[str, Any]) -> bool:
    """One finding (a rule may give several for one subject) with the severity, message fragment and
    evidence the scenario expects."""
    return ((not expect.get("severity") or finding.severity is Severity(expect["severity"]))
            and expect.get("message", "") in finding.message
            and all(key in finding.evidence and finding.evidence[key] == value
                    for key, value in expect.get("evidence", {}).items()))


# --- the bases: hosts recorded under tests/fixtures ------------------------------------------------------


@functools.lru_cache(maxsize=None)
def base_snapshot(base: str) -> Snapshot:
    if base == "h200x2-full":
        return dataclasses.replace(real_snapshot("h200x2"), stack=h200x2_stack())
    if not (FIXTURES / "nvml" / f"{base}.json").is_file():
        raise ScenarioError(f"no recorded host {base!r} under {FIXTURES / 'nvml'}")
    return real_snapshot(base)


@functools.lru_cache(maxsize=None)
def _base_dict(base: str) -> Dict[str, Any]:
    return to_jsonable(base_snapshot(base))


# --- dotted paths ----------------------------------------------------------------------------------------


def _is_fact(node: Any) -> bool:
    return isinstance(node, dict) and "source" in node and ("value" in node or "unavailable" in node)


def _step(node: Any, key: str) -> Any:
    if _is_fact(node) and key not in node:
        if "unavailable" in node:
            raise ValueError(f"{key!r} is inside a fact the base does not have ({node['unavailable']}); "
                             "set the whole fact instead")
        return node["value"]
    return node


def _index(node: Any, key: str) -> Any:
    return int(key) if isinstance(node, list) else key


def _set(data: Dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = _step(node, key)
        node = node[_index(node, key)]
    stepped = _step(node, last)
    key = _index(stepped, last)
    if isinstance(stepped, dict) and key not in stepped:
        # a new key is a new entry of a mapping fact (an environment variable, say); anywhere else it is
        # a misspelt fact, which the codec would silently ignore
        if stepped is node:
            raise KeyError(f"no fact named {last!r} here (have {sorted(stepped)})")
        stepped[key] = value
        return
    stepped[key] = value


def _as_facts(hint: Any, data: Any, path: str) -> Any:
    """`data` as the snapshot file writes it: every value where the model (type `hint`) holds a fact
    wrapped as a known or unavailable fact; fields the model lacks refused."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Union:
        if isinstance(data, dict) and "unavailable" in data:
            return {"unavailable": data["unavailable"], "source": data.get("source", "scenario"),
                    "detail": data.get("detail", "")}
        fact = data if _is_fact(data) else {"value": data, "source": "scenario"}
        known = next(arg for arg in args if typing.get_origin(arg) is Known)
        return {**fact, "value": _as_facts(typing.get_args(known)[0], fact["value"], path)}
    if dataclasses.is_dataclass(hint) and isinstance(data, dict):
        hints = typing.get_type_hints(hint, vars(sys.modules[hint.__module__]))
        unknown = sorted(set(data) - set(hints))
        if unknown:
            raise ScenarioError(f"{path}: {hint.__name__} has no field {unknown[0]!r} (fields: {sorted(hints)})")
        return {key: _as_facts(hints[key], value, f"{path}.{key}") for key, value in data.items()}
    if origin in (list, tuple) and isinstance(data, list):
        return [_as_facts(args[0], item, f"{path}.{number}") for number, item in enumerate(data)]
    if origin is dict and isinstance(data, dict):
        return {key: _as_facts(args[1], value, f"{path}.{key}") for key, value in data.items()}
    return data


def _toml(tables: Dict[str, Any]) -> str:
    """A policy file's text from its tables: `[name]` with `key = value` lines (a list of tables, such as
    `host`, as `[[name]]` blocks). JSON strings, numbers, booleans and arrays of them are TOML as written."""
    lines: List[str] = []
    for name, table in tables.items():
        if not isinstance(table, (dict, list)):
            lines.append(f"{name} = {json.dumps(table)}")
    for name, table in tables.items():
        for block in (table if isinstance(table, list) else [table] if isinstance(table, dict) else []):
            lines.append(f"[[{name}]]" if isinstance(table, list) else f"[{name}]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in block.items()]
    return "\n".join(lines) + "\n"
