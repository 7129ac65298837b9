"""Takes the samples: every GPU through the NVML adapter's sample queries, every `interval_s`.

Cheap by design (DESIGN.md "Speed"): per GPU and sample a handful of NVML calls, one of them a single
nvmlDeviceGetFieldValues for all PCIe and NVLink counters; no thread pool, no subprocess; /proc is read
once per new process, Ollama's /api/ps once per run. nvmlDeviceGetPcieThroughput, which waits 20 ms on
the GPU per direction, is asked only where the counters are missing, and then only once a second.

The PCIe and NVLink counters are cumulative, and the report needs only their rate over the run, so they
are read once a second and on the last sample, not at every sample: on an NVSwitch host each read costs
about 1.3 ms of CPU per GPU (measured on 2 x H200), which at every 200 ms sample is 1.3 % of a core.
"""

from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional, Tuple

from ..doctor.collect.answers import as_int, as_str
from ..doctor.collect.gpus import CLOCK_EVENT_REASONS
from ..doctor.collect.ollama_host import api_url
from ..model import Fact, Known, OllamaModel, Reason, Unavailable
from ..doctor.probes.files import HostFiles
from ..doctor.probes.http import HttpGetter
from ..doctor.probes.nvml import DEVICE_QUERY_SOURCES as SOURCE, NvmlAdapter
from ..model.balance import GpuReading, ProcessInfo, Recording, Sample, SampledGpu

NVML_CLOCK_SM = 1
PCIE_FALLBACK_EVERY_S = 1.0
COUNTERS_EVERY_S = 1.0
OLLAMA_TIMEOUT_S = 1.0

ProgressCallback = Callable[[int, int, Sample], None]


def _fact(answer, source: str, convert=lambda value: value) -> Fact:
    if isinstance(answer, Unavailable):
        return answer
    try:
        return Known(convert(answer), source)
    except (KeyError, IndexError, TypeError, ValueError) as error:
        return Unavailable(Reason.ERROR, source, f"unexpected answer {answer!r}: {error}")


def _reasons(mask: int) -> List[str]:
    return [name for bit, name in sorted(CLOCK_EVENT_REASONS.items()) if mask & bit]


class Sampler:
    def __init__(self, nvml: NvmlAdapter, files: HostFiles, get: HttpGetter,
                 ollama_url: Fact[str], clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 cpu_clock: Callable[[], float] = time.process_time) -> None:
        self.nvml, self.files, self.get, self.ollama_url = nvml, files, get, ollama_url
        self.clock, self.sleep, self.cpu_clock = clock, sleep, cpu_clock
        self._pcie_fallback_due: Dict[int, float] = {}
        self._pcie_last: Dict[int, Tuple[Fact, Fact]] = {}
        self._counters_due: Dict[int, float] = {}

    def gpus(self) -> List[SampledGpu]:
        count = _fact(self.nvml.system("device_count"), "nvmlDeviceGetCount", as_int)
        if isinstance(count, Unavailable):
            return []
        found = []
        for index in range(count.value):
            memory = self.nvml.device(index, "memory_info")
            found.append(SampledGpu(
                index=index,
                uuid=_fact(self.nvml.device(index, "uuid"), SOURCE["uuid"], as_str),
                name=_fact(self.nvml.device(index, "name"), SOURCE["name"], as_str),
                memory_total_bytes=_fact(memory, SOURCE["memory_info"], lambda m: int(m["total"])),
            ))
        return found

    def reading(self, index: int, now: float, last: bool = False) -> GpuReading:
        ask = self.nvml.device
        utilization = ask(index, "utilization_rates")
        memory = ask(index, "memory_info")
        power = ask(index, "power_usage")
        if last or now >= self._counters_due.get(index, now):
            self._counters_due[index] = now + COUNTERS_EVERY_S
            counters = ask(index, "throughput_counters")
        else:
            counters = Unavailable(Reason.NOT_ASKED, SOURCE["throughput_counters"],
                                   f"read once every {COUNTERS_EVERY_S:g} s, not at every sample")
        processes = ask(index, "compute_processes")
        pcie_tx: Fact = Unavailable(Reason.NOT_SUPPORTED, SOURCE["pcie_throughput"], "counters offered instead")
        pcie_rx: Fact = pcie_tx
        if not isinstance(counters, (dict, Unavailable)):
            counters = Unavailable(Reason.ERROR, SOURCE["throughput_counters"], f"unexpected answer {counters!r:.200}")
        not_asked = isinstance(counters, Unavailable) and counters.reason is Reason.NOT_ASKED
        if (not_asked and index in self._pcie_last) or (not not_asked and (
                isinstance(counters, Unavailable) or "pcie_tx_bytes" not in counters)):
            pcie_tx, pcie_rx = self._pcie_fallback(index, now)

        def counter(name: str, scale: int = 1) -> Fact:
            if isinstance(counters, Unavailable):
                return counters
            if name not in counters:
                return Unavailable(Reason.NOT_SUPPORTED, SOURCE["throughput_counters"], f"no {name} counter")
            return Known(int(counters[name]) * scale, SOURCE["throughput_counters"])

        return GpuReading(
            utilization_percent=_fact(utilization, SOURCE["utilization_rates"], lambda u: int(u["gpu"])),
            memory_utilization_percent=_fact(utilization, SOURCE["utilization_rates"],
                                             lambda u: int(u["memory"])),
            memory_used_bytes=_fact(memory, SOURCE["memory_info"], lambda m: int(m["used"])),
            power_watts=_fact(power, SOURCE["power_usage"], lambda mw: mw / 1000.0),
            sm_clock_mhz=_fact(ask(index, "clock_info", NVML_CLOCK_SM), f"{SOURCE['clock_info']}(SM)", int),
            clock_event_reasons=_fact(ask(index, "clock_event_reasons"),
                                      SOURCE["clock_event_reasons"], _reasons),
            pcie_tx_bytes_total=counter("pcie_tx_bytes"),
            pcie_rx_bytes_total=counter("pcie_rx_bytes"),
            pcie_tx_bytes_per_s=pcie_tx,
            pcie_rx_bytes_per_s=pcie_rx,
            nvlink_tx_bytes_total=counter("nvlink_tx_kib", 1024),
            nvlink_rx_bytes_total=counter("nvlink_rx_kib", 1024),
            processes=_fact(processes, SOURCE["compute_processes"], _process_list),
        )

    def _readings(self, gpus: List[SampledGpu], now: float, last: bool) -> Tuple[GpuReading, ...]:
        """One reading of every GPU; under an adapter with a deadline, as one batch (one hand-off a sample)."""
        def read_all() -> Tuple[GpuReading, ...]:
            return tuple(self.reading(gpu.index, now, last) for gpu in gpus)

        batch = getattr(self.nvml, "batch", None)
        if batch is None:
            return read_all()
        readings = batch("sample", read_all)
        # past the deadline the adapter answers every call with the timeout at once: read again to say so
        return read_all() if isinstance(readings, Unavailable) else readings

    def _pcie_fallback(self, index: int, now: float) -> Tuple[Fact, Fact]:
        if now < self._pcie_fallback_due.get(index, 0.0):
            return self._pcie_last[index]
        self._pcie_fallback_due[index] = now + PCIE_FALLBACK_EVERY_S
        source = SOURCE["pcie_throughput"]
        values = tuple(_fact(self.nvml.device(index, "pcie_throughput", counter), source, lambda kb: kb * 1000.0)
                       for counter in (0, 1))
        self._pcie_last[index] = values  # type: ignore[assignment]
        return values  # type: ignore[return-value]

    def run(self, seconds: float, interval_s: float, source: str = "live",
            on_sample: Optional[ProgressCallback] = None) -> Recording:
        """Samples until `seconds` have passed, the replay runs out, or Ctrl-C; always returns what it has."""
        failure = self.nvml.start()
        gpus: List[SampledGpu] = []
        samples: List[Sample] = []
        processes: Dict[int, ProcessInfo] = {}
        interrupted = False
        cpu_spent = 0.0
        first_sample_cpu = 0.0
        wanted = max(1, int(round(seconds / interval_s)))
        try:
            if failure is None:
                gpus = self.gpus()
            start = self.clock()
            while failure is None and gpus and len(samples) < wanted:
                cpu_before, now = self.cpu_clock(), self.clock()
                last = len(samples) + 1 == wanted
                readings = self._readings(gpus, now, last)
                sample = Sample(round(now - start, 6), readings)
                for reading in readings:
                    for pid, _memory in reading.processes.value if isinstance(reading.processes, Known) else []:
                        if pid not in processes:
                            processes[pid] = self._process(pid)
                spent = self.cpu_clock() - cpu_before
                cpu_spent += spent
                if not samples:
                    first_sample_cpu = spent
                samples.append(sample)
                if on_sample is not None:
                    on_sample(len(samples), wanted, sample)
                if not self.nvml.advance_sample() or getattr(self.nvml, "hung", None) is not None:
                    break  # a replay has no more samples, or NVML stopped answering (DeadlineAdapter)
                if len(samples) < wanted:
                    self.sleep(max(0.0, start + len(samples) * interval_s - self.clock()))
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if failure is None:
                self.nvml.stop()
        models = self._ollama_models()
        return Recording(gpus=tuple(gpus), samples=tuple(samples), interval_s=interval_s,
                         requested_seconds=seconds, interrupted=interrupted, sampler_cpu_seconds=cpu_spent,
                         sampler_first_sample_cpu_seconds=first_sample_cpu,
                         processes=processes, ollama_url=self.ollama_url, ollama_models=models, source=source,
                         nvml_failure=failure)

    def _process(self, pid: int) -> ProcessInfo:
        comm = self.files.read_line(f"/proc/{pid}/comm")
        name: Fact[str] = Known(comm, f"/proc/{pid}/comm") if isinstance(comm, str) else comm
        environ = self.files.read_text(f"/proc/{pid}/environ")
        visible: Fact[str]
        if isinstance(environ, Unavailable):
            visible = environ
        else:
            found = [entry.split("=", 1)[1] for entry in environ.split("\0")
                     if entry.startswith("CUDA_VISIBLE_DEVICES=")]
            visible = Known(found[0], f"/proc/{pid}/environ") if found else Unavailable(
                Reason.NOT_FOUND, f"/proc/{pid}/environ", "CUDA_VISIBLE_DEVICES is not set: every GPU is visible")
        return ProcessInfo(pid, name, visible)

    def _ollama_models(self) -> Fact[List[OllamaModel]]:
        if isinstance(self.ollama_url, Unavailable):
            return self.ollama_url
        url = api_url(self.ollama_url.value, "/api/ps")
        answer = self.get(url, OLLAMA_TIMEOUT_S)
        if isinstance(answer, Unavailable):
            return answer
        try:
            return Known([OllamaModel(str(m["name"]), int(m.get("size", 0)), int(m.get("size_vram", 0)))
                          for m in answer.get("models") or []], url)
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            return Unavailable(Reason.ERROR, url, f"unexpected answer: {error}")


def _process_list(answer) -> List[Tuple[int, Fact[int]]]:
    found = []
    for entry in answer:
        memory: Fact[int] = Known(int(entry["used_bytes"]), SOURCE["compute_processes"]) \
            if "used_bytes" in entry else Unavailable(Reason.NOT_SUPPORTED, SOURCE["compute_processes"],
                                                      "NVML gives no per-process memory here")
        found.append((int(entry["pid"]), memory))
    return found


def ollama_url_from_environment(environment) -> Fact[str]:
    from ..doctor.collect.ollama_host import DEFAULT_URL, client_url

    value = environment.get("OLLAMA_HOST", "")
    if value.strip().strip("\"'").strip():
        return client_url(value, "OLLAMA_HOST")
    return Known(DEFAULT_URL, "Ollama's default (OLLAMA_HOST unset)")


class VirtualClock:
    """Time for a replay: sleeping advances it at once, so a recorded series replays instantly and its
    rates use the recorded interval."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def sample(nvml: NvmlAdapter, files: HostFiles, get: HttpGetter, ollama_url: Fact[str], seconds: float,
           interval_s: float, source: str, replay: bool = False,
           on_sample: Optional[ProgressCallback] = None) -> Recording:
    if replay:
        clock = VirtualClock()
        recorded = getattr(nvml, "profile", {}).get("sample_interval_s")
        if isinstance(recorded, (int, float)) and recorded > 0:
            interval_s = float(recorded)
        sampler = Sampler(nvml, files, get, ollama_url, clock=clock, sleep=clock.sleep)
    else:
        sampler = Sampler(nvml, files, get, ollama_url)
    return sampler.run(seconds, interval_s, source, on_sample)
