#!/usr/bin/env python3
"""Proof for `gpubal balance` on a real GPU host: generate known load with torch, measure it with gpubal.

Three phases, each: start the load, let it warm up, run `python -m gpubal balance --seconds 8 --format
json` in a subprocess (PYTHONPATH=src; gpubal itself never imports torch), stop the load.

  a  matrix products on GPU 0 only            expected on 2 GPUs: ~50 points imbalance, one-GPU-busy
  b  matrix products on every GPU             expected: ~0 points, no diagnosis
  c  a transformer with random weights (torch.nn.TransformerEncoderLayer stacks built from a config, no
     downloads) split layer-wise across the GPUs; each step's output is fed back as the next input, as in
     decoding, so the stages run in order           expected: the GPUs take turns (concurrency ~1)

With one GPU the script still runs: phase b is phase a on that GPU and phase c runs every layer on it;
the results say so. It uses no NCCL (plain tensor copies between devices); NCCL_NVLS_ENABLE=0 is set
anyway in case a torch build initialises it.

    python3 bench/balance_load.py --out bench/results/h200x2-balance      # from the repository root

Writes OUT/balance_load.json (the summary with every phase's figures and checks) and OUT/phase-<x>.json
(gpubal's full JSON report of that phase). Exit 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional

os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
# torch's cuda:N must be NVML's (and so gpubal's) GPU N: number devices by PCI bus id, not fastest first
os.environ["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- load -------------------------------------------------------------------------------------------------


class Load:
    """Work running in background threads until stop(); counts finished iterations."""

    def __init__(self) -> None:
        self.stop_event = threading.Event()
        self.threads: List[threading.Thread] = []
        self.iterations: Dict[str, int] = {}
        self.errors: List[str] = []
        self.started = 0.0

    def run(self, name: str, body) -> None:
        def guarded() -> None:
            try:
                body(name)
            except BaseException as error:  # noqa: BLE001 - reported in the results
                self.errors.append(f"{name}: {type(error).__name__}: {error}")

        self.iterations[name] = 0
        thread = threading.Thread(target=guarded, name=name, daemon=True)
        self.threads.append(thread)

    def start(self) -> None:
        self.started = time.perf_counter()
        for thread in self.threads:
            thread.start()

    def stop(self) -> Dict[str, float]:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=60)
        elapsed = time.perf_counter() - self.started
        return {name: round(count / elapsed, 2) for name, count in self.iterations.items()}


def matmul_load(load: Load, torch, device: str, size: int) -> None:
    def body(name: str) -> None:
        torch.cuda.set_device(device)
        a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
        b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
        c = torch.empty(size, size, device=device, dtype=torch.bfloat16)
        while not load.stop_event.is_set():
            for _ in range(8):
                torch.matmul(a, b, out=c)
            torch.cuda.synchronize(device)  # keep the queue short, so stopping is prompt
            load.iterations[name] += 8

    load.run(f"matmul@{device}", body)


def pipeline_load(load: Load, torch, devices: List[str], config: Dict[str, int]) -> Dict[str, Any]:
    """A layer-wise split: stage i holds its share of the layers on devices[i]."""
    nn = torch.nn
    layers = config["layers"]
    per_stage = [layers // len(devices) + (1 if i < layers % len(devices) else 0) for i in range(len(devices))]
    torch.manual_seed(0)
    stages = []
    for device, count in zip(devices, per_stage):
        stage = nn.Sequential(*[nn.TransformerEncoderLayer(
            config["d_model"], config["heads"], config["d_ff"], dropout=0.0, batch_first=True, norm_first=True)
            for _ in range(count)])
        stages.append(stage.to(device=device, dtype=torch.bfloat16).eval())
    x = torch.randn(config["batch"], config["seq"], config["d_model"], device=devices[0], dtype=torch.bfloat16)

    def body(name: str) -> None:
        nonlocal x
        with torch.inference_mode():
            while not load.stop_event.is_set():
                for _ in range(2):
                    hidden = x
                    for stage, device in zip(stages, devices):
                        hidden = stage(hidden.to(device, non_blocking=True))
                    # the next step needs this one's output, as decoding does: stage 0 waits for the last
                    x = torch.nn.functional.layer_norm(hidden.to(devices[0], non_blocking=True), (config["d_model"],))
                torch.cuda.synchronize(devices[0])
                load.iterations[name] += 2

    load.run("pipeline@" + "+".join(devices), body)
    return {"layers_per_device": dict(zip(devices, per_stage)), **config}


# --- measuring ----------------------------------------------------------------------------------------------


def gpubal_balance(seconds: float, interval_ms: int) -> Dict[str, Any]:
    environment = dict(os.environ)
    source = os.path.join(REPO, "src")
    environment["PYTHONPATH"] = source + (os.pathsep + environment["PYTHONPATH"] if environment.get("PYTHONPATH") else "")
    command = [sys.executable, "-m", "gpubal", "balance", "--seconds", str(seconds), "--interval", str(interval_ms),
               "--format", "json"]
    started = time.perf_counter()
    done = subprocess.run(command, env=environment, cwd=REPO, capture_output=True, text=True, timeout=seconds + 120)
    result: Dict[str, Any] = {"command": " ".join(command[1:]), "rc": done.returncode,
                              "wall_s": round(time.perf_counter() - started, 2), "stderr": done.stderr[-2000:]}
    try:
        result["report"] = json.loads(done.stdout)
    except ValueError:
        result["stdout"] = done.stdout[-2000:]
    return result


def figures(report: Dict[str, Any]) -> Dict[str, Any]:
    def value(item: Any) -> Any:
        return item if not isinstance(item, dict) else f"unknown ({item.get('unavailable')})"

    imbalance = report.get("imbalance", {})
    return {
        "utilization_mean_percent": [value(gpu["utilization_mean_percent"]) for gpu in report.get("gpus", [])],
        "busy_sample_share": [value(gpu["busy_sample_share"]) for gpu in report.get("gpus", [])],
        "imbalance_stddev_points": value(imbalance.get("stddev_points")),
        "max_over_mean": value(imbalance.get("max_over_mean")),
        "idle_gpus": imbalance.get("idle_gpus"),
        "concurrency": value(imbalance.get("concurrency")),
        "overlap_share": value(imbalance.get("overlap_share")),
        "diagnoses": [finding["rule_id"] for finding in report.get("diagnoses", [])],
        "samples": report.get("sample_count"),
        "sampler_cpu_ms_per_sample": report.get("sampler_cpu_ms_per_sample"),
        "sampler_cpu_share_of_one_core": report.get("sampler_cpu_share_of_one_core"),
        "sampler_cpu_ms_first_sample": report.get("sampler_cpu_ms_first_sample"),
        "nvlink_tx_bytes_per_s": [value(gpu["nvlink_tx_bytes_per_s"]) for gpu in report.get("gpus", [])],
    }


def checks(phase: str, gpu_count: int, found: Dict[str, Any]) -> List[Dict[str, Any]]:
    """What the issue expects, per phase, as (name, passed, detail)."""
    stddev = found["imbalance_stddev_points"]
    numeric = isinstance(stddev, (int, float))
    results = []

    def check(name: str, passed: bool, detail: str) -> None:
        results.append({"check": name, "passed": bool(passed), "detail": detail})

    check("gpubal measured utilization", numeric, f"stddev {stddev}")
    if not numeric:
        return results
    utils = found["utilization_mean_percent"]
    if phase == "a":
        check("GPU 0 busy", isinstance(utils[0], (int, float)) and utils[0] >= 80, f"GPU 0 mean {utils[0]}")
        if gpu_count == 2:
            check("about 50 points of imbalance", 40 <= stddev <= 55, f"{stddev} points")
        elif gpu_count > 2:
            expected = 100 * ((gpu_count - 1) ** 0.5) / gpu_count
            check(f"about {expected:.0f} points of imbalance", abs(stddev - expected) <= 10, f"{stddev} points")
        if gpu_count > 1:
            check("one-GPU-busy diagnosed", "balance-one-gpu-busy" in found["diagnoses"], str(found["diagnoses"]))
    elif phase == "b":
        check("every GPU busy", all(isinstance(u, (int, float)) and u >= 80 for u in utils), str(utils))
        check("close to 0 points", stddev <= 10, f"{stddev} points")
        check("no one-GPU-busy diagnosis", "balance-one-gpu-busy" not in found["diagnoses"], str(found["diagnoses"]))
    elif phase == "c":
        if gpu_count > 1:
            check("turn-taking diagnosed", "balance-layer-split-takes-turns" in found["diagnoses"],
                  str(found["diagnoses"]))
            concurrency = found["concurrency"]
            check("about one GPU busy at a time", isinstance(concurrency, (int, float)) and concurrency <= 1.3,
                  f"concurrency {concurrency}")
        else:
            check("the one GPU busy", isinstance(utils[0], (int, float)) and utils[0] >= 50, f"GPU 0 mean {utils[0]}")
    check("sampler under 1 % of one core", (found["sampler_cpu_share_of_one_core"] or 0) < 0.01,
          f"{found['sampler_cpu_share_of_one_core']}")
    return results


# --- main -------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="directory for balance_load.json and phase-*.json")
    parser.add_argument("--gpus", type=int, default=0, help="use only the first N GPUs (default: all)")
    parser.add_argument("--seconds", type=float, default=8.0, help="gpubal's sampling time per phase")
    parser.add_argument("--interval-ms", type=int, default=200)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before gpubal starts")
    parser.add_argument("--matrix", type=int, default=8192, help="matrix size for phases a and b")
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--d-model", type=int, default=4096)
    parser.add_argument("--phases", default="abc")
    args = parser.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("balance_load: torch sees no CUDA GPU", file=sys.stderr)
        return 2
    count = torch.cuda.device_count() if args.gpus <= 0 else min(args.gpus, torch.cuda.device_count())
    devices = [f"cuda:{i}" for i in range(count)]
    os.makedirs(args.out, exist_ok=True)
    notes = []
    if count == 1:
        notes.append("one GPU: phase b (every GPU) is phase a (GPU 0 only) again; phase c runs every layer on "
                     "GPU 0, so there is no one to take turns with and no imbalance to see")
    config = {"layers": args.layers, "d_model": args.d_model, "heads": max(1, args.d_model // 128),
              "d_ff": 4 * args.d_model, "batch": 8, "seq": 512}
    summary: Dict[str, Any] = {
        "host": platform.node(), "python": platform.python_version(), "torch": torch.__version__,
        "cuda": torch.version.cuda, "gpus": [torch.cuda.get_device_name(i) for i in range(count)],
        "gpu_count": count, "notes": notes, "phases": {},
    }
    descriptions = {
        "a": "matrix products on GPU 0 only", "b": "matrix products on every GPU",
        "c": f"transformer ({args.layers} layers, d_model {args.d_model}) split layer-wise across "
             f"{count} GPU{'s' if count != 1 else ''}, output fed back as input",
    }
    all_passed = True
    for phase in args.phases:
        load = Load()
        detail: Dict[str, Any] = {"description": descriptions[phase]}
        if phase == "a":
            matmul_load(load, torch, devices[0], args.matrix)
        elif phase == "b":
            for device in devices:
                matmul_load(load, torch, device, args.matrix)
        else:
            detail["model"] = pipeline_load(load, torch, devices, config)
        print(f"phase {phase}: {descriptions[phase]} ... ", end="", flush=True)
        load.start()
        time.sleep(args.warmup)
        measured = gpubal_balance(args.seconds, args.interval_ms)
        detail["load_iterations_per_s"] = load.stop()
        detail["load_errors"] = load.errors
        detail["gpubal_rc"] = measured["rc"]
        detail["gpubal_wall_s"] = measured["wall_s"]
        if "report" in measured:
            with open(os.path.join(args.out, f"phase-{phase}.json"), "w", encoding="utf-8") as handle:
                json.dump(measured["report"], handle, indent=1)
            detail["gpubal"] = figures(measured["report"])
            detail["checks"] = checks(phase, count, detail["gpubal"])
        else:
            detail["gpubal_failed"] = {"stderr": measured["stderr"], "stdout": measured.get("stdout", "")}
            detail["checks"] = [{"check": "gpubal ran", "passed": False, "detail": measured["stderr"][-300:]}]
        if load.errors:
            detail["checks"].append({"check": "load ran", "passed": False, "detail": "; ".join(load.errors)})
        passed = all(item["passed"] for item in detail["checks"])
        all_passed &= passed
        summary["phases"][phase] = detail
        g = detail.get("gpubal", {})
        print(f"{'ok' if passed else 'CHECK FAILED'}: util {g.get('utilization_mean_percent')} imbalance "
              f"{g.get('imbalance_stddev_points')} concurrency {g.get('concurrency')} diagnoses {g.get('diagnoses')}")
        torch.cuda.empty_cache()
    summary["all_checks_passed"] = all_passed
    with open(os.path.join(args.out, "balance_load.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=1)
        handle.write("\n")
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {os.path.join(args.out, 'balance_load.json')}")
    return 0 if all_passed else 1


if __name__ == "__main__":
    sys.exit(main())
