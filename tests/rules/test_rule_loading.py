"""The rules are loaded from their cached bytecode without the general import machinery (a start-up
saving, gpubal.rules.load_compiled). It must load what the import system would: the cache only when the
import system would trust it, the source otherwise."""

from __future__ import annotations

import os
import py_compile
import sys

import pytest

from gpubal.rules import all_rules, load_compiled


@pytest.fixture
def package(tmp_path, monkeypatch):
    folder = tmp_path / "loadcheck"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield folder
    for name in [name for name in sys.modules if name == "loadcheck" or name.startswith("loadcheck.")]:
        del sys.modules[name]


def _write(path, text, mtime):
    path.write_text(text)
    os.utime(path, (mtime, mtime))


def test_a_fresh_cache_is_loaded_as_the_import_system_would(package):
    import loadcheck

    _write(package / "one.py", "VALUE = 1\n\ndef where():\n    return __name__\n", 1_700_000_000)
    # compiled elsewhere (a build machine): the import system names the file where it is now
    py_compile.compile(str(package / "one.py"), dfile="/build/loadcheck/one.py", doraise=True)
    module = load_compiled("loadcheck", str(package), "one")
    assert module.VALUE == 1 and module.where() == "loadcheck.one"
    assert sys.modules["loadcheck.one"] is module and loadcheck.one is module
    assert module.__spec__.origin == module.__file__ == str(package / "one.py")
    assert module.__cached__.endswith(f"one.{sys.implementation.cache_tag}.pyc")
    assert module.where.__code__.co_filename == str(package / "one.py")


def test_a_stale_cache_is_not_used(package):
    _write(package / "two.py", "VALUE = 1\n", 1_700_000_000)
    py_compile.compile(str(package / "two.py"), doraise=True)
    _write(package / "two.py", "VALUE = 222\n", 1_700_000_100)  # edited after it was compiled
    assert load_compiled("loadcheck", str(package), "two").VALUE == 222


def test_a_cache_for_another_size_is_not_used(package):
    _write(package / "three.py", "VALUE = 1\n", 1_700_000_000)
    py_compile.compile(str(package / "three.py"), doraise=True)
    _write(package / "three.py", "VALUE = 3333\n", 1_700_000_000)  # same time, other size
    assert load_compiled("loadcheck", str(package), "three").VALUE == 3333


def test_no_cache_means_the_source(package):
    _write(package / "four.py", "VALUE = 4\n", 1_700_000_000)
    assert load_compiled("loadcheck", str(package), "four").VALUE == 4


def test_every_rule_module_is_a_module_of_the_package():
    modules = {sys.modules[rule.check.__module__] for rule in all_rules()}
    for module in modules:
        assert module.__spec__.name == module.__name__ and module.__package__ == "gpubal.rules"
        assert os.path.dirname(module.__file__) == os.path.dirname(sys.modules["gpubal.rules"].__file__)
