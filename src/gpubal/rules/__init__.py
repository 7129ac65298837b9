"""The rules: small pure functions of the Snapshot that yield findings.

Each module in this package holds one rule (or a small family) named after its id. A rule is a function
decorated with `@rule(...)`; its docstring is user documentation with four sections — What it checks,
Why it matters, How to fix, References — which `gpubal explain ID` prints. Rules read no files and call
no programs: everything they know comes from the Snapshot and the inputs they declare (`inputs=("matrix",)`),
which the engine hands in as keyword arguments of the same name.

Discovery walks the modules of this package; there is no central table to edit.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from ..model import Finding, Fix, Severity, record

SNAPSHOT_SCOPES = ("host", "gpu", "gpu_pair")  # the scopes `gpubal doctor` evaluates against a Snapshot
SCOPES = SNAPSHOT_SCOPES + ("balance",)  # "balance": `gpubal balance` evaluates it against what it sampled
# What a rule may ask the engine for besides its subject; each arrives as a keyword argument of that name.
#   matrix: the compatibility matrix (gpubal.matrix.Matrix), loaded once per run
#   policy: the site policy for this host (gpubal.doctor.policy.Policy: name, expect, ...). A rule that
#           needs it takes part only in a run with `--policy`, and only when the policy sets the rule's
#           `policy_key` in its [expect] table: a question the site did not ask gets no answer
INPUTS = ("matrix", "policy")
DOC_SECTIONS = ("What it checks", "Why it matters", "How to fix", "References")

# Ids are never reused; a renamed or merged rule keeps a redirect here.
RENAMED: Dict[str, str] = {
    "nvml-driver-library-mismatch": "kernel-module-userspace-mismatch",
}


@record
class Rule:
    id: str
    scope: str  # "host": check(snapshot); "gpu": check(gpu, snapshot); "gpu_pair": check(pair, snapshot);
    # "balance": check(observation), the BalanceReport of a `gpubal balance` run (gpubal.model.balance)
    area: str  # "driver", "gpu", "mig", "pcie", "nvlink", "topology", "memory", "stack", "ollama", "policy", "balance"
    summary: str  # what it checks, in one line
    check: Callable[..., Iterable[Finding]]
    inputs: Tuple[str, ...] = ()  # of INPUTS; the engine passes each as a keyword argument
    policy_key: str = ""  # a site-policy check: the [expect] key that asks for it

    @property
    def documentation(self) -> str:
        import inspect  # only `gpubal explain` and the docs need it; not every start

        from ..common.links import expand_names  # References name their pages as links.NAME

        return expand_names(inspect.cleandoc(self.check.__doc__ or ""))


def rule(id: str, scope: str, area: str, summary: str, inputs: Tuple[str, ...] = (),
         policy_key: str = "") -> Callable[[Callable[..., Iterable[Finding]]], Rule]:
    if scope not in SCOPES:
        raise ValueError(f"rule {id}: scope must be one of {SCOPES}")
    unknown = [name for name in inputs if name not in INPUTS]
    if unknown:
        raise ValueError(f"rule {id}: inputs must be among {INPUTS}, not {unknown}")
    if bool(policy_key) != ("policy" in inputs):
        raise ValueError(f"rule {id}: a rule with the policy input names the policy_key that asks for it, and only it")
    if scope == "balance" and "policy" in inputs:
        raise ValueError(f"rule {id}: `gpubal balance` has no site policy to hand a balance rule")

    def wrap(check: Callable[..., Iterable[Finding]]) -> Rule:
        return Rule(id=id, scope=scope, area=area, summary=summary, check=check, inputs=tuple(inputs),
                    policy_key=policy_key)

    return wrap


def finding(severity: Severity, subject: str, message: str, evidence: Dict[str, Any], fix: Fix) -> Finding:
    """A finding without its rule id; the engine stamps the id of the rule that yielded it."""
    return Finding(rule_id="", severity=severity, subject=subject, message=message, evidence=evidence, fix=fix)


_RULES: Optional[List[Rule]] = None


def all_rules() -> List[Rule]:
    """Every verdict gpubal can give, of every scope (host rules, site-policy checks, balance diagnoses),
    sorted by id: `gpubal rules`, `explain`, docs/rules.md and the meta-tests all read this one list."""
    global _RULES
    if _RULES is None:
        found: Dict[str, Rule] = {}
        for module in _rule_modules():
            for value in vars(module).values():
                if isinstance(value, Rule):
                    if value.id in found and found[value.id] is not value:
                        raise RuntimeError(f"two rules share the id {value.id}")
                    found[value.id] = value
        _RULES = sorted(found.values(), key=lambda r: r.id)
    return list(_RULES)


def _rule_modules() -> List[ModuleType]:
    """This package's public modules, each imported once. Every doctor run imports all of them, so each
    is loaded straight from its file: the general import machinery (a search of the package path, module
    locks) costs about half again what loading a rule's compiled code does, times 60-odd rules. A package
    that is no plain folder (a zip) is imported the general way."""
    import importlib.util  # its loader still reads and writes __pycache__ as any import does

    folder = __path__[0] if len(__path__) == 1 else ""
    try:
        names = sorted(entry[:-3] for entry in os.listdir(folder)
                       if entry.endswith(".py") and not entry.startswith("_") and entry[:-3].isidentifier())
    except OSError:
        names = []
    if not names:
        import importlib
        import pkgutil

        return [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)
                if not info.name.startswith("_")]
    package = sys.modules[__name__]
    modules = []
    for name in names:
        full_name = f"{__name__}.{name}"
        module = sys.modules.get(full_name)  # a test or another module may have imported it already
        if module is None:
            spec = importlib.util.spec_from_file_location(full_name, os.path.join(folder, f"{name}.py"))
            module = importlib.util.module_from_spec(spec)
            sys.modules[full_name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[full_name]
                raise
            setattr(package, name, module)
        modules.append(module)
    return modules


def find_rule(rule_id: str) -> Optional[Rule]:
    rule_id = RENAMED.get(rule_id, rule_id)
    return next((r for r in all_rules() if r.id == rule_id), None)
