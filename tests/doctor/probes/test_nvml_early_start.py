"""nvmlInit begun early (gpubal.entry starts it before importing the collection) gives the collection the
same facts as an adapter that starts NVML itself, and a hung nvmlInit still ends within the deadline."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import nvml_fault_injection as faults
from gpubal.doctor.collect import collect_snapshot
from gpubal.doctor.probes.files import HostFiles
from gpubal.doctor.probes.nvml import PynvmlAdapter, ReplayAdapter
from gpubal.doctor.probes.nvml_start import EarlyNvmlStart
from gpubal.model import Reason, Unavailable
from gpubal.snapshot_file import snapshot_to_json
from helpers.paths import FIXTURES


def _facts(snapshot) -> dict:
    facts = json.loads(snapshot_to_json(dataclasses.replace(snapshot, collected_at="")))
    return facts


def _collect(adapter, profile="h200x2"):
    return collect_snapshot(adapter, HostFiles(faults.root_of(profile)), nvml_deadline_s=5.0)


def test_an_early_start_gives_the_same_facts_as_a_start_by_the_adapter():
    with faults.installed(faults.FakePynvml(faults.load_profile("h200x2"))) as fake:
        by_itself = _collect(PynvmlAdapter())
        early = _collect(PynvmlAdapter(EarlyNvmlStart()))
        assert fake.calls["nvmlInit"] == 2 and fake.calls["nvmlShutdown"] == 2
    assert _facts(early) == _facts(by_itself)
    assert len(early.gpus.value) == 2


def test_an_early_start_that_failed_is_the_same_reason():
    fault = faults.Fault("nvmlInit", None, "error:9")  # driver not loaded
    with faults.installed(faults.FakePynvml(faults.load_profile("h200x1"), fault)):
        by_itself = PynvmlAdapter().start()
        early = PynvmlAdapter(EarlyNvmlStart()).start()
    assert isinstance(early, Unavailable) and early.reason is Reason.NOT_FOUND
    assert early == by_itself


def test_an_exception_in_an_early_start_is_a_reason():
    fault = faults.Fault("nvmlInit", None, "raise:RuntimeError")
    with faults.installed(faults.FakePynvml(faults.load_profile("h200x1"), fault)):
        failure = PynvmlAdapter(EarlyNvmlStart()).start()
    assert isinstance(failure, Unavailable) and failure.reason is Reason.ERROR and failure.source == "nvmlInit"


def test_the_early_start_goes_to_one_adapter_the_next_starts_nvml_itself():
    with faults.installed(faults.FakePynvml(faults.load_profile("h200x1"))) as fake:
        early = EarlyNvmlStart()
        first, second = PynvmlAdapter(early), PynvmlAdapter(early)
        assert first.start() is None and second.start() is None
        assert fake.calls["nvmlInit"] == 2  # each adapter stops what it started


def test_a_hung_early_nvml_init_ends_within_the_deadline():
    fault = faults.Fault("nvmlInit", None, "hang")
    with faults.installed(faults.FakePynvml(faults.load_profile("h200x1"), fault)):
        started = time.monotonic()
        snapshot = collect_snapshot(PynvmlAdapter(EarlyNvmlStart()), HostFiles(faults.root_of("h200x1")),
                                    nvml_deadline_s=0.3)
        assert time.monotonic() - started < 5
    assert snapshot.driver.nvml_status.reason is Reason.TIMEOUT
    assert isinstance(snapshot.gpus, Unavailable) and snapshot.gpus.reason is Reason.TIMEOUT


class _StackWaitsForNvml(HostFiles):
    """Files under a root whose Fabric Manager lookup (part of the stack) first waits a little for NVML
    to have been started: it has, when the NVML worker starts before the stack collection."""

    def __init__(self, root: str, nvml_started: threading.Event) -> None:
        super().__init__(root)
        self.nvml_started = nvml_started
        self.nvml_started_before_stack = None

    def read_text(self, path, limit_bytes=1 << 20):
        if path == "/var/lib/dpkg/status" and self.nvml_started_before_stack is None:
            self.nvml_started_before_stack = self.nvml_started.wait(5)
        return super().read_text(path, limit_bytes)


class _NotedStart(ReplayAdapter):
    def __init__(self, profile, name, started: threading.Event) -> None:
        super().__init__(profile, name)
        self.started = started

    def start(self):
        self.started.set()
        return super().start()


def test_the_nvml_worker_starts_before_the_stack_is_collected():
    """NVML's waits (nvmlInit, NUMA affinity, PCI info) overlap the stack collection's file reading."""
    started = threading.Event()
    files = _StackWaitsForNvml(str(FIXTURES / "roots" / "h200x1"), started)
    profile = json.loads((FIXTURES / "nvml" / "h200x1.json").read_text())
    collect_snapshot(_NotedStart(profile, "h200x1", started), files)
    assert files.nvml_started_before_stack is True


def test_the_warm_up_asks_each_gpu_once_and_nvml_stops_only_after_its_answers():
    """The early start makes the calls whose first answer waits on the driver (nvml_start._WARM_UP) once per
    GPU; their answers give no fact, and nvmlShutdown waits until the slowest of them is back."""
    with faults.installed(faults.FakePynvml(faults.load_profile("h200x2"))) as fake:
        by_itself = _collect(PynvmlAdapter())
        fake.calls.clear()
        returned, asked, real = [], [], fake.nvmlDeviceGetMemoryAffinity
        shutdown = fake.nvmlShutdown

        def slow_affinity(*args):
            asked.append(threading.current_thread().name)
            answer = real(*args)
            if threading.current_thread().name.startswith("gpubal-nvml-warm"):
                time.sleep(0.3)  # the warm-up's calls are slow; the collection's, made meanwhile, are not
            returned.append(time.monotonic())
            return answer

        def timed_shutdown():
            returned.append(("shutdown", time.monotonic()))
            return shutdown()

        fake.nvmlDeviceGetMemoryAffinity, fake.nvmlShutdown = slow_affinity, timed_shutdown
        early = _collect(PynvmlAdapter(EarlyNvmlStart()))
    assert _facts(early) == _facts(by_itself)
    assert fake.calls["nvmlDeviceGetHandleByIndex"] >= 4  # 2 GPUs: the warm-up's handles and the collection's
    affinity_returns = [moment for moment in returned if not isinstance(moment, tuple)]
    assert len(affinity_returns) == 4  # once per GPU by the warm-up, once per GPU by the collection
    assert sum(name.startswith("gpubal-nvml-warm") for name in asked) == 2
    (_, stopped), = [moment for moment in returned if isinstance(moment, tuple)]
    assert stopped > max(affinity_returns)
