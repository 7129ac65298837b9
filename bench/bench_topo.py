"""How long `gpubal topo`'s placement takes on a synthetic 16-GPU host, per group size and for the whole
advice (every group size that divides 16, with explanations and settings).

The host: two sockets; on each, two PCIe switches of four GPUs (PIX inside a switch, NODE across switches,
SYS across sockets); NVLink bridges join GPUs 2i and 2i+1. Groups of 2, 4 and 8 take the greedy + local
search path (2,027,025, 2,627,625 and 6,435 partitions exist; exhaustive search stops at 1,000), 1 and 16
are trivial.

    PYTHONPATH=src python3 bench/bench_topo.py [--runs 20] [--out bench/results/topo.json]

A benchmark, not a test: it prints what it measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from gpubal.model import (SCHEMA_VERSION, Driver, Gpu, GpuPair, Host, Known, NumaNode, Ollama,  # noqa: E402
                          Reason, Snapshot, Stack, Unavailable)
from gpubal.placement.advice import advise  # noqa: E402
from gpubal.placement.groups import best_partition, partition_count  # noqa: E402
from gpubal.placement.topology import build_topology  # noqa: E402


def _blank(cls, **given):
    missing = Unavailable(Reason.NOT_IN_INPUT, "synthetic")
    values = {f.name: missing for f in dataclasses.fields(cls)}
    values.update(given)
    return cls(**values)


def synthetic_16() -> Snapshot:
    def known(value):
        return Known(value, "synthetic")

    gpus = [_blank(Gpu, index=i, uuid=known(f"GPU-{i:08x}-0000-0000-0000-000000000000"),
                   name=known("NVIDIA H100 80GB HBM3"), memory_total_bytes=known(80 << 30),
                   numa_node=known(i // 8), cpu_affinity=known("0-63" if i < 8 else "64-127"),
                   pci_bus_id=known(f"00000000:{i + 16:02X}:00.0")) for i in range(16)]
    pairs = []
    for a in range(16):
        for b in range(a + 1, 16):
            path = "SYS" if a // 8 != b // 8 else "PIX" if a // 4 == b // 4 else "NODE"
            bridged = b == a + 1 and a % 2 == 0
            pairs.append(_blank(GpuPair, gpu_a=a, gpu_b=b, pcie_path=known(path),
                                nvlink_count=known(4 if bridged else 0),
                                nvlink_route=known("direct" if bridged else "none")))
    host = _blank(Host, numa_nodes=known([NumaNode(0, "0-63"), NumaNode(1, "64-127")]))
    return Snapshot(SCHEMA_VERSION, "bench", "2026-01-01T00:00:00+00:00", "synthetic", host, _blank(Driver),
                    known(gpus), known(pairs), _blank(Stack), _blank(Ollama))


def timed(function, runs: int):
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        samples.append((time.perf_counter() - started) * 1000)
    return result, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    snapshot = synthetic_16()
    topology = build_topology(snapshot)
    results = {"python": platform.python_version(), "machine": platform.machine(), "runs": args.runs, "sizes": {}}
    print(f"synthetic 16-GPU host, {args.runs} runs each (median, max in ms)")
    for size in (1, 2, 4, 8, 16):
        partition, samples = timed(lambda: best_partition(topology, size), args.runs)
        row = {"method": partition.method, "partitions": partition_count(16, size),
               "median_ms": round(statistics.median(samples), 3), "max_ms": round(max(samples), 3),
               "groups": [list(g) for g in partition.groups]}
        results["sizes"][size] = row
        print(f"  k={size:>2}  {partition.method:<15} {row['partitions']:>12,} partitions  "
              f"median {row['median_ms']:8.3f} ms  max {row['max_ms']:8.3f} ms  groups {row['groups']}")
    _, samples = timed(lambda: build_topology(snapshot), args.runs)
    results["build_topology_median_ms"] = round(statistics.median(samples), 3)
    _, samples = timed(lambda: advise(snapshot), args.runs)
    results["advise_all_sizes_median_ms"] = round(statistics.median(samples), 3)
    results["advise_all_sizes_max_ms"] = round(max(samples), 3)
    print(f"  build_topology: median {results['build_topology_median_ms']:.3f} ms")
    print(f"  advise (every size, explanations and settings): median {results['advise_all_sizes_median_ms']:.3f} ms"
          f", max {results['advise_all_sizes_max_ms']:.3f} ms")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)
            handle.write("\n")


if __name__ == "__main__":
    main()
