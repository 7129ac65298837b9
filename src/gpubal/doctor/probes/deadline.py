"""An NVML adapter with a deadline on every call, for `gpubal balance`, which asks NVML for as long as it
samples and so cannot put one deadline around the whole run as the doctor does.

Calls run one at a time on a worker thread; the caller waits at most `call_deadline_s`. A call that
does not return in time cannot be stopped: its thread is abandoned (`abandoned_threads`, so that the CLI
leaves with os._exit once its report is out), and from then on every call answers the same timeout at
once, because the driver that hung one call hangs the next.

Collection puts one deadline around its whole NVML sweep and abandons its worker the same way; it uses
`abandoned_threads` and `nvml_hung` from here, so the arrow runs from collect to probes only.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, List, Optional

from ...model import Reason, Unavailable
from .nvml import Answer, NvmlAdapter

if TYPE_CHECKING:
    import queue

# A healthy call takes microseconds to 20 ms (nvmlDeviceGetPcieThroughput waits that long on the GPU).
CALL_DEADLINE_S = 5.0

# Set when an NVML call was abandoned past its deadline: its thread cannot be stopped or joined, so the
# CLI leaves with os._exit once its report is out (see gpubal.cli.main).
abandoned_threads = threading.Event()


def nvml_hung(source: str, deadline_s: float) -> Unavailable:
    """The reason every NVML fact gets once a call did not return within `deadline_s`."""
    return Unavailable(Reason.TIMEOUT, source, f"no answer within {deadline_s:g} s: a GPU or the driver may be "
                                               "hung (look for Xid errors: sudo dmesg | grep -i xid)")


class DeadlineAdapter:
    def __init__(self, inner: NvmlAdapter, call_deadline_s: float = CALL_DEADLINE_S) -> None:
        self.inner = inner
        self.call_deadline_s = call_deadline_s
        self.hung: Optional[Unavailable] = None  # set once a call did not return in time
        import queue  # here: the doctor imports this module for abandoned_threads, and needs no queue

        self._requests: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._worker: Optional[threading.Thread] = None

    def _serve(self) -> None:
        while True:
            request = self._requests.get()
            if request is None:  # stopped
                return
            call, args, box, done = request
            try:
                box.append(call(*args))
            except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
                box.append(error)
            done.set()

    def _within(self, name: str, call: Callable[..., Any], *args: Any) -> Any:
        if self.hung is not None:
            return self.hung
        if threading.current_thread() is self._worker:  # a call made inside a batch: already on the worker
            return call(*args)
        if self._worker is None:
            self._worker = threading.Thread(target=self._serve, name="gpubal-nvml-deadline", daemon=True)
            self._worker.start()
        box: List[Any] = []
        done = threading.Event()
        self._requests.put((call, args, box, done))
        if not done.wait(self.call_deadline_s):
            abandoned_threads.set()
            self.hung = nvml_hung(f"NVML ({name})", self.call_deadline_s)
            return self.hung
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def batch(self, name: str, work: Callable[[], Any]) -> Any:
        """Run several calls under one deadline, on the worker: a sample of every GPU is a dozen calls, and
        handing each to the worker and back cost about 1 ms of CPU per sample on a 2 x H200 host, half of
        what the sampler spent. Answers the timeout, like a single call, when `work` does not return in time."""
        return self._within(name, work)

    def start(self) -> Optional[Unavailable]:
        return self._within("nvmlInit", self.inner.start)

    def system(self, query: str) -> Answer:
        return self._within(query, self.inner.system, query)

    def device(self, index: int, query: str, arg: Optional[int] = None) -> Answer:
        return self._within(query, self.inner.device, index, query, arg)

    def pair(self, index_a: int, index_b: int, query: str, arg: Optional[int] = None) -> Answer:
        return self._within(query, self.inner.pair, index_a, index_b, query, arg)

    def stop(self) -> None:
        self._within("nvmlShutdown", self.inner.stop)
        self._requests.put(None)  # the worker ends once it is free (never, if a call hangs)

    def advance_sample(self) -> bool:
        return self.inner.advance_sample()

    @property
    def profile(self) -> Any:
        """A replay's profile (its recorded sample interval), seen through the wrapper."""
        return getattr(self.inner, "profile", {})
