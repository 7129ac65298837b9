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


class EarlyNvmlStart:
    """`start_nvml` running in a daemon thread from the moment this is made. Whoever needs NVML waits for
    it with `outcome()`; a hung nvmlInit holds only its own thread, and the collection's deadline around
    its NVML worker (doctor/collect) still applies, since that worker is the one that waits here."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._outcome: Outcome = (None, None)
        self._taken = threading.Lock()
        threading.Thread(target=self._run, name="gpubal-nvml-start", daemon=True).start()

    def _run(self) -> None:
        try:
            self._outcome = start_nvml()
        finally:
            self._done.set()

    def outcome(self) -> Outcome:
        """The early start's outcome, to the first caller only: that adapter owns the started library and
        shuts it down. Any later caller starts NVML itself (nvmlInit counts its starts and stops)."""
        if not self._taken.acquire(blocking=False):
            return start_nvml()
        self._done.wait()
        return self._outcome
