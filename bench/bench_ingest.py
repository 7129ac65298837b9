"""How long gpubal takes to read a 100 MB Ollama log (target: under 2 s), built from the real log lines
in tests/fixtures/dumps/ollama-log repeated, with the repeats numbered so no two lines are identical.

    python bench/bench_ingest.py [--megabytes 100] [--keep FILE]

It times both the parser alone and the whole `--from` path (reading the file, detection, the snapshot)
and prints peak memory, which must stay flat: the log is streamed, never read whole."""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gpubal.doctor.ingest.dumps import snapshot_from_dumps  # noqa: E402
from gpubal.doctor.ingest.ollama_log import parse_ollama_log  # noqa: E402


def real_lines():
    lines = []
    for path in sorted((ROOT / "tests" / "fixtures" / "dumps" / "ollama-log").glob("*.txt")):
        lines += [line if line.endswith("\n") else line + "\n" for line in path.read_text().splitlines(True)]
    return lines


def write_log(path: Path, megabytes: int) -> int:
    lines = real_lines()
    target = megabytes * 10**6
    written = 0
    with open(path, "w") as handle:
        repeat = 0
        while written < target:
            block = "".join(lines).replace("time=20", f"time=2{repeat % 10}")
            handle.write(block)
            written += len(block)
            repeat += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    path = args.keep or Path(tempfile.mkstemp(suffix=".log")[1])
    try:
        size = write_log(path, args.megabytes)
        with open(path, encoding="utf-8", errors="replace") as handle:
            start = time.perf_counter()
            log = parse_ollama_log(handle)
            parse_s = time.perf_counter() - start
        start = time.perf_counter()
        snapshot = snapshot_from_dumps([str(path)]).snapshot
        whole_s = time.perf_counter() - start
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"log: {size / 1e6:.0f} MB, {log.lines_read} lines, {log.lines_recognised} recognised, "
              f"{len(log.loads)} model loads kept")
        print(f"parse_ollama_log: {parse_s:.2f} s ({size / 1e6 / parse_s:.0f} MB/s)")
        print(f"gpubal doctor --from (read, detect, parse, snapshot): {whole_s:.2f} s")
        print(f"peak RSS: {peak_mib:.0f} MiB; snapshot has {len(snapshot.ollama.log_offloads.value)} offloads")
        print("PASS" if whole_s < 2.0 else "SLOW: over the 2 s target")
    finally:
        if args.keep is None:
            os.unlink(path)


if __name__ == "__main__":
    main()
