"""Which NVML calls are slow only the first time in a process (the driver setting something up) and which
are slow every time, on a GPU host: every device query gpubal's adapter knows is asked twice in a row on
each GPU, after nvmlInit, and both times are printed, slowest first. A first call's cost that vanishes when
asked again is a set-up that the early start can do beside the imports (doctor/probes/nvml_start.py).

    python3 bench/nvml_first_calls.py

A development aid for issue 13; it asserts nothing.
"""

from __future__ import annotations

import time

from gpubal.doctor.probes.nvml import _DEVICE_QUERIES, PynvmlAdapter

ARGUMENT = {"nvlink_state": 0, "nvlink_version": 0, "nvlink_remote_pci": 0, "nvlink_remote_device_type": 0,
            "clock_info": 1, "pcie_throughput": 0}


def main() -> None:
    adapter = PynvmlAdapter()
    start = time.perf_counter()
    failure = adapter.start()
    print(f"nvmlInit {(time.perf_counter() - start) * 1000:.2f} ms{'' if failure is None else f': {failure}'}")
    count = adapter.system("device_count")
    rows = []
    for index in range(count if isinstance(count, int) else 0):
        for query in _DEVICE_QUERIES:
            times = []
            for _ in range(2):
                start = time.perf_counter()
                adapter.device(index, query, ARGUMENT.get(query))
                times.append((time.perf_counter() - start) * 1000)
            rows.append((times[0], times[1], index, query))
    for first, again, index, query in sorted(rows, reverse=True):
        print(f"GPU {index} {query:<28} first {first:7.2f} ms, again {again:7.2f} ms")
    start = time.perf_counter()
    adapter.stop()
    print(f"nvmlShutdown {(time.perf_counter() - start) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
