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
    """This package's public modules, each imported once, in the order of their names."""
    folder = __path__[0] if len(__path__) == 1 else ""
    try:
        names = sorted(entry[:-3] for entry in os.listdir(folder)
                       if entry.endswith(".py") and not entry.startswith("_") and entry[:-3].isidentifier())
    except OSError:
        names = []
    if not names:  # no plain folder of sources (a zip, say): the import system finds them
        import importlib
        import pkgutil

        return [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)
                if not info.name.startswith("_")]
    return [sys.modules.get(f"{__name__}.{name}") or load_compiled(__name__, folder, name) for name in names]


def load_compiled(package: str, folder: str, name: str) -> ModuleType:
    """Module `name` of `package` (whose sources are in `folder`), imported from the bytecode the import
    system cached beside its source. Every doctor run imports every rule; for each, the general import
    (a search of the package's path, module locks, specs built step by step) costs about 40 µs more than
    reading and running the cached code, some 2.5 ms of a start for 60-odd rules. The cache is used only
    when the import system itself would use it (same magic number, its source's modification time and
    size); anything else (no cache yet, a stale one, a hash-checked one, a cache prefix, -O) is imported
    the general way, which also writes the cache."""
    full_name = f"{package}.{name}"
    external = sys.modules.get("_frozen_importlib_external")  # CPython's import system, always loaded
    source = os.path.join(folder, f"{name}.py")
    try:
        if external is None or sys.pycache_prefix or sys.flags.optimize:
            raise LookupError("not the plain cache layout")
        cached = os.path.join(folder, "__pycache__", f"{name}.{sys.implementation.cache_tag}.pyc")
        with open(cached, "rb") as handle:
            data = handle.read()
        stat = os.stat(source)
        if (data[:4] != external.MAGIC_NUMBER or data[4:8] != bytes(4)
                or int.from_bytes(data[8:12], "little") != int(stat.st_mtime) & 0xFFFFFFFF
                or int.from_bytes(data[12:16], "little") != stat.st_size & 0xFFFFFFFF):
            raise LookupError("not the cache the import system would use")
        import _imp
        import marshal

        code = marshal.loads(memoryview(data)[16:])
        _imp._fix_co_filename(code, source)  # as the import system does: the file's path here, not where it was compiled
    except (OSError, LookupError, ValueError, EOFError, TypeError):
        import importlib

        return importlib.import_module(full_name)
    loader = external.SourceFileLoader(full_name, source)
    spec = sys.modules["_frozen_importlib"].ModuleSpec(full_name, loader, origin=source)
    spec.has_location, spec.cached = True, cached
    module = ModuleType(full_name)
    module.__file__, module.__cached__, module.__loader__, module.__spec__ = source, cached, loader, spec
    module.__package__ = package
    sys.modules[full_name] = module
    try:
        exec(code, module.__dict__)
    except BaseException:
        del sys.modules[full_name]
        raise
    parent = sys.modules.get(package)
    if parent is not None:  # as an import does: the package names its submodule
        setattr(parent, name, module)
    return module


def find_rule(rule_id: str) -> Optional[Rule]:
    rule_id = RENAMED.get(rule_id, rule_id)
    return next((r for r in all_rules() if r.id == rule_id), None)
