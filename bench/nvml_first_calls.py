"""Which NVML calls are slow only the first time in a process (the driver setting something up) and which
are slow every time, on a GPU host: each call is timed twice in a row, after nvmlInit. If the first call's
cost is a one-time set-up, making that call early, beside gpubal's imports, hides it.

    python3 bench/nvml_first_calls.py

A development aid for issue 13; it asserts nothing.
"""

from __future__ import annotations

import time

import pynvml


def timed(function, *args):
    start = time.perf_counter()
    try:
        answer = function(*args)
    except pynvml.NVMLError as error:
        answer = error
    return (time.perf_counter() - start) * 1000, answer


def main() -> None:
    print(f"nvmlInit {timed(pynvml.nvmlInit)[0]:.2f} ms")
    count = pynvml.nvmlDeviceGetCount()
    for index in range(count):
        first, handle = timed(pynvml.nvmlDeviceGetHandleByIndex, index)
        second, _ = timed(pynvml.nvmlDeviceGetHandleByIndex, index)
        print(f"GPU {index} nvmlDeviceGetHandleByIndex first {first:.2f} ms, again {second:.2f} ms")
        for name, args in (("nvmlDeviceGetMemoryAffinity", (handle, 64, 0)), ("nvmlDeviceGetCpuAffinity", (handle, 64)),
                           ("nvmlDeviceGetPciInfo_v3", (handle,)), ("nvmlDeviceGetCurrPcieLinkGeneration", (handle,)),
                           ("nvmlDeviceGetEccMode", (handle,)), ("nvmlDeviceGetRemappedRows", (handle,)),
                           ("nvmlDeviceGetUtilizationRates", (handle,)), ("nvmlDeviceGetName", (handle,))):
            function = getattr(pynvml, name, None)
            if function is None:
                continue
            first, _ = timed(function, *args)
            second, _ = timed(function, *args)
            print(f"GPU {index} {name} first {first:.2f} ms, again {second:.2f} ms")
    print(f"nvmlShutdown {timed(pynvml.nvmlShutdown)[0]:.2f} ms")


if __name__ == "__main__":
    main()
