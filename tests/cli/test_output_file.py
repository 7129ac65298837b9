"""Every file gpubal writes is replaced in one step: two writers at once leave one whole report, a reader
never sees a part or an empty file, a symbolic link at the destination is replaced and never followed,
and the temporary name cannot be guessed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpubal.cli import app
from gpubal.output_file import write_text_file
from helpers.paths import FIXTURES

H200X2 = ["--nvml-profile", str(FIXTURES / "nvml" / "h200x2.json"), "--root", str(FIXTURES / "roots" / "h200x2")]

try:
    RUNNER = CliRunner(mix_stderr=False)
except TypeError:
    RUNNER = CliRunner()


def gpubal_process(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gpubal", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def test_two_concurrent_writers_leave_one_whole_json_report(tmp_path):
    """Both runs write the same -o at once: the file is one whole report, never two interleaved."""
    target = tmp_path / "report.json"
    for _ in range(4):  # two different reports (one redacted, so shorter) raced onto one name
        runs = [gpubal_process("doctor", *H200X2, *redact, "-o", str(target)) for redact in ([], ["--redact"])]
        for run in runs:
            assert run.wait(timeout=120) in (0, 1), run.stderr.read()
        hostname = json.loads(target.read_text(encoding="utf-8"))["snapshot"]["host"]["hostname"]["value"]
        assert hostname in ("h200x2", "host-1")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report.json"]  # no temporary left behind


def test_racing_writers_and_a_reader_see_only_whole_files(tmp_path):
    """Two writers of different texts and a reader, all at once: every read is one whole text (never
    empty, never one text's head on the other's tail), and so is the file left at the end."""
    target = tmp_path / "gpubal.prom"
    texts = {"a" * 4_000_000 + "\n", "b" * 2_000_000 + "\n"}
    write_text_file(target, "c\n")
    seen = set()
    writing = threading.Event()
    writing.set()

    def read() -> None:
        while writing.is_set():
            text = target.read_text()
            seen.add((len(text), len(set(text))))

    def write(text: str) -> None:
        for _ in range(30):
            write_text_file(target, text)

    reader = threading.Thread(target=read)
    writers = [threading.Thread(target=write, args=(text,)) for text in texts]
    reader.start()
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    writing.clear()
    reader.join()
    assert seen <= {(2, 2), (4_000_001, 2), (2_000_001, 2)}, seen
    assert target.read_text() in texts


def test_a_symlink_at_the_destination_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    link = tmp_path / "report.md"
    link.symlink_to(victim)
    result = RUNNER.invoke(app, ["doctor", *H200X2, "-o", str(link)])
    assert result.exit_code in (0, 1), result.stderr
    assert victim.read_text() == "keep me\n"
    assert not link.is_symlink() and link.read_text().startswith("## gpubal")


def test_a_dangling_symlink_is_replaced_and_its_target_never_created(tmp_path):
    link = tmp_path / "gpubal.prom"
    link.symlink_to(tmp_path / "elsewhere.prom")
    write_text_file(link, "x 1\n")
    assert not link.is_symlink() and link.read_text() == "x 1\n"
    assert not (tmp_path / "elsewhere.prom").exists()


def test_the_temporary_name_is_unpredictable_and_a_planted_link_there_is_harmless(tmp_path):
    """The old Prometheus writer used .NAME.PID.tmp: another user could plant a link under that name."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (tmp_path / f".gpubal.prom.{os.getpid()}.tmp").symlink_to(victim)  # CliRunner runs in this process
    result = RUNNER.invoke(app, ["balance", "--nvml-profile", str(FIXTURES / "balance" / "one-busy.json"),
                                 "--root", str(FIXTURES / "balance" / "root"), "--prometheus",
                                 str(tmp_path / "gpubal.prom")])
    assert result.exit_code == 0, result.stderr
    assert victim.read_text() == "keep me\n"
    assert (tmp_path / "gpubal.prom").read_text().startswith("# HELP gpubal_gpu_")


def test_the_file_gets_the_usual_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        write_text_file(tmp_path / "report.txt", "x\n")
    finally:
        os.umask(mask)
    assert (tmp_path / "report.txt").stat().st_mode & 0o777 == 0o644  # readable by node_exporter's user


def test_a_device_is_written_in_place(tmp_path):
    write_text_file(Path("/dev/null"), "nothing\n")
    assert Path("/dev/null").exists() and not Path("/dev/null").is_file()


@pytest.mark.parametrize("make", ["directory", "missing folder"])
def test_an_unwritable_destination_is_one_line_and_exit_2(tmp_path, make):
    target = tmp_path / "out.txt" if make == "directory" else tmp_path / "no" / "such" / "out.json"
    if make == "directory":
        target.mkdir()
    result = RUNNER.invoke(app, ["doctor", *H200X2, "-o", str(target)])
    assert result.exit_code == 2 and result.stderr.startswith(f"gpubal: cannot write {target}")
    assert len(result.stderr.splitlines()) == 1
