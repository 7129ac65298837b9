"""Where the suite's data lives, the same from a test module in any folder under tests/."""

from pathlib import Path

TESTS = Path(__file__).parent.parent
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures"  # NVML profiles, host file trees, dumps, recorded series
GOLDENS = TESTS / "goldens"  # renderer output, rewritten by `pytest --update-goldens`
