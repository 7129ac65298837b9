"""Where `gpubal doctor` spends its time, phase by phase, in one process:
imports, NVML start, host files, per-GPU NVML queries, pairs, rules, rendering.

    python3 bench/bench_phases.py [--runs 5] [--nvml-profile FILE --root DIR]

Each phase is timed with perf_counter; the import phase is measured in a fresh interpreter
(`python -X importtime` would add its own overhead). Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import time


def import_time_s(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return float(subprocess.check_output([sys.executable, "-c", code], text=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--nvml-profile")
    parser.add_argument("--root", default="/")
    args = parser.parse_args()

    imports = {m: statistics.median(import_time_s(m) for _ in range(args.runs))
               for m in ("pynvml", "rich.console", "typer", "gpubal.cli", "gpubal.rules")}
    from gpubal.doctor.collect import collect_snapshot
    from gpubal.doctor.collect.host import collect_host
    from gpubal.doctor.engine import evaluate
    from gpubal.doctor.probes.files import HostFiles
    from gpubal.doctor.probes.nvml import PynvmlAdapter, ReplayAdapter
    from gpubal.reports.terminal import render_terminal
    from gpubal.rules import all_rules
    from rich.console import Console

    def adapter():
        return ReplayAdapter.from_file(args.nvml_profile) if args.nvml_profile else PynvmlAdapter()

    from gpubal.doctor.collect.ollama import collect_ollama
    from gpubal.doctor.collect.processes import collect_processes, gpu_holders, process_names
    from gpubal.doctor.collect.stack import collect_stack
    from gpubal.doctor.live import collect_live, python_site_dirs
    from gpubal.model import Known
    from gpubal.doctor.probes.commands import run_command
    from gpubal.doctor.probes.http import get_json

    phases = {"nvml start+stop": [], "host files": [], "processes": [], "process table": [], "stack": [], "ollama": [],
              "collect (all)": [], "live collection": [], "rules": [], "terminal render": []}
    for _ in range(args.runs):
        nvml = adapter()
        start = time.perf_counter()
        failure = nvml.start()
        if failure is None:
            nvml.stop()
        phases["nvml start+stop"].append(time.perf_counter() - start)
        start = time.perf_counter()
        collect_host(HostFiles(args.root))
        phases["host files"].append(time.perf_counter() - start)
        start = time.perf_counter()
        processes = process_names(HostFiles(args.root))
        phases["processes"].append(time.perf_counter() - start)
        nvml = adapter()
        if nvml.start() is None:  # NVML's start is its own phase; the table's cost is its queries and /proc
            count = nvml.system("device_count")
            start = time.perf_counter()
            holders, failure = gpu_holders(nvml, range(count if isinstance(count, int) else 0))
            collect_processes(HostFiles(args.root), processes, holders, failure, Known([], "bench"),
                              Known("none", "bench"))
            phases["process table"].append(time.perf_counter() - start)
            nvml.stop()
        start = time.perf_counter()
        collect_stack(HostFiles(args.root), dict(os.environ), python_site_dirs(), processes, Known("none", "bench"))
        phases["stack"].append(time.perf_counter() - start)
        start = time.perf_counter()
        collect_ollama(HostFiles(args.root), dict(os.environ), processes, run_command, get_json)
        phases["ollama"].append(time.perf_counter() - start)
        if not args.nvml_profile:
            start = time.perf_counter()
            collect_live(args.root)
            phases["live collection"].append(time.perf_counter() - start)
        start = time.perf_counter()
        snapshot = collect_snapshot(adapter(), HostFiles(args.root))
        phases["collect (all)"].append(time.perf_counter() - start)
        start = time.perf_counter()
        report = evaluate(snapshot, all_rules())
        phases["rules"].append(time.perf_counter() - start)
        start = time.perf_counter()
        render_terminal(report, Console(file=io.StringIO(), width=100, no_color=True))
        phases["terminal render"].append(time.perf_counter() - start)

    timings = query_timings(adapter(), args.root)

    print(f"{'phase':<28} {'median ms':>10}")
    for module, seconds in imports.items():
        print(f"{'import ' + module:<28} {seconds * 1000:10.1f}")
    for name, values in phases.items():
        if not values:
            continue
        print(f"{name:<28} {statistics.median(values) * 1000:10.1f}")
    print("\nslowest NVML queries (one collection; queries run side by side, so these sums exceed wall time):")
    for query, seconds in sorted(timings.items(), key=lambda item: -item[1])[:12]:
        print(f"  {query:<34} {seconds * 1000:8.2f} ms")
    print(f"  {'all queries':<34} {sum(timings.values()) * 1000:8.2f} ms")


def query_timings(inner, root):
    """Wraps an adapter to sum the wall time of each query name over one collection (threads off)."""
    from collections import defaultdict

    from gpubal.doctor.collect import collect_snapshot
    from gpubal.doctor.probes.files import HostFiles

    totals = defaultdict(float)

    class Timed:
        def start(self):
            t = time.perf_counter(); r = inner.start(); totals["(nvmlInit)"] += time.perf_counter() - t; return r

        def stop(self):
            inner.stop()

        def system(self, query):
            t = time.perf_counter(); r = inner.system(query); totals["system " + query] += time.perf_counter() - t; return r

        def device(self, index, query, arg=None):
            t = time.perf_counter(); r = inner.device(index, query, arg); totals[query] += time.perf_counter() - t; return r

        def pair(self, a, b, query, arg=None):
            t = time.perf_counter(); r = inner.pair(a, b, query, arg); totals["pair " + query] += time.perf_counter() - t; return r

    collect_snapshot(Timed(), HostFiles(root))
    return totals


if __name__ == "__main__":
    main()
