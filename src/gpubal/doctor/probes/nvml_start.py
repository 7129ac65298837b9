"""nvmlInit, begun before anything else. On a 2 x H200 NVSwitch host nvmlInit waits about 30 ms in the
driver with the GIL released; begun in a thread of its own the moment `gpubal doctor` starts, that wait
overlaps the imports and the file reading that come before the first NVML query, instead of following them.

This module imports nothing of gpubal (so that it can run before the model and the collection are
imported); `PynvmlAdapter.start` turns its outcome into facts, exactly as if it had called nvmlInit itself.
"""

from __future__ import annotations

import threading
from typing import Any, Optional, Tuple

# (the pynvml module, or None where it cannot be imported; the exception nvmlInit or the import raised)
Outcome = Tuple[Any, Optional[BaseException]]

# NVML calls whose first answer in a process waits for a set-up in the driver, and whose later answers do
# not: on an H200 the handle took 6.7 ms the first time and 0.01 ms again, the memory affinity 11.5 ms and
# 0.03 ms, the PCIe generation, ECC mode, remapped rows and utilization about 2 ms each, the clock event
# reasons 1.5 ms, Display Active 1 ms, retired pages and the VBIOS about 0.5 ms, each then microseconds
# (bench/nvml_first_calls.py; the doctor asks every one of them). Asked once per GPU beside the imports, that set-up is done when
# the collection asks for real; what the warm-up calls answer is dropped, so no fact comes from them.
# NVLink queries are left out: answered side by side they have been seen wrong (bench/results/nvml-concurrency*).
_WARM_UP = (("nvmlDeviceGetMemoryAffinity", (16, 0)), ("nvmlDeviceGetCurrPcieLinkGeneration", ()),
            ("nvmlDeviceGetEccMode", ()), ("nvmlDeviceGetRemappedRows", ()), ("nvmlDeviceGetUtilizationRates", ()),
            ("nvmlDeviceGetCurrentClocksEventReasons", ()), ("nvmlDeviceGetDisplayActive", ()),
            ("nvmlDeviceGetRetiredPagesPendingStatus", ()), ("nvmlDeviceGetVbiosVersion", ()))
WARM_UP_WAIT_S = 5.0  # the longest nvmlShutdown waits for warm-up calls still in the driver


def start_nvml() -> Outcome:
    try:
        import pynvml  # nvidia-ml-py; imported here so that `gpubal --help` never pays for it
    except BaseException as error:  # noqa: BLE001 - read in the caller's thread: ImportError is a fact, others raise
        return None, error
    try:
        pynvml.nvmlInit()
    except BaseException as error:  # noqa: BLE001 - PynvmlAdapter.start reads it, in its caller's thread
        return pynvml, error
    return pynvml, None


def warm_up(pynvml: Any, index: int) -> None:
    """The calls of _WARM_UP on GPU `index`, their answers and errors dropped."""
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        for name, arguments in _WARM_UP:
            function = getattr(pynvml, name, None)
            if function is not None:
                try:
                    function(handle, *arguments)
                except Exception:  # noqa: BLE001 - not supported here, or any other answer: the real call reports it
                    pass
    except Exception:  # noqa: BLE001 - no handle: the collection finds out why
        pass


class EarlyNvmlStart:
    """`start_nvml` running in a daemon thread from the moment this is made. Whoever needs NVML waits for
    it with `outcome()`; a hung nvmlInit holds only its own thread, and the collection's deadline around
    its NVML worker (doctor/collect) still applies, since that worker is the one that waits here.

    Once nvmlInit has answered, a daemon thread for each GPU makes the `_WARM_UP` calls, whose first
    answers wait on the driver; `outcome()` does not wait for them, and `warmed_up()` says when they are
    all back (the adapter waits for that before nvmlShutdown)."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._outcome: Outcome = (None, None)
        self._taken = threading.Lock()
        self._warming: list = []
        threading.Thread(target=self._run, name="gpubal-nvml-start", daemon=True).start()

    def _run(self) -> None:
        try:
            self._outcome = start_nvml()
            pynvml, error = self._outcome
            if pynvml is not None and error is None:
                try:
                    count = pynvml.nvmlDeviceGetCount()
                except Exception:  # noqa: BLE001 - the collection asks again and reports the answer
                    count = 0
                for index in range(count if isinstance(count, int) else 0):
                    thread = threading.Thread(target=warm_up, args=(pynvml, index), name=f"gpubal-nvml-warm-{index}",
                                              daemon=True)
                    thread.start()
                    self._warming.append(thread)
        finally:
            self._done.set()

    def wait_warmed_up(self, timeout_s: float = WARM_UP_WAIT_S) -> None:
        """Until every warm-up call is back from the driver, or `timeout_s` has passed."""
        import time

        deadline = time.monotonic() + timeout_s  # one bound for all: nvmlInit's answer and every warm-up
        self._done.wait(timeout_s)
        for thread in list(self._warming):
            thread.join(max(0.0, deadline - time.monotonic()))

    def outcome(self) -> Outcome:
        """The early start's outcome, to the first caller only: that adapter owns the started library and
        shuts it down. Any later caller starts NVML itself (nvmlInit counts its starts and stops)."""
        if not self._taken.acquire(blocking=False):
            return start_nvml()
        self._done.wait()
        return self._outcome
