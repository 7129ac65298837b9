"""`gpubal doctor --from` on hostile input: each case must end in one clear line (exit 2) within seconds
and under 200 MB of peak memory. Each runs in its own process, which reports its peak RSS.

    python bench/bench_hostile_from.py [--gigabytes 1]

Cases: a gzip holding one line of 1 GB; a gzip bomb of short lines after a real Ollama log head; 30 MB
of nested XML after nvidia-smi's root element (on one line, and one tag a line); a flat XML of millions of elements; a 30 MB plain line."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLLAMA_HEAD = (ROOT / "tests" / "fixtures" / "dumps" / "ollama-log" / "2x3060-inference-compute-debug-0.3.x.txt")
XML_HEAD = '<?xml version="1.0" ?>\n<nvidia_smi_log>\n<driver_version>580.95.05</driver_version>\n'

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from gpubal.doctor.ingest.dumps import InputError, snapshot_from_dumps
start = time.perf_counter()
try:
    snapshot_from_dumps([sys.argv[1]])
    outcome = "read"
except InputError as error:
    outcome = str(error)
print(json.dumps({"seconds": time.perf_counter() - start, "outcome": outcome,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def gzip_stream(path: Path, head: bytes, body: bytes, repeat: int) -> None:
    """head, then body `repeat` times, gzip-compressed without holding the whole text in memory."""
    with gzip.open(path, "wb", compresslevel=9) as handle:
        handle.write(head)
        for _ in range(repeat):
            handle.write(body)


def make_cases(folder: Path, gigabytes: float):
    mib = 1 << 20
    blocks = int(gigabytes * 1024)
    one_line = folder / "one-line.log.gz"
    gzip_stream(one_line, OLLAMA_HEAD.read_bytes() + b"x", b"a" * mib, blocks)
    bomb = folder / "short-lines.log.gz"
    gzip_stream(bomb, OLLAMA_HEAD.read_bytes(), b"\n" * mib, blocks)
    nested = folder / "nested.xml"
    with open(nested, "w") as handle:
        handle.write(XML_HEAD + "<gpu>" + "<a>" * (10 * mib) + "\n")
    nested_lines = folder / "nested-lines.xml"
    with open(nested_lines, "w") as handle:
        handle.write(XML_HEAD + "<gpu>\n" + "<a>\n" * (8 * mib))
    flat = folder / "flat.xml"
    with open(flat, "w") as handle:
        handle.write(XML_HEAD + "<gpu>\n")
        for _ in range(30):
            handle.write("<a/>" * (mib // 4) + "\n")
    plain_line = folder / "plain-line.log"
    with open(plain_line, "wb") as handle:
        handle.write(OLLAMA_HEAD.read_bytes() + b"y" * (30 * mib))
    return [one_line, bomb, nested, nested_lines, flat, plain_line]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gigabytes", type=float, default=1.0, help="size of the gzip bombs, unpacked")
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory() as folder:
        for path in make_cases(Path(folder), args.gigabytes):
            started = time.perf_counter()
            child = subprocess.run([sys.executable, "-c", CHILD, str(path), str(ROOT / "src")],
                                   capture_output=True, text=True, timeout=300)
            wall = time.perf_counter() - started
            if child.returncode != 0:
                print(f"{path.name}: CRASHED ({child.returncode}): {child.stderr.strip()[-300:]}")
                failed = True
                continue
            result = json.loads(child.stdout)
            ok = result["outcome"] != "read" and wall < 10 and result["peak_mib"] < 200
            failed |= not ok
            print(f"{path.name:<22} {os.path.getsize(path) / 1e6:7.1f} MB on disk  {result['seconds']:6.2f} s  "
                  f"peak {result['peak_mib']:6.0f} MiB  {'PASS' if ok else 'FAIL'}: {result['outcome'][:110]}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
