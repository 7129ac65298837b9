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
