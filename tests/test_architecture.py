"""The arrows of docs/architecture.md, enforced: a room imports only rooms below it.

Every import in src/gpubal counts, the lazy ones inside functions too (`from ..rules import find_rule` in a
renderer is as much an arrow as one at the top of the file). The table below is the one in
docs/architecture.md; a test checks that the two agree, so the document cannot drift from the code.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "gpubal"
ARCHITECTURE = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"

# room -> the rooms it may import (besides itself and `gpubal`, which holds only __version__). The same
# table is in docs/architecture.md. Read top to bottom, each room only reaches rooms listed above it.
MAY_IMPORT: Dict[str, Tuple[str, ...]] = {
    "gpubal": (),
    "model": (),
    "common": ("model",),
    "snapshot_file": ("model", "common"),
    "matrix": ("model", "common"),
    "rules": ("model", "common", "matrix"),
    "doctor.probes": ("model", "common"),
    "doctor.ingest": ("model", "common"),
    "doctor.collect": ("model", "common", "doctor.probes", "doctor.ingest"),
    "doctor": ("model", "common", "snapshot_file", "matrix", "rules", "doctor.probes", "doctor.ingest",
               "doctor.collect"),
    "balance": ("model", "common", "matrix", "rules", "doctor.probes", "doctor.collect", "doctor"),
    "placement": ("model", "common"),
    "fleet": ("model", "common", "snapshot_file", "matrix", "rules", "doctor"),
    "reports": ("model", "common", "snapshot_file", "balance", "placement", "fleet"),
    "integrations": ("model", "common", "snapshot_file", "reports"),
    "cli": ("model", "common", "snapshot_file", "matrix", "rules", "doctor.probes", "doctor.ingest",
            "doctor.collect", "doctor", "balance", "placement", "fleet", "reports", "integrations"),
}

# Arrows that go the wrong way today and are being removed (issue 12); the list may only shrink.
PENDING: Dict[Tuple[str, str], str] = {}

_CLI_MODULES = {"cli", "cli_options", "entry", "__main__", "output_file", "sources", "outputs", "commands",
                "plain_argv"}


def room_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "gpubal":
        return ""
    if len(parts) == 1:
        return "gpubal"
    if parts[1] in _CLI_MODULES:
        return "cli"
    if parts[1] == "doctor" and len(parts) > 2 and parts[2] in ("probes", "ingest", "collect"):
        return f"doctor.{parts[2]}"
    return parts[1]


def module_name(path: Path) -> Tuple[str, str]:
    """(module, package) of a source file."""
    parts = ("gpubal",) + path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def imports_of(path: Path) -> Iterator[Tuple[str, int]]:
    _, package = module_name(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == "gpubal":  # `from .. import matrix` imports the module gpubal.matrix
                for alias in node.names:
                    is_module = (PACKAGE / f"{alias.name}.py").exists() or (PACKAGE / alias.name).is_dir()
                    yield (f"gpubal.{alias.name}" if is_module else "gpubal"), node.lineno
            else:
                yield module, node.lineno
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__"):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                yield node.args[0].value, node.lineno


def arrows() -> Iterator[Tuple[str, str, str]]:
    """(from room, to room, where) for every import between two rooms."""
    for path in sorted(PACKAGE.rglob("*.py")):
        source_room = room_of(module_name(path)[0])
        for module, line in imports_of(path):
            target_room = room_of(module)
            if target_room and target_room != source_room:
                yield source_room, target_room, f"{path.relative_to(PACKAGE)}:{line}"


def test_every_room_is_on_a_floor():
    rooms = {room_of(module_name(path)[0]) for path in PACKAGE.rglob("*.py")}
    assert rooms <= set(MAY_IMPORT), f"rooms missing from docs/architecture.md: {sorted(rooms - set(MAY_IMPORT))}"


def test_the_table_has_no_cycle_and_reads_top_down():
    order = list(MAY_IMPORT)
    for position, room in enumerate(order):
        assert set(MAY_IMPORT[room]) <= set(order[:position]), f"{room} may import a room listed after it"


def test_no_room_imports_a_room_it_may_not():
    wrong: List[str] = []
    for source, target, where in arrows():
        if target == "gpubal" or target in MAY_IMPORT[source] or (source, target) in PENDING:
            continue
        wrong.append(f"{where}: {source} imports {target}, which docs/architecture.md does not allow")
    assert not wrong, "imports against docs/architecture.md:\n" + "\n".join(wrong)


def test_pending_exceptions_are_still_needed():
    seen = {(source, target) for source, target, _ in arrows()}
    gone = sorted(set(PENDING) - seen)
    assert not gone, f"these arrows are gone; remove them from PENDING: {gone}"


def test_the_model_imports_nothing_from_gpubal():
    for path in (PACKAGE / "model").rglob("*.py"):
        for module, line in imports_of(path):
            assert room_of(module) in ("", "model"), f"{path.name}:{line} imports {module}"


def test_there_is_no_package_level_cycle():
    graph: Dict[str, set] = {}
    for source, target, _ in arrows():
        graph.setdefault(source.split(".")[0], set()).add(target.split(".")[0])
    for room in graph:
        graph[room].discard(room)

    def reaches(start: str, goal: str, seen: set) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and (seen.add(nxt) or reaches(nxt, goal, seen))):
                return True
        return False

    cycles = sorted(room for room in graph if reaches(room, room, set()))
    pending_rooms = {s.split(".")[0] for s, _ in PENDING} | {t.split(".")[0] for _, t in PENDING}
    assert set(cycles) <= pending_rooms, f"package-level cycles through {cycles}"


@pytest.mark.parametrize("room", sorted(MAY_IMPORT))
def test_the_architecture_document_has_the_same_table(room):
    rows = {}
    for name, allowed in re.findall(r"^\|\s*`([^`]+)`\s*\|([^|]*)\|", ARCHITECTURE.read_text(encoding="utf-8"), re.M):
        rows[name] = tuple(re.findall(r"`([^`]+)`", allowed))
    assert rows.get(room) == MAY_IMPORT[room], f"docs/architecture.md: {room} may import {rows.get(room)}"


def _names_defined_at_top_level(path: Path) -> Iterator[Tuple[str, int]]:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.decorator_list:
            yield node.name, node.lineno  # a decorated function is registered (a rule, a command)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            yield node.targets[0].id, node.lineno


def test_every_top_level_function_and_constant_is_used():
    """Dead code misleads the next reader about what runs: a name that neither src nor tests uses is
    deleted (it stays in git's history)."""
    tests = Path(__file__).resolve().parent
    words: Dict[str, int] = {}
    for path in list(PACKAGE.rglob("*.py")) + list(tests.rglob("*.py")) + list(PACKAGE.rglob("*.j2")):
        for word in re.findall(r"\w+", path.read_text(encoding="utf-8")):
            words[word] = words.get(word, 0) + 1
    unused = [f"{path.relative_to(PACKAGE)}:{line} {name}" for path in PACKAGE.rglob("*.py")
              for name, line in _names_defined_at_top_level(path)
              if not name.startswith("__") and words.get(name, 0) < 2]
    assert unused == []
