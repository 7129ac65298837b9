"""Where one `gpubal doctor` start goes, step by step in one process, in the order the command takes them:
each import (counting only what it adds to those before it), the collection from an NVML profile, the
matrix, the rules and the terminal report. A development aid for issue 13's start-up work; it asserts
nothing. The figure that counts is bench/bench_doctor.py's wall time against `nvidia-smi -q` on a GPU host.

    python3 bench/startup_steps.py [--runs 9] [--nvml-profile tests/fixtures/nvml/h200x2-live.json]

Each run is a fresh interpreter; the table gives each step's median milliseconds. Compile the bytecode
first where PYTHONDONTWRITEBYTECODE is set (`python3 -m compileall -q src`), as a pip install leaves it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

STEPS = r'''
import io, json, sys, time
marks = []
last = time.perf_counter()
def mark(name):
    global last
    now = time.perf_counter()
    marks.append((name, (now - last) * 1000))
    last = now
import gpubal.model; mark("import gpubal.model")
import gpubal.doctor.collect, gpubal.doctor.live; mark("import the collection")
import gpubal.matrix; mark("import gpubal.matrix")
import gpubal.rules; rules = gpubal.rules.all_rules(); mark("import the rules")
import gpubal.doctor.engine, gpubal.sources, gpubal.commands.doctor, gpubal.outputs; mark("import engine, command")
from gpubal.doctor.probes.nvml import ReplayAdapter
from gpubal.doctor.probes.files import HostFiles
snapshot = gpubal.doctor.collect.collect_snapshot(ReplayAdapter.from_file(sys.argv[1]), HostFiles("/"))
mark("collect (NVML replayed)")
report = gpubal.doctor.engine.evaluate(snapshot, rules); mark("load matrix, evaluate")
renderer = gpubal.outputs.DOCTOR_RENDERERS["terminal"]
renderer.prepare(); mark("import the terminal report")
text = renderer.render(report, None, False, False); mark("render the terminal report")
print(json.dumps(marks))
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--nvml-profile", default="tests/fixtures/nvml/h200x2-live.json")
    args = parser.parse_args()
    runs = [json.loads(subprocess.check_output([sys.executable, "-c", STEPS, args.nvml_profile], text=True))
            for _ in range(args.runs)]
    names = [name for name, _ in runs[0]]
    total = 0.0
    for number, name in enumerate(names):
        median = statistics.median(run[number][1] for run in runs)
        total += median
        print(f"{name:<32} {median:7.1f} ms")
    print(f"{'sum of medians':<32} {total:7.1f} ms")


if __name__ == "__main__":
    main()
