"""Probe answers become typed facts here. Collectors never judge: that is the rules' job."""

from __future__ import annotations

import dataclasses
import datetime
import threading
import time
from typing import List, Mapping, Optional, Sequence

from ... import __version__
from ...common.background import Background, all_results
from ...model import SCHEMA_VERSION, Driver, Gpu, Known, Reason, Snapshot, Unavailable
from ..probes.files import HostFiles
from ..probes.commands import CommandRunner
from ..probes.deadline import abandoned_threads, nvml_hung
from ..probes.http import HttpGetter
from ..probes.nvml import NvmlAdapter
from .driver import collect_driver
from .gpus import collect_gpu
from .nvlink_check import verify_nvlinks
from .host import collect_host
from .kernel_log import collect_xid_events
from .ollama import collect_ollama
from .pci import collect_pci
from .processes import collect_processes, gpu_holders, process_names
from .stack import collect_stack
from .topology import collect_pairs


def _nothing_runs(argv, timeout_s):
    return Unavailable(Reason.NOT_IN_INPUT, " ".join(argv), "not run: this collection replays a recording")


def _nothing_answers(url, timeout_s):
    return Unavailable(Reason.NOT_IN_INPUT, url, "not asked: this collection replays a recording")


# A healthy 8-GPU sweep takes well under a second; a GPU or driver that stopped answering can block an
# NVML call for minutes. Past this, the NVML facts are reported as timed out and the rest still reported.
NVML_DEADLINE_S = 20.0


def collect_snapshot(nvml: NvmlAdapter, files: HostFiles, origin: str = "live",
                     environment: Mapping[str, str] = {}, site_dirs: Sequence[str] = (),
                     run: CommandRunner = _nothing_runs, get: HttpGetter = _nothing_answers,
                     ollama_log: Optional[str] = None, lspci: Optional[str] = None,
                     nvml_deadline_s: float = NVML_DEADLINE_S) -> Snapshot:
    """Every fact gpubal knows how to read. `environment` and `site_dirs` are the process environment and
    Python package directories to look at, `run` and `get` run programs and HTTP requests: the live CLI
    passes the real ones; tests pass recorded ones (by default nothing runs and no server answers)."""
    host = collect_host(files)
    processes = process_names(files)
    # NVML first: its waits in the driver (nvmlInit, NUMA affinity, PCI info) then overlap the Python work
    # below; programs and HTTP wait too, side by side
    nvml_part = _NvmlPart(nvml_deadline_s, nvml, files, host, processes)
    waiting: List[Background] = []
    try:
        ollama = Background(collect_ollama, files, environment, processes, run, get, ollama_log, name="gpubal-ollama")
        waiting.append(ollama)
        xid_events = Background(collect_xid_events, files, run, name="gpubal-xid")
        waiting.append(xid_events)
        stack = collect_stack(files, environment, site_dirs, processes, host.container)
        snapshot = nvml_part.snapshot(origin, stack)
        pci = collect_pci(files, snapshot.gpus, snapshot.pairs, run, lspci)  # `lspci`: lspci -vvv text given
        return dataclasses.replace(snapshot, ollama=ollama.result(), pci=pci, xid_events=xid_events.result())
    finally:
        for call in waiting:  # as a thread pool's `with` block: none is left running, even on an error
            call.wait()


class _NvmlPart:
    """The NVML part in a daemon thread, started at once. Its parts (the driver, each GPU, the pairs) are
    kept as they arrive: past the deadline (counted from the start) the worker is abandoned, what it
    finished is reported, and what it did not (a hung GPU, the pairs) times out. A hung nvmlShutdown
    loses nothing: the parts are all in by then."""

    def __init__(self, deadline_s: float, nvml, files, host, processes) -> None:
        self.deadline_s, self.files, self.host, self.processes = deadline_s, files, host, processes
        self.parts = parts = _Parts()
        self.started = time.monotonic()

        def work() -> None:
            try:
                _collect_nvml_part(nvml, files, host, processes, parts)
            except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
                parts.error = error
            finally:
                parts.finished.set()
                parts.stopped.set()

        threading.Thread(target=work, name="gpubal-nvml", daemon=True).start()

    def snapshot(self, origin, stack) -> Snapshot:
        deadline_s, files, host, processes, parts = self.deadline_s, self.files, self.host, self.processes, self.parts
        parts.finished.wait(max(0.0, self.started + deadline_s - time.monotonic()))
        if parts.error is not None:
            raise parts.error
        if parts.finished.is_set():
            if not parts.stopped.wait(min(1.0, deadline_s)):
                abandoned_threads.set()  # nvmlShutdown hangs; every fact is in already
            gpu_processes = collect_processes(files, processes, parts.holders, parts.holders_failure, parts.gpus,
                                              host.container)
            return _snapshot(origin, host, parts.driver, parts.gpus, parts.pairs, stack, gpu_processes)
        abandoned_threads.set()
        hung = nvml_hung("NVML", deadline_s)
        with parts.lock:
            driver, gpus_by_index, count = parts.driver, dict(parts.gpu_by_index), parts.gpu_count
        if driver is None:
            # Nothing is read again here: /proc/driver/nvidia/version or /proc/modules can block as NVML did.
            driver = Driver(**{field.name: hung for field in dataclasses.fields(Driver)})
        driver = dataclasses.replace(driver, nvml_status=hung)
        gpu_processes = collect_processes(files, processes, {}, hung, hung, host.container)
        if count is None:
            return _snapshot(origin, host, driver, hung, hung, stack, gpu_processes)
        unchecked = Unavailable(Reason.TIMEOUT, "NVML", "NVLink answers not cross-checked with the other GPUs "
                                                       f"(collect/nvlink_check.py) before the deadline: {hung.detail}")
        gpus = [_unchecked_nvlinks(gpus_by_index[index], unchecked) if index in gpus_by_index
                else _hung_gpu(index, hung) for index in range(count)]
        return _snapshot(origin, host, driver, Known(gpus, "nvmlDeviceGetHandleByIndex"), hung, stack, gpu_processes)


class _Parts:
    """What the NVML worker has finished, shared with the thread that waits for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.finished = threading.Event()  # every part is in (or the worker failed)
        self.stopped = threading.Event()  # and nvmlShutdown returned
        self.error: Optional[BaseException] = None
        self.driver = None
        self.gpu_count: Optional[int] = None
        self.gpu_by_index: dict = {}
        self.gpus = None
        self.pairs = None
        self.holders: dict = {}
        self.holders_failure = None


def _unchecked_nvlinks(gpu: Gpu, unchecked: Unavailable) -> Gpu:
    """A GPU finished before the deadline, whose NVLink answers were not yet checked against the others'."""
    return dataclasses.replace(gpu, nvlinks=unchecked) if isinstance(gpu.nvlinks, Known) else gpu


def _hung_gpu(index: int, hung: Unavailable) -> Gpu:
    facts = {field.name: hung for field in dataclasses.fields(Gpu) if field.name != "index"}
    return Gpu(index=index, **facts)


def _collect_nvml_part(nvml, files, host, processes, parts: _Parts) -> None:
    nvml_failure = nvml.start()
    try:
        driver = collect_driver(nvml, nvml_failure, files, host.container, processes)
        with parts.lock:
            parts.driver = driver
        if nvml_failure is not None:
            gpus = pairs = nvml_failure
        elif isinstance(driver.device_count, Unavailable):
            gpus = pairs = driver.device_count
        else:
            with parts.lock:
                parts.gpu_count = driver.device_count.value
            gpu_list = verify_nvlinks(nvml, _collect_gpus(nvml, files, driver.device_count.value, host, parts))
            gpus = Known(gpu_list, "nvmlDeviceGetHandleByIndex")
            pairs = Known(collect_pairs(nvml, gpu_list), "nvmlDeviceGetTopologyCommonAncestor, nvmlDeviceGetP2PStatus")
        if isinstance(gpus, Known):
            holders, holders_failure = gpu_holders(nvml, [gpu.index for gpu in gpus.value])
        else:
            holders, holders_failure = {}, gpus
        with parts.lock:
            parts.gpus, parts.pairs, parts.holders, parts.holders_failure = gpus, pairs, holders, holders_failure
        parts.finished.set()
    finally:
        if nvml_failure is None:
            nvml.stop()


def _snapshot(origin, host, driver, gpus, pairs, stack, processes) -> Snapshot:
    return Snapshot(
        schema_version=SCHEMA_VERSION,
        gpubal_version=__version__,
        collected_at=datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        origin=origin,
        host=host,
        driver=driver,
        gpus=gpus,  # type: ignore[arg-type]
        pairs=pairs,  # type: ignore[arg-type]
        stack=stack,
        ollama=None,  # type: ignore[arg-type]  # filled in by collect_snapshot
        processes=processes,
    )


def _collect_gpus(nvml: NvmlAdapter, files: HostFiles, count: int, host, parts: Optional[_Parts] = None) -> List[Gpu]:
    # GPUs side by side, the questions to each one at a time: on a real 2 x H200 NVSwitch host, questions
    # to different GPUs never disturbed each other, while NVLink questions overlapping on one GPU got wrong
    # answers (see collect/gpus._GpuReader and bench/results/nvml-concurrency-h200x2.json).
    def one(index: int) -> Gpu:
        gpu = collect_gpu(nvml, files, index, host.numa_nodes)
        if parts is not None:  # kept as it arrives: a GPU that hangs later loses only its own facts
            with parts.lock:
                parts.gpu_by_index[index] = gpu
        return gpu

    # at most 16 threads, each taking the next GPU as it is free: a hung GPU holds up only its own thread
    indexes = iter(range(count))
    taking = threading.Lock()

    def worker() -> List["_Answered"]:
        done = []
        while True:
            with taking:
                index = next(indexes, None)
            if index is None:
                return done
            done.append(_Answered(index, one))

    # daemons, as the NVML worker that waits for them: a GPU hung past the deadline never holds up the exit
    workers = [Background(worker, name=f"gpubal-gpus-{number}", daemon=True) for number in range(min(count, 16))]
    answered = sorted((answer for answers in all_results(workers) for answer in answers), key=lambda a: a.index)
    return [answer.result() for answer in answered]


class _Answered:
    """One GPU's collection, or what it raised (raised again in GPU order, as a thread pool's map does)."""

    def __init__(self, index: int, collect) -> None:
        self.index, self.value, self.error = index, None, None
        try:
            self.value = collect(index)
        except Exception as error:  # noqa: BLE001 - raised again by result(), after every GPU has answered
            self.error = error

    def result(self) -> Gpu:
        if self.error is not None:
            raise self.error
        return self.value
