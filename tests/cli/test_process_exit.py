"""doctor, topo and collect end their process without the interpreter's clean-up (gpubal.entry._leave_now):
whatever they print or write must still be all there, with the exit status each outcome earns, in a pipe, a
closed pipe and a file, on the real console-script path (`python -m gpubal`, a process of its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers.cli import DOWNTRAINED, H200X2
from helpers.paths import REPO


def _run(*args: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    # buffered output, as a console script has it: PYTHONUNBUFFERED would hide an output never flushed
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("NO_COLOR", "FORCE_COLOR", "PYTHONUNBUFFERED")}
    return subprocess.run([sys.executable, "-m", "gpubal", *args], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, cwd=REPO, env=environment, timeout=120)


def test_a_report_to_a_pipe_and_to_files_is_complete_with_its_exit_status(tmp_path):
    report, markdown = tmp_path / "report.json", tmp_path / "report.md"
    done = _run("doctor", *DOWNTRAINED, "--fail-on", "warning", "-o", "-", "-o", str(report), "-o", str(markdown),
                "--format", "json")
    assert done.returncode == 1, done.stderr  # the downtrained link is a warning
    assert json.loads(done.stdout)["findings"] and json.loads(report.read_text()) == json.loads(done.stdout)
    assert markdown.read_text().endswith("\n")
    terminal = _run("doctor", *DOWNTRAINED, "--fail-on", "never")
    assert terminal.returncode == 0 and terminal.stdout.rstrip().splitlines()[-1].startswith("Verdict:")


def test_topo_and_collect_end_with_all_they_wrote(tmp_path):
    topo = _run("topo", *H200X2)
    assert topo.returncode == 0 and "GPU order" in topo.stdout.splitlines()[-1]
    snapshot = tmp_path / "snapshot.json"
    collected = _run("collect", *H200X2, "-o", str(snapshot))
    assert collected.returncode == 0, collected.stderr
    assert json.loads(snapshot.read_text())["gpus"]


def test_bad_input_is_one_line_and_exit_2():
    done = _run("doctor", "--snapshot", "/nonexistent/snapshot.json")
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "/nonexistent/snapshot.json" in done.stderr


def test_a_closed_pipe_is_exit_1_without_a_traceback():
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before gpubal writes a byte: every write fails with EPIPE
    try:
        for args in (("topo", *H200X2), ("doctor", *DOWNTRAINED, "--fail-on", "never")):
            done = _run(*args, stdout=write_end)
            assert done.returncode == 1 and "Traceback" not in done.stderr, (args, done.stderr)
    finally:
        os.close(write_end)
