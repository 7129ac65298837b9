"""A call running in a thread of its own, its answer fetched later: what the collection needs of
concurrent.futures, without importing it (concurrent.futures imports logging, queue and its process pool
machinery, about 5 ms of every `gpubal doctor` start, for threads that each run one call)."""

from __future__ import annotations

import threading
from typing import Any, Callable, Generic, Iterable, List, Optional, TypeVar

T = TypeVar("T")


class Background(Generic[T]):
    """`call(*args)` started now in a thread of its own. `result()` waits for it, then returns what it
    returned or raises what it raised, in the caller's thread. Not a daemon unless asked: like a thread
    pool's worker, Python waits for it at exit."""

    def __init__(self, call: Callable[..., T], *args: Any, name: str = "gpubal-background", daemon: bool = False):
        self._value: Optional[T] = None
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, args=(call, args), name=name, daemon=daemon)
        self._thread.start()

    def _run(self, call: Callable[..., T], args: tuple) -> None:
        try:
            self._value = call(*args)
        except BaseException as error:  # noqa: BLE001 - raised again by result(), in the caller's thread
            self._error = error

    def wait(self, timeout: Optional[float] = None) -> bool:
        """True once the call has returned or raised."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def result(self, timeout: Optional[float] = None) -> T:
        if not self.wait(timeout):
            raise TimeoutError(f"{self._thread.name} did not finish within {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def all_results(calls: Iterable["Background[T]"]) -> List[T]:
    """Every call's answer, in order, once all have ended (as leaving a thread pool's `with` block waits
    for all of them): the first failure is raised only then."""
    calls = list(calls)
    for call in calls:
        call.wait()
    return [call.result() for call in calls]
