"""The command line in a test: `gpubal(*args)` runs it through typer's CliRunner; host arguments for the
recorded hosts; what a bad-input error must look like."""

from __future__ import annotations

from typer.testing import CliRunner

from gpubal.cli import app

from .paths import FIXTURES
from .snapshots import NO_DRIVER_PROFILE  # noqa: F401 - tests of the missing-driver exit write it to a file

try:  # click before 8.2 (what pip picks on Python 3.9) mixes stderr into stdout unless told not to
    RUNNER = CliRunner(mix_stderr=False)
except TypeError:  # click 8.2 and later always keep them apart and dropped the argument
    RUNNER = CliRunner()

H200X2 = ["--nvml-profile", str(FIXTURES / "nvml" / "h200x2.json"), "--root", str(FIXTURES / "roots" / "h200x2")]
H200X1 = ["--nvml-profile", str(FIXTURES / "nvml" / "h200x1.json"), "--root", str(FIXTURES / "roots" / "h200x1")]
DOWNTRAINED = ["--nvml-profile", str(FIXTURES / "nvml" / "downtrained.json"), "--root", str(FIXTURES / "roots" / "downtrained")]


def gpubal(*args: str):
    return RUNNER.invoke(app, list(args))


def assert_one_line_error(result, *names: str) -> None:
    """Bad input: exit 2, one `gpubal: ...` line on stderr naming the file, nothing on stdout, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpubal: "), result.stderr
    for name in names:
        assert name in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
