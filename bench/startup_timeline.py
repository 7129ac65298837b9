"""A timeline of one live `gpubal doctor` start on a GPU host: which thread imports, waits on NVML or works,
and when; where the wall time goes that the CPU time does not explain (NVML answering in series).

    python3 bench/startup_timeline.py [--runs 7] [-- doctor --fail-on never]

Each run is a fresh interpreter that imports pynvml, wraps its nvml* functions and the import statement
with timers, then runs gpubal's entry point as the console script does. The timers add some overhead of
their own; the figures are for finding the critical path, not for the README (bench_doctor.py is).
Prints, as medians over the runs: milestones since the script started, and each thread's time in imports
and in NVML calls. A development aid for issue 13; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

CHILD = r'''
import builtins, json, os, sys, threading, time
start = time.perf_counter()
marks, spans = {}, []  # milestone -> seconds; (thread, kind, seconds spent)
def mark(name):
    marks.setdefault(name, time.perf_counter() - start)
depth = threading.local()
real_import = builtins.__import__
PHASES = {"gpubal.doctor.collect": "collect_snapshot", "gpubal.doctor.engine": "evaluate",
          "gpubal.outputs": "write"}
def phase(name, function):
    def timed(*args, **kwargs):
        mark(name + " began")
        try:
            return function(*args, **kwargs)
        finally:
            mark(name + " returned")
    timed.timed = True
    return timed
def patch_phases():
    for module_name, function_name in PHASES.items():
        module = sys.modules.get(module_name)
        function = getattr(module, function_name, None)
        if function is not None and not getattr(function, "timed", False):
            setattr(module, function_name, phase(function_name, function))
def timed_import(name, *args, **kwargs):
    level = getattr(depth, "n", 0)
    depth.n = level + 1
    began = time.perf_counter()
    try:
        return real_import(name, *args, **kwargs)
    finally:
        depth.n = level
        if level == 0:
            spans.append((threading.current_thread().name, "import", time.perf_counter() - began))
        patch_phases()  # before the importer binds the name: its calls then go through the timer
builtins.__import__ = timed_import
import pynvml
mark("pynvml imported")
def wrap(name, function):
    def timed(*args, **kwargs):
        began = time.perf_counter()
        mark("first " + name)
        try:
            return function(*args, **kwargs)
        finally:
            now = time.perf_counter()
            spans.append((threading.current_thread().name, "nvml", now - began))
            marks["last NVML return"] = now - start
            if name == "nvmlInit":
                mark("nvmlInit returned")
    return timed
for name in dir(pynvml):
    if name.startswith("nvml") and callable(getattr(pynvml, name)):
        setattr(pynvml, name, wrap(name, getattr(pynvml, name)))
def report():
    mark("exit")
    by_thread = {}
    for thread, kind, seconds in spans:
        by_thread.setdefault(thread, {}).setdefault(kind, 0.0)
        by_thread[thread][kind] += seconds
    sys.__stderr__.write("TIMELINE " + json.dumps({"marks": {k: v * 1000 for k, v in marks.items()},
        "threads": {t: {k: v * 1000 for k, v in d.items()} for t, d in by_thread.items()}}) + "\n")
import atexit
atexit.register(report)
real_exit = os._exit
def reported_exit(code):  # doctor, topo and collect leave through os._exit (gpubal.entry._leave_now)
    report()
    real_exit(code)
os._exit = reported_exit
real_write = sys.stdout.write
def first_write(text):
    mark("first output")
    return real_write(text)
sys.stdout.write = first_write
sys.argv = ["gpubal"] + sys.argv[1:]
from gpubal.entry import main
mark("entry imported")
main()
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("command", nargs="*", default=["doctor", "--fail-on", "never"])
    args = parser.parse_args()
    runs, walls = [], []
    for _ in range(args.runs):
        began = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CHILD, *args.command], capture_output=True, text=True)
        walls.append((time.perf_counter() - began) * 1000)
        line = next((line for line in done.stderr.splitlines() if line.startswith("TIMELINE ")), None)
        if line is None:
            sys.exit(f"no timeline from the child:\n{done.stderr[-2000:]}")
        runs.append(json.loads(line[len("TIMELINE "):]))
    print(f"whole process, wall: {statistics.median(walls):.1f} ms (median of {args.runs})")
    names = sorted({name for run in runs for name in run["marks"]},
                   key=lambda name: statistics.median(run["marks"].get(name, 0) for run in runs))
    for name in names:
        values = [run["marks"][name] for run in runs if name in run["marks"]]
        print(f"  {statistics.median(values):7.1f} ms  {name}")
    print("per thread (ms, medians): imports at top level, NVML calls")
    threads = sorted({thread for run in runs for thread in run["threads"]})
    for thread in threads:
        kinds = {kind: statistics.median(run["threads"].get(thread, {}).get(kind, 0) for run in runs)
                 for kind in ("import", "nvml")}
        print(f"  {thread:<24} import {kinds['import']:7.1f}   nvml {kinds['nvml']:7.1f}")


if __name__ == "__main__":
    main()
