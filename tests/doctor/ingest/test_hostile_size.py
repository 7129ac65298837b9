"""`--from` on input built to exhaust time or memory ends in one line and exit 2 within seconds: a gzip
holding one enormous line, a gzip bomb of empty lines, XML nested deeper or wider than nvidia-smi's, a
head of blank lines for the format detectors. bench/bench_hostile_from.py runs the full-size versions
and measures peak memory; here each runs as a real process under a hang guard."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.paths import FIXTURES

OLLAMA_HEAD = (FIXTURES / "dumps" / "ollama-log" / "2x3060-inference-compute-debug-0.3.x.txt").read_bytes()
XML_HEAD = b'<?xml version="1.0" ?>\n<nvidia_smi_log>\n<driver_version>580.95.05</driver_version>\n<gpu>\n'
HANG_GUARD_S = 60  # far above the few seconds each takes; only a hang (or a quadratic path) reaches it
MIB = 1 << 20


def gzip_file(path: Path, head: bytes, body: bytes, repeat: int, level: int = 1) -> Path:
    with gzip.open(path, "wb", compresslevel=level) as handle:
        handle.write(head)
        for _ in range(repeat):
            handle.write(body)
    return path


def doctor_from(path: Path):
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "gpubal", "doctor", "--from", str(path)], capture_output=True,
                            text=True, timeout=HANG_GUARD_S)
    return result, time.monotonic() - started


def assert_refused(result, words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-500:])
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpubal: ") and words in lines[0], result.stderr[-500:]
    assert result.stdout == ""


def test_a_gzip_of_one_enormous_line_is_refused_at_the_line_bound(tmp_path):
    """This once read on past 120 s and 1.1 GB: each new MiB was joined to the whole line so far."""
    path = gzip_file(tmp_path / "one-line.log.gz", OLLAMA_HEAD + b"x", b"a" * MIB, 256)
    result, seconds = doctor_from(path)
    assert_refused(result, "is longer than 1 MiB")


def test_a_gzip_bomb_of_empty_lines_is_refused_by_its_ratio(tmp_path):
    path = gzip_file(tmp_path / "bomb.log.gz", OLLAMA_HEAD, b"\n" * MIB, 256, level=9)  # about 1,000 to 1
    result, seconds = doctor_from(path)
    assert_refused(result, "expands more than 200 times")


def test_xml_nested_deeper_than_nvidia_smi_is_refused_without_reading_on(tmp_path):
    path = tmp_path / "nested.xml"
    path.write_bytes(XML_HEAD + b"<a>\n" * 4_000_000)  # past the line bound too: the depth is what is said
    result, _ = doctor_from(path)
    assert_refused(result, "nest deeper than 32 levels")


def test_xml_nested_on_one_line_is_refused_before_it_fills_memory(tmp_path):
    path = tmp_path / "nested-line.xml"
    path.write_bytes(XML_HEAD + b"<a>" * 300_000)  # 900 KB, under the line bound: the depth bound refuses it
    result, _ = doctor_from(path)
    assert_refused(result, "nest deeper than 32 levels")


def test_xml_with_more_elements_than_any_nvidia_smi_is_refused(tmp_path):
    path = tmp_path / "flat.xml"
    path.write_bytes(XML_HEAD + (b"<a/>" * 1000 + b"\n") * 250)
    result, _ = doctor_from(path)
    assert_refused(result, "more than 200,000 elements")


@pytest.mark.parametrize("head", ["\n" * 65536, " \n" * 32768, "\t" * 65536, " " * 65536, "GPU0" + " " * 65536,
                                  "    PCI\n      a" + " " * 65000, "GPU1" + " PIX" * 16000 + " Y",
                                  "| 1 " + "|" * 65000, "GPU 1: " + "x " * 30000],
                         ids=["newlines", "blank lines", "tabs", "spaces", "GPU0 and spaces", "-q excerpt of spaces",
                              "topo row without X", "table of pipes", "-L without UUID"])
def test_every_format_detector_is_linear_on_a_hostile_head(head):
    """`^\\s*` at a line start ran across blank lines: a head of 64 Ki newlines once took 56 s to detect."""
    from gpubal.doctor.ingest.registry import FORMATS

    for fmt in FORMATS:
        started = time.process_time()
        fmt.detect(head)
        assert time.process_time() - started < 0.5, fmt.name


def test_the_ollama_parser_caches_keep_no_long_text():
    # answers are kept per text (a log repeats its lines); a hostile log of long distinct lines must not
    # fill the caches with them: 300 server configs of 500 KB held 165 MB before the bound
    from gpubal.doctor.ingest import ollama_log

    lines = ['time=2024-01-01T00:00:00.000Z level=INFO source=routes.go:1 msg="server config" '
             f'env="map[A:{i} B:{"x" * 100_000}]"\n' for i in range(3)]
    lines += [f'time=2024-01-01T00:00:00.000Z level=INFO source=x.go:1 msg="{"m" * 100_000}{i}" '
              f'paths=[/usr/lib/libcuda.so.535.1 {"y" * 100_000}]\n' for i in range(3)]
    log = ollama_log.parse_ollama_log(lines)
    assert log.server_config["A"] == "2"
    caches = (ollama_log._CONFIG_CACHE, ollama_log._MESSAGE_KINDS, ollama_log._LIBRARY_CACHE,
              ollama_log._FIELDS_CACHE, ollama_log._FLAGS_CACHE)
    assert all(len(key) <= ollama_log._CACHED_TEXT_CHARS for cache in caches for key in cache)
