"""How long `gpubal fleet` takes over N generated hosts' reports, and how much memory it holds.

    python bench/bench_fleet.py                  # 10,000 hosts, generated once into /tmp/gpubal-fleet-10000
    python bench/bench_fleet.py --hosts 100000 --jobs 1

It runs `gpubal fleet DIR --format json` as a child process and reports its wall time, the CPU time of
it and its workers, and the peak of their resident memory added together (sampled from /proc every
20 ms, so a pool of workers counts in full). The machine's load average is printed beside it: on a shared
machine the wall time says more about the neighbours than about gpubal, the CPU time does not.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _tree_rss_bytes(root_pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [root_pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument("--dir", default="", help="reports to read (default: generated into /tmp)")
    parser.add_argument("--jobs", type=int, default=0, help="passed to gpubal fleet --jobs (default: its own)")
    parser.add_argument("--stdlib-json", action="store_true", help="parse with the standard library even where "
                                                                    "orjson is installed")
    arguments = parser.parse_args()
    directory = Path(arguments.dir or f"/tmp/gpubal-fleet-{arguments.hosts}")
    if not directory.exists():
        started = time.monotonic()
        subprocess.run([sys.executable, str(REPO / "bench" / "make_fleet.py"), str(arguments.hosts), str(directory)],
                       check=True)
        print(f"generated {arguments.hosts} reports into {directory} in {time.monotonic() - started:.1f} s")
    count = sum(len(files) for _, _, files in os.walk(directory))
    size = sum(os.path.getsize(os.path.join(root, name)) for root, _, files in os.walk(directory) for name in files)
    prelude = "import sys; sys.modules['orjson'] = None; " if arguments.stdlib_json else ""
    command = [sys.executable, "-c", prelude + "from gpubal.entry import main; main()", "fleet", str(directory), "--format", "json",
               "--output", os.devnull, "--fail-on", "never"]
    if arguments.jobs:
        command += ["--jobs", str(arguments.jobs)]
    load = os.getloadavg()
    started = time.monotonic()
    process = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    peak = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_bytes(process.pid))
            stop.wait(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    code = process.wait()
    wall = time.monotonic() - started
    stop.set()
    watcher.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        import orjson  # noqa: F401

        parser_name = "json (standard library)" if arguments.stdlib_json else "orjson"
    except ImportError:
        parser_name = "json (standard library)"
    print(f"gpubal fleet over {count} reports ({size / 2**30:.2f} GiB), parser {parser_name}, "
          f"jobs {arguments.jobs or 'default'}, CPUs {os.cpu_count()}, load average before {load[0]:.1f}")
    print(f"  wall {wall:.1f} s; CPU {usage.ru_utime + usage.ru_stime:.1f} s (user {usage.ru_utime:.1f}, "
          f"system {usage.ru_stime:.1f}); peak memory {peak / 2**20:.0f} MiB (all processes); exit {code}")


if __name__ == "__main__":
    main()
