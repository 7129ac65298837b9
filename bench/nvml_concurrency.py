"""Which NVML queries may run side by side with NVLink state queries, measured on a real host.

Each scenario runs in a fresh process (the fault showed most on first use), one after another (never
two processes at once), interleaved round by round so that a machine's early minutes touch every
scenario alike. In each, NVLink state is asked for every link of one GPU while something else happens;
an answer is wrong when it differs from a sequential sweep made alone at the end of the same process.

    PYTHONPATH=src python3 bench/nvml_concurrency.py --rounds 6 --out bench/results/nvml-concurrency.json

Scenarios:
  states-seq            the 18 link states one after another, nothing else running
  states-par            one thread per link, started together (first NVLink call of the process)
  states+QUERY:same     a sequential sweep of link states while another thread repeats QUERY on the same GPU
  states+QUERY:other    ... while QUERY repeats on another GPU
  collect:pools         gpubal's collection as it was (thread pools), counting wrong links per run
Also: the CPU cost of each query alone (median of 20), including the balance sampler's field values.

A benchmark, not a test: it asserts nothing and prints what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

LINK_QUERIES = ("nvlink_version", "nvlink_remote_pci", "nvlink_remote_device_type")


def _child(scenario: str) -> dict:
    from gpubal.model import Unavailable
    from gpubal.doctor.probes.nvml import DEVICE_QUERIES, NVLINK_MAX_LINKS, PynvmlAdapter

    nvml = PynvmlAdapter()
    failure = nvml.start()
    if failure is not None:
        return {"error": str(failure)}
    count = nvml.system("device_count")
    gpu, other = 0, (1 if isinstance(count, int) and count > 1 else 0)
    for index in range(count):
        nvml._handle(index)  # handles first, so that only the queries under test overlap

    def state(index: int, link: int):
        answer = nvml.device(index, "nvlink_state", link)
        return answer.reason.value if isinstance(answer, Unavailable) else answer

    seen: dict = {}
    wall = time.perf_counter()
    if scenario == "states-seq":
        seen = {link: state(gpu, link) for link in range(NVLINK_MAX_LINKS)}
    elif scenario == "states-par":
        barrier = threading.Barrier(NVLINK_MAX_LINKS)

        def one(link: int) -> None:
            barrier.wait()
            seen[link] = state(gpu, link)

        threads = [threading.Thread(target=one, args=(link,)) for link in range(NVLINK_MAX_LINKS)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    elif scenario.startswith("states+"):
        query, where = scenario[len("states+"):].split(":")
        target = gpu if where == "same" else other
        done = threading.Event()
        started = threading.Event()
        calls = [0]

        def hammer() -> None:
            link = 0
            started.set()
            while not done.is_set():
                if query in ("topology_common_ancestor",):
                    nvml.pair(0, other, query)
                elif query == "p2p_status":
                    nvml.pair(0, other, query, 2)
                elif query in LINK_QUERIES:
                    nvml.device(target, query, link % NVLINK_MAX_LINKS)
                    link += 1
                elif query == "clock_info":
                    nvml.device(target, query, 1)
                elif query == "pcie_throughput":
                    nvml.device(target, query, 0)
                else:
                    nvml.device(target, query)
                calls[0] += 1

        thread = threading.Thread(target=hammer)
        thread.start()
        started.wait()
        for _ in range(3):
            for link in range(NVLINK_MAX_LINKS):
                answer = state(gpu, link)
                if seen.get(link, 1) == 1:
                    seen[link] = answer
        done.set()
        thread.join()
    elif scenario == "collect:pools":
        from gpubal.doctor.collect import collect_snapshot
        from gpubal.doctor.probes.files import HostFiles
        nvml.stop()
        snapshot = collect_snapshot(PynvmlAdapter(), HostFiles("/"))
        result = {}
        for g in snapshot.gpus.value:
            links = getattr(g.nvlinks, "value", None) or []
            result[g.index] = sum(1 for link in links if getattr(link.active, "value", None) is True)
        return {"up": result, "wall_s": round(time.perf_counter() - wall, 4)}
    wall = time.perf_counter() - wall
    truth = {link: state(gpu, link) for link in range(NVLINK_MAX_LINKS)}
    wrong = sorted(link for link in truth if seen.get(link) != truth[link])
    nvml.stop()
    return {"wrong": wrong, "seen": {str(k): v for k, v in sorted(seen.items()) if k in wrong},
            "truth_up": sum(1 for v in truth.values() if v == 1), "wall_s": round(wall, 4)}


def _costs() -> dict:
    """CPU seconds of each query alone, median of 20, and of the sampler's field-value variants."""
    import pynvml
    from gpubal.doctor.probes.nvml import DEVICE_QUERIES, SAMPLE_QUERIES, PynvmlAdapter

    nvml = PynvmlAdapter()
    if nvml.start() is not None:
        return {}
    handle = nvml._handle(0)
    costs = {}

    def measure(name, call):
        times = []
        for _ in range(20):
            start = time.process_time()
            try:
                call()
            except Exception:  # noqa: BLE001 - a field the GPU lacks still costs something
                pass
            times.append(time.process_time() - start)
        costs[name] = round(statistics.median(times) * 1000, 3)

    for query in DEVICE_QUERIES + SAMPLE_QUERIES:
        arg = 0 if query.startswith("nvlink") or query == "pcie_throughput" else (1 if query == "clock_info" else None)
        measure(query, lambda q=query, a=arg: nvml.device(0, q, a))
    uint_max = 0xFFFFFFFF
    measure("fields:pcie", lambda: pynvml.nvmlDeviceGetFieldValues(handle, [(197, 0), (198, 0)]))
    measure("fields:nvlink-per-link-x18", lambda: pynvml.nvmlDeviceGetFieldValues(
        handle, [(f, link) for link in range(18) for f in (138, 139)]))
    measure("fields:nvlink-aggregate", lambda: pynvml.nvmlDeviceGetFieldValues(handle, [(138, uint_max), (139, uint_max)]))
    measure("fields:pcie+nvlink-aggregate", lambda: pynvml.nvmlDeviceGetFieldValues(
        handle, [(197, 0), (198, 0), (138, uint_max), (139, uint_max)]))
    measure("fields:nvlink-link0", lambda: pynvml.nvmlDeviceGetFieldValues(handle, [(138, 0), (139, 0)]))
    values = pynvml.nvmlDeviceGetFieldValues(handle, [(138, uint_max), (139, uint_max)] +
                                             [(f, link) for link in range(18) for f in (138, 139)])
    costs["aggregate_check"] = {
        "aggregate": [(int(v.nvmlReturn), int(v.value.ullVal)) for v in values[:2]],
        "sum_of_links": [sum(int(v.value.ullVal) for v in values[2:][i::2] if int(v.nvmlReturn) == 0) for i in (0, 1)],
    }
    nvml.stop()
    return costs


def _hammer(seconds: float) -> None:
    """Another program on the host: NVLink field values of every link of every GPU, without pause."""
    import pynvml

    pynvml.nvmlInit()
    handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    fields = [(f, link) for link in range(18) for f in (138, 139)]
    calls, end = 0, time.time() + seconds
    while time.time() < end:
        for handle in handles:
            pynvml.nvmlDeviceGetFieldValues(handle, fields)
            calls += 1
    print(json.dumps({"hammer_calls": calls}))


def _aggregate_check(seconds: float) -> None:
    """NVLink counters summed by NVML (scope UINT_MAX) against the sum of the links, over `seconds`."""
    import pynvml

    pynvml.nvmlInit()
    result = {}
    for index in range(pynvml.nvmlDeviceGetCount()):
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)

        def read():
            values = pynvml.nvmlDeviceGetFieldValues(handle, [(138, 0xFFFFFFFF), (139, 0xFFFFFFFF)] +
                                                     [(f, link) for link in range(18) for f in (138, 139)])
            ok = [int(v.nvmlReturn) == 0 for v in values]
            numbers = [int(v.value.ullVal) for v in values]
            return numbers[0], numbers[1], sum(numbers[2::2]), sum(numbers[3::2]), all(ok)

        before = read()
        time.sleep(seconds)
        after = read()
        result[index] = {"aggregate_tx_kib": after[0] - before[0], "aggregate_rx_kib": after[1] - before[1],
                         "links_tx_kib": after[2] - before[2], "links_rx_kib": after[3] - before[3],
                         "all_ok": after[4]}
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--out")
    parser.add_argument("--child")
    parser.add_argument("--hammer", type=float, help="only: hammer NVLink field values for this many seconds")
    parser.add_argument("--aggregate-check", type=float, help="only: compare summed and per-link NVLink counters")
    args = parser.parse_args()
    if args.hammer:
        _hammer(args.hammer)
        return
    if args.aggregate_check:
        _aggregate_check(args.aggregate_check)
        return
    if args.child == "costs":
        print(json.dumps(_costs()))
        return
    if args.child:
        print(json.dumps(_child(args.child)))
        return
    from gpubal.doctor.probes.nvml import DEVICE_QUERIES, SAMPLE_QUERIES

    others = [q for q in DEVICE_QUERIES + SAMPLE_QUERIES if q != "nvlink_state"] + ["topology_common_ancestor",
                                                                                     "p2p_status"]
    scenarios = ["collect:pools", "states-seq", "states-par", "states+nvlink_state:other"]
    scenarios += [f"states+{q}:{w}" for q in others for w in ("same", "other")]
    results: dict = {name: [] for name in scenarios}
    started = time.time()
    for round_index in range(args.rounds):
        for name in scenarios:
            proc = subprocess.run([sys.executable, __file__, "--child", name], capture_output=True, text=True,
                                  timeout=60)
            try:
                results[name].append(json.loads(proc.stdout.strip().splitlines()[-1]))
            except (ValueError, IndexError):
                results[name].append({"crash": proc.stderr[-400:]})
        print(f"round {round_index + 1} done at {time.time() - started:.0f} s", flush=True)
    summary = {}
    for name, runs in results.items():
        if name == "collect:pools":
            bad = [r for r in runs if set(r.get("up", {}).values()) != {18}]
        else:
            bad = [r for r in runs if r.get("wrong") or "crash" in r or "error" in r]
        summary[name] = {"wrong_runs": len(bad), "runs": len(runs), "examples": bad[:2],
                         "median_wall_s": statistics.median([r.get("wall_s", 0) for r in runs])}
    costs = json.loads(subprocess.run([sys.executable, __file__, "--child", "costs"], capture_output=True,
                                      text=True).stdout or "{}")
    for name, row in summary.items():
        print(f"{name:<48} wrong {row['wrong_runs']}/{row['runs']}  {row['examples'][:1]}")
    print("cost ms (CPU, median of 20):", json.dumps(costs))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump({"summary": summary, "costs_ms": costs, "raw": results}, handle, indent=1)


if __name__ == "__main__":
    main()
