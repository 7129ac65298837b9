"""`gpubal doctor --from FILE`: the same rules and renderers over pasted dumps; bad input exits 2 with
one line naming the file."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from gpubal.cli import EXIT_BAD_INPUT, app
from helpers.paths import FIXTURES

DUMPS = FIXTURES / "dumps"
SYS_TOPO = DUMPS / "topo" / "club3090-2x3090-sys-two-sockets-legend-cut.txt"


def gpubal(*args: str, stdin: bytes = b""):
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 keeps stderr apart already
        runner = CliRunner()
    return runner.invoke(app, list(args), input=stdin)


def test_doctor_from_a_topology_dump():
    result = gpubal("doctor", "--from", str(SYS_TOPO), "--format", "json", "--fail-on", "never")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["snapshot"]["origin"] == f"pasted text: {SYS_TOPO}"
    assert "gpu-pair-crosses-numa" in result.stdout


def test_doctor_from_standard_input():
    result = gpubal("doctor", "--from", "-", "--fail-on", "never", stdin=SYS_TOPO.read_bytes())
    assert result.exit_code == 0, result.stderr
    assert "pasted text: <stdin>" in result.stdout


def test_unknown_format_exits_2_with_one_line(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my GPUs are slow, please help\n")
    result = gpubal("doctor", "--from", str(notes))
    assert result.exit_code == EXIT_BAD_INPUT
    assert result.stderr.count("\n") == 1 and str(notes) in result.stderr and "unknown format" in result.stderr
    assert "Traceback" not in result.stderr


def test_binary_and_missing_files_exit_2(tmp_path):
    binary = tmp_path / "core"
    binary.write_bytes(b"\x00\x01\x02ELF" * 100)
    for path, words in ((binary, "binary data"), (tmp_path / "absent.txt", "cannot read")):
        result = gpubal("doctor", "--from", str(path))
        assert result.exit_code == EXIT_BAD_INPUT and words in result.stderr, result.stderr


def test_conflicting_dumps_are_named_on_stderr(tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("GPU 0: NVIDIA H200 (UUID: GPU-07f4a309-9680-b6ff-3e0f-c7623199c4cc)\n")
    second.write_text("GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-07f4a309-9680-b6ff-3e0f-c7623199c4cc)\n")
    result = gpubal("doctor", "--from", str(first), "--from", str(second), "--fail-on", "never")
    assert result.exit_code == 0
    assert "conflict: gpu:0.name: dumps disagree" in result.stderr
