"""Every rule's named scenarios (tests/rules/scenarios/<rule-id>/) run through the real engine, and every
rule has at least one pass and one fail scenario a newcomer can open next to its code."""

from __future__ import annotations

import json

import pytest

from helpers.scenarios import SCENARIOS, ScenarioError, all_scenarios, check, load, run

from gpubal.rules import all_rules

SCENARIO_LIST = all_scenarios()

# Rules registered without scenarios yet, each with the reason; the meta-test prints them and fails when
# one of them gains both scenarios (so the entry is removed) or when a rule outside this set lacks one.
PENDING: dict = {}


@pytest.mark.parametrize("scenario", SCENARIO_LIST, ids=lambda s: f"{s.rule_id}/{s.name}")
def test_scenario(scenario):
    check(scenario, run(scenario))


def test_every_rule_has_a_pass_and_a_fail_scenario():
    kinds = {}
    for scenario in SCENARIO_LIST:
        kinds.setdefault(scenario.rule_id, set()).add(scenario.kind)
    lacking = {r.id: sorted({"pass", "fail"} - kinds.get(r.id, set())) for r in all_rules()}
    lacking = {rule_id: kinds for rule_id, kinds in lacking.items() if kinds}
    if PENDING:
        print(f"rules still without scenarios ({len(PENDING)}): {', '.join(sorted(PENDING))}")
    assert sorted(set(lacking) - set(PENDING)) == [], f"rules lacking scenarios: {lacking}"
    assert sorted(set(PENDING) - set(lacking)) == [], "these have their scenarios now; drop them from PENDING"


def test_every_scenario_folder_names_a_registered_rule():
    ids = {r.id for r in all_rules()}
    folders = {path.name for path in SCENARIOS.iterdir() if path.is_dir()}
    assert sorted(folders - ids) == []


# --- the format itself: a scenario that says something else than it means is refused, not passed --------

def _write(tmp_path, name, body):
    folder = tmp_path / "persistence-mode-off"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(body))
    return path


def test_a_misspelt_fact_is_refused_naming_it(tmp_path):
    path = _write(tmp_path, "fail-typo", {"about": "", "base": "h200x2", "set": {"gpus.0.persistance_mode": False},
                                          "expect": {"subject": "gpu:0", "outcome": "finding", "severity": "warning",
                                                     "message": "Persistence is off"}})
    with pytest.raises(ScenarioError, match="cannot set gpus.0.persistance_mode: .*no fact named 'persistance_mode'"):
        load(path).snapshot()


def test_a_field_the_model_lacks_in_a_new_item_is_refused(tmp_path):
    path = _write(tmp_path, "pass-typo", {"about": "", "base": "h200x2", "expect": {"outcome": "passed"},
                                          "set": {"processes": [{"pid": 1, "programme": "vllm"}]}})
    with pytest.raises(ScenarioError, match="snapshot.processes.0: GpuProcess has no field 'programme'"):
        load(path).snapshot()


def test_a_wrong_type_is_refused_by_the_codec(tmp_path):
    path = _write(tmp_path, "pass-type", {"about": "", "base": "h200x2", "expect": {"outcome": "passed"},
                                          "set": {"gpus.0.persistence_mode": "off"}})
    with pytest.raises(ScenarioError, match="persistence_mode: expected bool, got str"):
        load(path).snapshot()


def test_a_pass_scenario_must_expect_a_pass(tmp_path):
    path = _write(tmp_path, "pass-wrong", {"about": "", "base": "h200x2", "expect": {"outcome": "finding"}})
    with pytest.raises(ScenarioError, match="a pass-\\* scenario expects 'passed'"):
        load(path)


def test_an_expectation_the_rule_does_not_meet_fails(tmp_path):
    path = _write(tmp_path, "fail-wrong", {"about": "", "base": "h200x2", "set": {"gpus.0.persistence_mode": False},
                                           "expect": {"subject": "gpu:0", "outcome": "finding", "severity": "error",
                                                      "message": "Persistence is off"}})
    scenario = load(path)
    with pytest.raises(AssertionError, match="no finding matches"):
        check(scenario, run(scenario))
