"""Wall time of `gpubal doctor` against `nvidia-smi -q`, side by side on the same host.

Each command runs --runs times, alternating, after one warm-up of each; the report gives the median and
the ratio of medians, and the median CPU seconds (user + system) each command used. Run it on a GPU host
(`bash bench/startup_ratio.sh OUT` does it with the bytecode compiled first):

    python3 bench/bench_doctor.py --runs 10 --out bench/results/h200x1.json

This is a benchmark, not a test: it asserts nothing and prints what it measured.

Compile the bytecode first where the environment forbids writing it (the lent GPU machines' image sets
PYTHONDONTWRITEBYTECODE=1, so every run would compile every module, as no `pip install` leaves it):

    python3 -m compileall -q src "$(python3 -c 'import pynvml, os; print(os.path.dirname(pynvml.__file__))')"

or copy pynvml.py into a writable folder on PYTHONPATH and compile that, where site-packages is read-only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Tuple

COMMANDS = {
    "nvidia-smi -q": ["nvidia-smi", "-q"],
    "gpubal doctor": [sys.executable, "-m", "gpubal", "doctor", "--fail-on", "never"],
    "gpubal doctor --format json": [sys.executable, "-m", "gpubal", "doctor", "--format", "json", "--fail-on", "never"],
    "gpubal topo": [sys.executable, "-m", "gpubal", "topo"],
    "python -c pass (interpreter start)": [sys.executable, "-c", "pass"],
}


def time_once(command: List[str]) -> Tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, threads included) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--also", action="append", default=[], metavar="NAME=COMMAND",
                        help="one more command to time beside the others (split as a shell splits words), "
                             "to compare a variant on the same host: --also 'before=env PYTHONPATH=old/src "
                             "python3 -m gpubal doctor --fail-on never'")
    args = parser.parse_args()
    import shlex

    extra = {name: shlex.split(command) for name, _, command in (also.partition("=") for also in args.also)}
    commands = {name: cmd for name, cmd in {**COMMANDS, **extra}.items() if shutil.which(cmd[0]) or os.path.exists(cmd[0])}
    for command in commands.values():
        time_once(command)  # warm-up: page cache, driver state
    samples: Dict[str, List[float]] = {name: [] for name in commands}
    cpu: Dict[str, List[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            wall, cpu_s = time_once(command)
            samples[name].append(wall)
            cpu[name].append(cpu_s)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    reference = medians.get("nvidia-smi -q")
    print(f"{'command':<40} {'median s':>9} {'min s':>7} {'max s':>7} {'vs nvidia-smi -q':>17} {'CPU s':>7}")
    for name, values in samples.items():
        ratio = f"{medians[name] / reference:.2f}x" if reference else "-"
        print(f"{name:<40} {medians[name]:9.3f} {min(values):7.3f} {max(values):7.3f} {ratio:>17} "
              f"{cpu_medians[name]:7.3f}")
    if args.out:
        result = {
            "host": platform.node(), "python": platform.python_version(), "runs": args.runs,
            "samples_s": samples, "median_s": medians, "cpu_samples_s": cpu, "median_cpu_s": cpu_medians,
            "ratio_to_nvidia_smi_q": {n: m / reference for n, m in medians.items()} if reference else None,
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=1)


if __name__ == "__main__":
    main()
