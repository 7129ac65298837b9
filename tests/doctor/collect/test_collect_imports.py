"""What importing the live collection costs at every `gpubal doctor` start: nothing it does not use."""

from __future__ import annotations

import subprocess
import sys


def _imported_after(statement: str, modules) -> list:
    code = f"import sys; {statement}; print(' '.join(m for m in {list(modules)!r} if m in sys.modules))"
    return subprocess.check_output([sys.executable, "-c", code], text=True).split()


def test_the_live_collection_imports_no_thread_pool_and_no_logging():
    # concurrent.futures imports logging and queue: ~5 ms, for threads that each run one call
    assert _imported_after("import gpubal.doctor.collect, gpubal.doctor.live",
                           ["concurrent.futures", "logging"]) == []


def test_programs_and_servers_are_imported_by_the_code_that_asks_them():
    # `gpubal topo` runs no program and asks no server; the doctor imports these in the threads that do
    assert _imported_after("import gpubal.doctor.collect, gpubal.doctor.live",
                           ["subprocess", "socket", "queue"]) == []


def test_the_pasted_dump_helpers_compile_nothing_at_import():
    names = ("_ANSI", "_SIZE", "ELISION", "_QUOTE", "_FENCE", "_PROMPT", "_COMMAND")
    code = ("import gpubal.doctor.collect, gpubal.doctor.ingest.common as common; "
            f"print(sum(getattr(common, name).cache_info().currsize for name in {names!r}))")
    assert subprocess.check_output([sys.executable, "-c", code], text=True).strip() == "0"
