"""The suite's own layout: test modules sit in folders that mirror the rooms of src/gpubal, import shared
code from tests/helpers (never from conftest.py or from another test module), and have file names unique
across folders: pytest's default import mode imports a test module by its file name, so a second
test_x.py in another folder would be refused at collection."""

from __future__ import annotations

import re
from collections import Counter

from helpers.paths import REPO, TESTS

NOT_ROOMS = {"helpers", "fixtures", "goldens", "__pycache__"}  # the suite's own data and code
CROSS_IMPORT = re.compile(r"^\s*(from\s+(conftest|test_\w+|\w+\.test_\w+)\s+import|import\s+(conftest|test_\w+))\b",
                          re.MULTILINE)


def _test_modules():
    return [path for path in TESTS.rglob("test_*.py") if not NOT_ROOMS & set(path.relative_to(TESTS).parts)]


def test_every_folder_of_tests_is_a_room_of_src():
    source = REPO / "src" / "gpubal"
    folders = {path.parent.relative_to(TESTS) for path in _test_modules()} - {TESTS.relative_to(TESTS)}
    strays = [str(folder) for folder in sorted(folders)
              if not (source / folder).is_dir() and not (source / folder).with_suffix(".py").is_file()]
    assert strays == [], f"test folders that name no room of src/gpubal: {strays}"


def test_test_module_names_are_unique():
    repeated = [name for name, count in Counter(path.name for path in _test_modules()).items() if count > 1]
    assert repeated == []


def test_tests_import_helpers_not_conftest_or_each_other():
    offenders = [f"{path.relative_to(TESTS)}: {match.group(0).strip()}" for path in _test_modules()
                 for match in CROSS_IMPORT.finditer(path.read_text(encoding="utf-8"))]
    assert offenders == [], "import from helpers instead: " + "; ".join(offenders)
