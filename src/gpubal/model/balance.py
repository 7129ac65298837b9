"""What the sampler records: one reading of every GPU per sample, plus who holds which GPU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

from . import Fact, OllamaModel


@dataclass(frozen=True)
class GpuReading:
    """One GPU at one instant. Counters are cumulative; the analysis turns their differences into rates."""

    utilization_percent: Fact[int]  # kernels running, share of NVML's last sample period
    memory_utilization_percent: Fact[int]  # memory controller busy
    memory_used_bytes: Fact[int]
    power_watts: Fact[float]
    sm_clock_mhz: Fact[int]
    clock_event_reasons: Fact[List[str]]
    pcie_tx_bytes_total: Fact[int]  # cumulative counter; or a rate below when only that is offered
    pcie_rx_bytes_total: Fact[int]
    pcie_tx_bytes_per_s: Fact[float]  # nvmlDeviceGetPcieThroughput, when the counters are missing
    pcie_rx_bytes_per_s: Fact[float]
    nvlink_tx_bytes_total: Fact[int]
    nvlink_rx_bytes_total: Fact[int]
    processes: Fact[List[Tuple[int, Fact[int]]]]  # (pid, memory used) of compute processes


@dataclass(frozen=True)
class Sample:
    time_s: float  # since sampling began
    gpus: Tuple[GpuReading, ...]


@dataclass(frozen=True)
class SampledGpu:
    index: int
    uuid: Fact[str]
    name: Fact[str]
    memory_total_bytes: Fact[int]


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    name: Fact[str]  # /proc/<pid>/comm
    cuda_visible_devices: Fact[str]  # from /proc/<pid>/environ: which GPUs the process was allowed


@dataclass(frozen=True)
class Recording:
    gpus: Tuple[SampledGpu, ...]
    samples: Tuple[Sample, ...]
    interval_s: float
    requested_seconds: float
    interrupted: bool  # Ctrl-C ended sampling early
    sampler_cpu_seconds: float  # CPU time gpubal spent taking the samples, the first one included
    processes: Dict[int, ProcessInfo]
    ollama_url: Fact[str]
    ollama_models: Fact[List[OllamaModel]]
    source: str  # "live" or "nvml-profile:<file>"
    nvml_failure: Any = None  # an Unavailable when NVML did not start
    # the first sample pays one-off costs (NVML's first answers, /proc of each process found); kept apart
    sampler_first_sample_cpu_seconds: float = 0.0
