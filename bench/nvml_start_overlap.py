"""How much of nvmlInit's wait the early start (gpubal.entry, doctor/probes/nvml_start.py) hides, on a GPU host.

Each run is a fresh interpreter that does what `gpubal doctor` does first: begin nvmlInit in its thread,
then import the model and the collection (Python work, holding the GIL), then wait for nvmlInit. It
prints, as medians over the runs: nvmlInit on its own (a separate fresh interpreter, no other work), the
imports, and how long the collection still had to wait for nvmlInit after them (0 ms: fully hidden).

    python3 bench/nvml_start_overlap.py --runs 15

A development aid for issue 13; it asserts nothing. Compile the bytecode first (see bench_doctor.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

ALONE = r'''
import json, time
start = time.perf_counter()
import pynvml
imported = time.perf_counter()
pynvml.nvmlInit()
done = time.perf_counter()
pynvml.nvmlShutdown()
print(json.dumps({"import pynvml": (imported - start) * 1000, "nvmlInit": (done - imported) * 1000}))
'''

EARLY = r'''
import json, time
start = time.perf_counter()
from gpubal.doctor.probes.nvml_start import EarlyNvmlStart
early = EarlyNvmlStart()
import gpubal.model, gpubal.doctor.collect, gpubal.doctor.live
imported = time.perf_counter()
pynvml, error = early.outcome()
ready = time.perf_counter()
assert error is None, error
pynvml.nvmlShutdown()
print(json.dumps({"imports beside nvmlInit": (imported - start) * 1000, "wait left after them": (ready - imported) * 1000}))
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    results = {}
    for _ in range(args.runs):
        for code in (ALONE, EARLY):
            for name, value in json.loads(subprocess.check_output([sys.executable, "-c", code], text=True)).items():
                results.setdefault(name, []).append(value)
    for name, values in results.items():
        print(f"{name:<28} {statistics.median(values):7.1f} ms")


if __name__ == "__main__":
    main()
