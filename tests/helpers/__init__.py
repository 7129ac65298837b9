"""Helpers shared by the test suite; tests import them (`from helpers import known, with_gpu`), while
tests/conftest.py holds only fixtures and pytest options.

- helpers.snapshots: recorded hosts and variants of them (`with_gpu(snapshot, 0, persistence_mode=known(False))`)
- helpers.results: reading a Report (`single_finding(report, "gpu:0")`, `assert_actionable(fix)`)
- helpers.balance: `gpubal balance` on a recorded series
- helpers.cli: `gpubal(*args)` through typer's CliRunner, host arguments, the one-line error check
- helpers.goldens: reports of recorded hosts compared with tests/goldens/
- helpers.scenarios: the named rule scenarios under tests/rules/scenarios/
- helpers.paths: TESTS, REPO, FIXTURES, GOLDENS, the same from a test in any folder

tests/ is on sys.path because tests/conftest.py sits there and pytest's default (prepend) import mode
puts the directory of a rootdir conftest without __init__.py first on the path.
"""

from .balance import replay_balance
from .paths import FIXTURES, GOLDENS, REPO, TESTS
from .results import assert_actionable, only_result, outcomes, single_finding
from .snapshots import (H200X2_STACK_ENVIRONMENT, HOSTILE, NO_DRIVER_PROFILE, SERVER, h200x2_stack, known,
                        no_driver_snapshot, ollama_running, real_snapshot, synthetic_snapshot, unavailable,
                        with_driver, with_gpu, with_host, with_nvlinks, with_ollama, with_pair, with_snapshot,
                        with_stack)

__all__ = [
    "FIXTURES", "GOLDENS", "H200X2_STACK_ENVIRONMENT", "HOSTILE", "NO_DRIVER_PROFILE", "REPO", "SERVER", "TESTS",
    "assert_actionable", "h200x2_stack", "known", "no_driver_snapshot", "ollama_running", "only_result",
    "outcomes", "real_snapshot", "replay_balance", "single_finding", "synthetic_snapshot", "unavailable",
    "with_driver", "with_gpu", "with_host", "with_nvlinks", "with_ollama", "with_pair", "with_snapshot",
    "with_stack",
]
