"""Meta-tests on the rules themselves, like ruff's and ansible-lint's: ids, scopes, one-line summaries,
the four documentation sections, references, redirects, and the layer boundary (rules and reports
never touch the host)."""

import ast
import re
from pathlib import Path

import pytest

import gpubal
from gpubal.rules import DOC_SECTIONS, RENAMED, SCOPES, all_rules, find_rule

RULES = all_rules()
RULE_IDS = [r.id for r in RULES]
KEBAB_CASE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")
AREAS = {"driver", "gpu", "mig", "pcie", "nvlink", "topology", "memory", "stack", "ollama", "policy", "balance"}
PACKAGE = Path(gpubal.__file__).parent
FORBIDDEN_IMPORTS = ("pynvml", "subprocess", "socket", "urllib", "gpubal.doctor.probes")


def sections(rule):
    """{section title: body} in the order the docstring has them; titles are the unindented lines."""
    found, title = {}, None
    for line in rule.documentation.splitlines():
        if line and not line[0].isspace():
            title = line.strip()
            found[title] = []
        elif title is not None:
            found[title].append(line.strip())
    return {name: "\n".join(body).strip() for name, body in found.items()}


def test_there_are_rules():
    assert len(RULES) >= 19


def test_one_catalogue_holds_every_kind_of_verdict():
    """Host rules, site-policy checks and balance diagnoses all come from all_rules(): `gpubal rules`,
    `explain`, docs/rules.md and these meta-tests cover each kind."""
    assert {rule.scope for rule in RULES} == set(SCOPES)
    assert {rule.id for rule in RULES if rule.area == "policy"} == {
        "site-policy-gpu-count", "site-policy-gpu-model", "site-policy-nvlink-all-pairs", "site-policy-min-driver"}
    assert {rule.id for rule in RULES if rule.scope == "balance"} == {
        "balance-one-gpu-busy", "balance-layer-split-takes-turns", "balance-gpu-throttled", "balance-memory-imbalance"}


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_rule_object_is_named_after_its_id(rule):
    import importlib

    name = rule.id.replace("-", "_")
    assert rule.check.__name__ == name
    assert getattr(importlib.import_module(rule.check.__module__), name) is rule


def test_site_policy_checks_cover_the_policy_keys():
    from gpubal.doctor.policy import _EXPECT_TYPES

    checks = [rule for rule in RULES if "policy" in rule.inputs]
    assert sorted(rule.policy_key for rule in checks) == sorted(_EXPECT_TYPES)
    assert all(rule.area == "policy" and rule.id.startswith("site-policy-") for rule in checks)
    assert all(not rule.policy_key for rule in RULES if rule not in checks)


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_id_is_kebab_case(rule):
    assert KEBAB_CASE.match(rule.id), rule.id


def test_ids_are_unique():
    assert len(RULE_IDS) == len(set(RULE_IDS))


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_module_is_named_after_the_rule(rule):
    assert rule.check.__module__ == "gpubal.rules." + rule.id.replace("-", "_")


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_scope_and_area_are_valid(rule):
    assert rule.scope in SCOPES
    assert rule.area in AREAS


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_summary_is_one_line(rule):
    assert rule.summary.strip() == rule.summary
    assert rule.summary and "\n" not in rule.summary
    assert len(rule.summary) <= 100


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_docstring_has_the_four_sections_in_order(rule):
    found = sections(rule)
    assert tuple(found) == DOC_SECTIONS, f"{rule.id}: sections are {tuple(found)}"
    assert DOC_SECTIONS == ("What it checks", "Why it matters", "How to fix", "References")
    for name, body in found.items():
        assert body, f"{rule.id}: section {name!r} is empty"


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_references_hold_https_urls(rule):
    references = sections(rule)["References"].split()
    assert references, rule.id
    assert any(url.startswith("https://") for url in references)
    for url in references:
        assert re.match(r"^https://[\w.-]+\.[a-z]{2,}(/\S*)?$", url), f"{rule.id}: {url!r} is not an https URL"


@pytest.mark.parametrize("old, new", sorted(RENAMED.items()))
def test_renamed_ids_redirect_to_existing_rules(old, new):
    assert KEBAB_CASE.match(old)
    assert old not in RULE_IDS, f"{old} is redirected but also used by a rule: ids are never reused"
    assert new in RULE_IDS
    assert find_rule(old) is find_rule(new)


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_find_rule_finds_every_rule(rule):
    assert find_rule(rule.id) is rule


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_explain_prints_every_rule(rule):
    from typer.testing import CliRunner

    from gpubal.cli import app

    result = CliRunner().invoke(app, ["explain", rule.id])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{rule.id} ({rule.area}): {rule.summary}\n")
    assert rule.documentation in result.stdout


def test_find_rule_of_an_unknown_id_is_none():
    assert find_rule("no-such-rule") is None


# --- the layer boundary -------------------------------------------------------------------------------


def imported_modules(source: str, package: str):
    """Absolute names of every module a source file of `package` imports, relative imports resolved."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                module = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield module
            for alias in node.names:  # `from ..doctor import probes` imports a module too
                yield f"{module}.{alias.name}"
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__"):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                yield node.args[0].value


def forbidden(module: str):
    return [name for name in FORBIDDEN_IMPORTS if module == name or module.startswith(name + ".")]


def package_of(path: Path) -> str:
    return ".".join(("gpubal",) + path.relative_to(PACKAGE).parent.parts)


REPORT_FILES = sorted((PACKAGE / "reports").rglob("*.py"))


@pytest.mark.parametrize("path", REPORT_FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_renderers_import_neither_the_rules_nor_the_doctor(path):
    """A renderer gets what it shows from the Report (the engine stamps each result's area) or from its
    caller (the rules to document): it never reaches back up into rules/ or doctor/."""
    modules = imported_modules(path.read_text(encoding="utf-8"), package_of(path))
    bad = sorted({module for module in modules if module.split(".")[:2] in (["gpubal", "rules"], ["gpubal", "doctor"])})
    assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


BOUNDARY_FILES = sorted((PACKAGE / "rules").rglob("*.py")) + sorted((PACKAGE / "reports").rglob("*.py"))


def test_the_boundary_check_sees_files():
    assert any(path.parent.name == "rules" for path in BOUNDARY_FILES)
    assert any(path.parent.name == "reports" for path in BOUNDARY_FILES)


@pytest.mark.parametrize("path", BOUNDARY_FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_rules_and_reports_do_not_touch_the_host(path):
    modules = imported_modules(path.read_text(encoding="utf-8"), package_of(path))
    bad = sorted({module for module in modules if forbidden(module)})
    assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


@pytest.mark.parametrize("source", [
    "from ..doctor.probes.nvml import RealAdapter",
    "from ..doctor import probes",
    "from gpubal.doctor.probes import files",
    "import subprocess",
    "import urllib.request",
    "from socket import create_connection",
    "import pynvml as nvml",
    "importlib.import_module('pynvml')",
])
def test_the_boundary_check_catches_every_form_of_import(source):
    assert any(forbidden(module) for module in imported_modules(source, "gpubal.rules"))


def test_the_boundary_check_allows_the_model():
    modules = list(imported_modules("from ..model import Fix\nfrom ..common import links", "gpubal.rules"))
    assert not any(forbidden(module) for module in modules)
    assert "gpubal.model" in modules and "gpubal.common.links" in modules
