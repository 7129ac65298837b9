"""NVML adapters that misbehave the way real NVML was measured to, for tests without a GPU.

`OverlapFaultAdapter` reproduces the fault measured on the real 2 x H200 NVSwitch host
(bench/results/nvml-concurrency-h200x2.json): NVLink state asked while another NVLink query of the same GPU
(link state, or the NVLink throughput field values) is in flight answers NOT_SUPPORTED, although the link is
up. Every NVLink query holds the GPU for `hold_s`, so that overlapping calls really overlap in a test.

`ScriptedLinkStates` answers NVLink state from a script of sweeps: the n-th time a link is asked, it gets the
n-th sweep's answer (the last sweep repeats). A sweep is a profile's devices list, so the recorded bad run
can be the first sweep and the good profile the rest.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from typing import Any, Dict, List, Optional

from gpubal.model import Reason, Unavailable
from gpubal.doctor.probes.nvml import ReplayAdapter

NVLINK_FAMILY = ("nvlink_state", "throughput_counters")
NOT_SUPPORTED = Unavailable(Reason.NOT_SUPPORTED, "nvmlDeviceGetNvLinkState", "Not Supported (NVML_ERROR_NOT_SUPPORTED)")


class _Delegating:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def start(self):
        return self.inner.start()

    def stop(self) -> None:
        self.inner.stop()

    def system(self, query: str):
        return self.inner.system(query)

    def pair(self, index_a: int, index_b: int, query: str, arg: Optional[int] = None):
        return self.inner.pair(index_a, index_b, query, arg)

    def advance_sample(self) -> bool:
        return self.inner.advance_sample()


class OverlapFaultAdapter(_Delegating):
    def __init__(self, inner: Any, hold_s: float = 0.002) -> None:
        super().__init__(inner)
        self.hold_s = hold_s
        self._lock = threading.Lock()
        self._active: Dict[int, set] = defaultdict(set)
        self._disturbed: set = set()
        self._ids = itertools.count()
        self.wrong_answers = 0

    def device(self, index: int, query: str, arg: Optional[int] = None):
        if query not in NVLINK_FAMILY:
            return self.inner.device(index, query, arg)
        call = next(self._ids)
        with self._lock:
            if self._active[index]:
                self._disturbed.update(self._active[index] | {call})
            self._active[index].add(call)
        time.sleep(self.hold_s)
        answer = self.inner.device(index, query, arg)
        with self._lock:
            self._active[index].discard(call)
            disturbed = call in self._disturbed
            self._disturbed.discard(call)
            if disturbed and query == "nvlink_state" and answer == 1:
                self.wrong_answers += 1
                return NOT_SUPPORTED
        return answer


class ScriptedLinkStates(_Delegating):
    def __init__(self, inner: ReplayAdapter, sweeps: List[List[Dict[str, Any]]]) -> None:
        super().__init__(inner)
        self.sweeps = sweeps
        self._asked: Dict[tuple, int] = defaultdict(int)
        self._lock = threading.Lock()

    def device(self, index: int, query: str, arg: Optional[int] = None):
        if query != "nvlink_state":
            return self.inner.device(index, query, arg)
        with self._lock:
            turn = self._asked[(index, arg)]
            self._asked[(index, arg)] += 1
        sweep = self.sweeps[min(turn, len(self.sweeps) - 1)]
        return ReplayAdapter({"format": "gpubal-nvml-profile", "version": 1, "devices": sweep},
                             "script").device(index, query, arg)
