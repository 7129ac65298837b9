"""Programs gpubal runs: a timeout ends the program and every process it started."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from gpubal.model import Reason
from gpubal.doctor.probes.commands import run_command


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a killed child not yet reaped by its (gone) parent is a zombie: not running
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(") ", 1)[1].startswith("Z"))


def program(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "hangs"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_a_timed_out_program_leaves_no_child_running(tmp_path):
    pids = tmp_path / "pids"
    hangs = program(tmp_path, f"sleep 60 &\necho $! > {pids}\nsleep 60\n")
    started = time.monotonic()
    answer = run_command([str(hangs)], 0.5)
    assert answer.reason is Reason.TIMEOUT and time.monotonic() - started < 10
    child = int(pids.read_text())
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the program's child outlived the timeout"


def test_a_child_holding_the_output_open_does_not_hang_the_doctor(tmp_path):
    """The program exits at once but leaves a child with its stdout: the answer still comes on time."""
    hangs = program(tmp_path, "sleep 60 &\necho version 1\n")
    started = time.monotonic()
    answer = run_command([str(hangs)], 1.0)
    assert time.monotonic() - started < 10
    assert answer.reason is Reason.TIMEOUT


def test_a_program_that_answers_is_read():
    assert run_command(["echo", "ollama version is 0.12.6"], 5.0) == "ollama version is 0.12.6\n"
    assert run_command(["gpubal-no-such-program"], 5.0).reason is Reason.NOT_FOUND
