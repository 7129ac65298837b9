"""CONTRIBUTING.md promises that a rule's id leads to its code, documentation, scenarios and tests. The
scenarios and the documentation have their own meta-tests; this one checks the last link: every rule is
named (in either spelling) by at least one test module besides the catalogue-wide ones."""

from __future__ import annotations

import re

import pytest

from gpubal.rules import all_rules
from helpers.paths import TESTS

CATALOGUE_WIDE = {"test_rule_docs.py", "test_scenarios.py", "test_rule_index.py", "test_links.py"}
TEST_TEXTS = {path: path.read_text(encoding="utf-8") for path in TESTS.rglob("test_*.py")
              if path.name not in CATALOGUE_WIDE}


@pytest.mark.parametrize("rule", all_rules(), ids=lambda rule: rule.id)
def test_every_rule_has_a_test_module_that_names_it(rule):
    spelled = re.compile(re.escape(rule.id).replace(r"\-", "[-_]"))
    naming = sorted(str(path.relative_to(TESTS)) for path, text in TEST_TEXTS.items() if spelled.search(text))
    assert naming, f"no test module names {rule.id}; CONTRIBUTING.md says where its tests belong"


def test_the_paths_contributing_names_exist():
    text = (TESTS.parent / "CONTRIBUTING.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:src|tests|docs)/[\w./-]+?)`", text))
    missing = sorted(path for path in named if "*" not in path and not (TESTS.parent / path).exists())
    assert named and not missing, f"CONTRIBUTING.md names paths that do not exist: {missing}"
