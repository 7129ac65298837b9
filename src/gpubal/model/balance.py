"""What the sampler records (one reading of every GPU per sample, plus who holds which GPU), and the
observation the analysis makes of it (BalanceReport): the input of the balance rules and of the renderers."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from . import Fact, Finding, OllamaModel, Unavailable, record


@record
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


@record
class Sample:
    time_s: float  # since sampling began
    gpus: Tuple[GpuReading, ...]


@record
class SampledGpu:
    index: int
    uuid: Fact[str]
    name: Fact[str]
    memory_total_bytes: Fact[int]


@record
class ProcessInfo:
    pid: int
    name: Fact[str]  # /proc/<pid>/comm
    cuda_visible_devices: Fact[str]  # from /proc/<pid>/environ: which GPUs the process was allowed


@record
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


# --- the observation: figures over the samples ----------------------------------------------------------


@record
class GpuStats:
    index: int
    uuid: Fact[str]
    name: Fact[str]
    memory_total_bytes: Fact[int]
    samples: int
    utilization_mean_percent: Fact[float]
    utilization_peak_percent: Fact[float]
    busy_sample_share: Fact[float]  # share of samples in which it was busy (balance.analysis.SAMPLE_BUSY_PERCENT)
    memory_utilization_mean_percent: Fact[float]
    memory_used_mean_bytes: Fact[float]
    memory_used_peak_bytes: Fact[int]
    power_mean_watts: Fact[float]
    power_peak_watts: Fact[float]
    sm_clock_mean_mhz: Fact[float]
    pcie_tx_bytes_per_s: Fact[float]
    pcie_rx_bytes_per_s: Fact[float]
    nvlink_tx_bytes_per_s: Fact[float]
    nvlink_rx_bytes_per_s: Fact[float]
    clock_event_shares: Dict[str, float]  # reason -> share of samples in which it held
    idle: bool


@record
class Imbalance:
    stddev_points: Fact[float]
    max_over_mean: Fact[float]
    idle_gpus: Tuple[int, ...]
    busy_gpus: Tuple[int, ...]
    concurrency: Fact[float]  # mean over active samples of (sum of utilization) / 100
    overlap_share: Fact[float]  # share of active samples in which two or more GPUs were busy


@record
class GpuProcess:
    gpu: int
    pid: int
    name: Fact[str]
    memory_peak_bytes: Fact[int]
    sample_share: float  # share of samples in which it held the GPU
    cuda_visible_devices: Fact[str]
    ollama: bool


@record
class BalanceReport:
    """What `gpubal balance` observed: per-GPU figures, the imbalance, who held which GPU; the balance
    rules judge it (diagnoses empty) and the analysis adds their findings as `diagnoses`."""

    source: str
    interval_s: float
    requested_seconds: float
    duration_s: float
    sample_count: int
    interrupted: bool
    sampler_cpu_ms_per_sample: float  # after the first sample: what sampling costs while it runs
    sampler_cpu_share_of_one_core: float  # at the chosen interval, after the first sample
    nvml_failure: Optional[Unavailable]
    gpus: Tuple[GpuStats, ...]
    imbalance: Imbalance
    processes: Tuple[GpuProcess, ...]
    ollama_url: Fact[str]
    ollama_models: Fact[List[OllamaModel]]
    diagnoses: Tuple[Finding, ...]
    utilization_series: Dict[int, Tuple[int, ...]]  # per GPU, one value per sample (GPUs fully known only)
    sampler_cpu_ms_first_sample: float = 0.0  # the one-off costs of the first sample
