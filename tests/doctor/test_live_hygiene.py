"""What a live run touches: `gpubal topo` runs no program and asks no server (it needs no Ollama facts);
under --root nothing is run or asked (a program found in the tree would run from this host, and this
host's server is not the tree's); `--from -` on a terminal says it is waiting."""

from __future__ import annotations

from typing import List

import pytest
from typer.testing import CliRunner

from gpubal.cli import app
from gpubal.model import Reason, Unavailable
from helpers.paths import FIXTURES

try:
    RUNNER = CliRunner(mix_stderr=False)
except TypeError:
    RUNNER = CliRunner()



class Host:
    """This host's programs and servers, recording who was asked (each answers that nothing is there)."""

    def __init__(self) -> None:
        self.asked: List[str] = []

    def run(self, argv, timeout_s):
        self.asked.append(" ".join(argv))
        return Unavailable(Reason.NOT_FOUND, " ".join(argv), "no such program in tests")

    def get(self, url, timeout_s):
        self.asked.append(url)
        return Unavailable(Reason.NOT_FOUND, url, "no server in tests")


@pytest.fixture
def host(monkeypatch, tmp_path) -> Host:
    from gpubal.doctor.probes import commands, http

    recorded = Host()
    monkeypatch.setattr(commands, "run_command", recorded.run)
    monkeypatch.setattr(http, "get_json", recorded.get)
    # an ollama on this host's PATH: the live doctor would run it and ask its server
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "ollama").write_text("#!/bin/sh\necho 'ollama version is 0.12.6'\n")
    (fake_bin / "ollama").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:/usr/bin:/bin")
    return recorded


def test_the_live_doctor_does_ask_ollama(host):
    """The control: the same host, as `gpubal doctor` sees it, is asked (so the tests below can fail)."""
    RUNNER.invoke(app, ["doctor", "-f", "json"])
    assert any("ollama" in asked for asked in host.asked) and any("11434" in asked for asked in host.asked)


def test_topo_runs_no_program_and_asks_no_server(host):
    RUNNER.invoke(app, ["topo"])
    assert host.asked == []


def test_under_root_nothing_is_run_or_asked_and_the_report_says_why(host, tmp_path):
    root = tmp_path / "tree"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "ollama").write_text("#!/bin/sh\necho planted\n")
    result = RUNNER.invoke(app, ["doctor", "--root", str(root), "-f", "json"])
    assert result.exit_code in (0, 1), result.stderr
    assert host.asked == []
    import json

    ollama = json.loads(result.stdout)["snapshot"]["ollama"]
    assert "--root" in ollama["binary_version"]["detail"] and "--root" in ollama["server_version"]["detail"]


def test_balance_under_root_asks_no_server(host):
    result = RUNNER.invoke(app, ["balance", "--root", str(FIXTURES / "balance" / "root"), "--seconds", "0.2"])
    assert host.asked == [], result.stderr


def test_the_early_collection_for_topo_asks_no_server(host):
    from gpubal.entry import start_early_collection

    start_early_collection(["topo"]).result(timeout=60)
    assert host.asked == []


def test_from_stdin_on_a_terminal_says_it_is_waiting():
    import os
    import subprocess
    import sys

    dump = next((FIXTURES / "dumps" / "smi-L").glob("*.txt")).read_bytes()
    leader, follower = os.openpty()
    try:
        process = subprocess.Popen([sys.executable, "-m", "gpubal", "doctor", "--from", "-"], stdin=follower,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.close(follower)
        os.write(leader, dump.rstrip(b"\n") + b"\n\x04")  # Ctrl-D at a line start: end of input
        out, err = process.communicate(timeout=60)
    finally:
        os.close(leader)
    assert err.decode().startswith("gpubal: reading a dump from standard input: paste it, then press Ctrl-D")
    assert process.returncode in (0, 1) and b"GPUs:" in out
