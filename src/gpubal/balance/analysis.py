"""From samples to figures and diagnoses: a pure function of the Recording, like a rule of the Snapshot.

Imbalance is the population standard deviation of the GPUs' mean utilization, in percentage points: two
GPUs at 100 % and 0 % give 50, two at 100 % give 0 (the figure operators quote). max/mean is the busiest
GPU's mean over the average of all means: 1.0 is even, k means one of k GPUs does all the work.

NVML's utilization is the share of its last sample period (1/6 s to 1 s) in which a kernel ran. A model
split layer-wise across k GPUs runs its layers in order, so at any instant one GPU works: seen through
those windows, either the GPUs alternate from sample to sample (slow turns) or each shows about 1/k
(fast turns). Both keep the *sum* of the GPUs' utilization near one GPU's worth, which is what
`concurrency` measures, while independent work on every GPU (replicas, tensor parallelism) sums to k.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..model import Fact, Finding, Fix, Known, OllamaModel, Reason, Severity, Unavailable
from ..common.links import OLLAMA_FAQ
from ..model.balance import ProcessInfo, Recording

BUSY_PERCENT = 30.0  # a GPU whose mean utilization reaches this is busy
IDLE_PERCENT = 5.0  # below this it is idle
PARTICIPATING_PERCENT = 10.0  # takes part in the work
ACTIVE_SUM_PERCENT = 20.0  # a sample in which the GPUs together did something
SAMPLE_BUSY_PERCENT = 50.0  # one GPU busy in one sample
TURN_TAKING_MAX_CONCURRENCY = 1.3  # the GPUs together do at most ~one GPU's worth
THROTTLE_SHARE = 0.10  # a slowdown seen in this share of samples is reported
HARMFUL_REASONS = ("hw_slowdown", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown")
POWER_CAP_REASON = "sw_power_cap"
MEMORY_SPREAD_SHARE = 0.25  # memory used differs by a quarter of a GPU's memory

NVML_CLOCK_REASONS = "https://docs.nvidia.com/deploy/nvml-api/group__nvmlClocksEventReasons.html"
VLLM_PARALLELISM = "https://docs.vllm.ai/en/latest/serving/distributed_serving.html"


@dataclass(frozen=True)
class GpuStats:
    index: int
    uuid: Fact[str]
    name: Fact[str]
    memory_total_bytes: Fact[int]
    samples: int
    utilization_mean_percent: Fact[float]
    utilization_peak_percent: Fact[float]
    busy_sample_share: Fact[float]  # share of samples at or above SAMPLE_BUSY_PERCENT
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


@dataclass(frozen=True)
class Imbalance:
    stddev_points: Fact[float]
    max_over_mean: Fact[float]
    idle_gpus: Tuple[int, ...]
    busy_gpus: Tuple[int, ...]
    concurrency: Fact[float]  # mean over active samples of (sum of utilization) / 100
    overlap_share: Fact[float]  # share of active samples in which two or more GPUs were busy


@dataclass(frozen=True)
class GpuProcess:
    gpu: int
    pid: int
    name: Fact[str]
    memory_peak_bytes: Fact[int]
    sample_share: float  # share of samples in which it held the GPU
    cuda_visible_devices: Fact[str]
    ollama: bool


@dataclass(frozen=True)
class BalanceReport:
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


def _known(values: Sequence[Fact[Any]]) -> List[Any]:
    return [value.value for value in values if isinstance(value, Known)]


def _mean(values: Sequence[Fact[Any]], source: str, scale: float = 1.0) -> Fact[float]:
    known = _known(values)
    if not known:
        return _why_missing(values, source)
    return Known(round(statistics.fmean(known) * scale, 3), source)


def _peak(values: Sequence[Fact[Any]], source: str) -> Fact[Any]:
    known = _known(values)
    return Known(max(known), source) if known else _why_missing(values, source)


def _why_missing(values: Sequence[Fact[Any]], source: str) -> Unavailable:
    missing = [value for value in values if isinstance(value, Unavailable)]
    for value in sorted(missing, key=lambda value: value.reason is Reason.NOT_ASKED):  # a real reason first
        return value
    return Unavailable(Reason.NOT_FOUND, source, "no samples")


def _rate(totals: Sequence[Fact[int]], times: Sequence[float], source: str) -> Fact[float]:
    """Bytes per second from a cumulative counter: (last - first) / elapsed over the known readings."""
    points = [(time, total.value) for time, total in zip(times, totals) if isinstance(total, Known)]
    if len(points) < 2:
        return _why_missing(totals, source) if not points else Unavailable(
            Reason.NOT_FOUND, source, "one reading only: a rate needs two")
    (t0, v0), (t1, v1) = points[0], points[-1]
    if t1 <= t0 or v1 < v0:
        return Unavailable(Reason.ERROR, source, "the counter went backwards or no time passed")
    return Known(round((v1 - v0) / (t1 - t0), 1), source)


def analyze(recording: Recording) -> BalanceReport:
    samples = recording.samples
    times = [sample.time_s for sample in samples]
    count = len(samples)
    gpu_stats = []
    for position, gpu in enumerate(recording.gpus):
        readings = [sample.gpus[position] for sample in samples]
        utilization = [r.utilization_percent for r in readings]
        mean = _mean(utilization, "nvmlDeviceGetUtilizationRates")
        reasons: Dict[str, int] = {}
        for reading in readings:
            if isinstance(reading.clock_event_reasons, Known):
                for reason in reading.clock_event_reasons.value:
                    reasons[reason] = reasons.get(reason, 0) + 1
        known_util = _known(utilization)
        gpu_stats.append(GpuStats(
            index=gpu.index, uuid=gpu.uuid, name=gpu.name, memory_total_bytes=gpu.memory_total_bytes,
            samples=count,
            utilization_mean_percent=mean,
            utilization_peak_percent=_peak(utilization, "nvmlDeviceGetUtilizationRates"),
            busy_sample_share=Known(round(sum(1 for u in known_util if u >= SAMPLE_BUSY_PERCENT) / len(known_util), 3),
                                    "nvmlDeviceGetUtilizationRates") if known_util else mean,
            memory_utilization_mean_percent=_mean([r.memory_utilization_percent for r in readings],
                                                  "nvmlDeviceGetUtilizationRates"),
            memory_used_mean_bytes=_mean([r.memory_used_bytes for r in readings], "nvmlDeviceGetMemoryInfo"),
            memory_used_peak_bytes=_peak([r.memory_used_bytes for r in readings], "nvmlDeviceGetMemoryInfo"),
            power_mean_watts=_mean([r.power_watts for r in readings], "nvmlDeviceGetPowerUsage"),
            power_peak_watts=_peak([r.power_watts for r in readings], "nvmlDeviceGetPowerUsage"),
            sm_clock_mean_mhz=_mean([r.sm_clock_mhz for r in readings], "nvmlDeviceGetClockInfo(SM)"),
            pcie_tx_bytes_per_s=_pcie_rate([r.pcie_tx_bytes_total for r in readings],
                                           [r.pcie_tx_bytes_per_s for r in readings], times),
            pcie_rx_bytes_per_s=_pcie_rate([r.pcie_rx_bytes_total for r in readings],
                                           [r.pcie_rx_bytes_per_s for r in readings], times),
            nvlink_tx_bytes_per_s=_rate([r.nvlink_tx_bytes_total for r in readings], times, "nvmlDeviceGetFieldValues"),
            nvlink_rx_bytes_per_s=_rate([r.nvlink_rx_bytes_total for r in readings], times, "nvmlDeviceGetFieldValues"),
            clock_event_shares={reason: round(n / count, 3) for reason, n in sorted(reasons.items())},
            idle=isinstance(mean, Known) and mean.value < IDLE_PERCENT,
        ))
    imbalance = _imbalance(recording, gpu_stats)
    processes = _processes(recording)
    series = {}
    for position, gpu in enumerate(recording.gpus):
        values = [sample.gpus[position].utilization_percent for sample in samples]
        if values and all(isinstance(value, Known) for value in values):
            series[gpu.index] = tuple(value.value for value in values)
    duration = (times[-1] - times[0] + recording.interval_s) if times else 0.0
    # The first sample pays one-off costs (NVML's first answers, /proc of every process found); the share
    # of a core a long sampling run costs is the rest. Both are reported.
    if count > 1:
        cpu_per_sample = (recording.sampler_cpu_seconds - recording.sampler_first_sample_cpu_seconds) / (count - 1)
    else:
        cpu_per_sample = recording.sampler_cpu_seconds / count if count else 0.0
    report = BalanceReport(
        source=recording.source, interval_s=recording.interval_s, requested_seconds=recording.requested_seconds,
        duration_s=round(duration, 3), sample_count=count, interrupted=recording.interrupted,
        sampler_cpu_ms_per_sample=round(cpu_per_sample * 1000, 4),
        sampler_cpu_ms_first_sample=round(recording.sampler_first_sample_cpu_seconds * 1000, 4),
        sampler_cpu_share_of_one_core=round(cpu_per_sample / recording.interval_s, 6) if recording.interval_s else 0.0,
        nvml_failure=recording.nvml_failure, gpus=tuple(gpu_stats), imbalance=imbalance, processes=processes,
        ollama_url=recording.ollama_url, ollama_models=recording.ollama_models, diagnoses=(),
        utilization_series=series,
    )
    return _with_diagnoses(report)


def _pcie_rate(totals, rates, times) -> Fact[float]:
    if any(isinstance(total, Known) for total in totals):
        return _rate(totals, times, "nvmlDeviceGetFieldValues")
    return _mean(rates, "nvmlDeviceGetPcieThroughput")


def _imbalance(recording: Recording, gpus: List[GpuStats]) -> Imbalance:
    means = {gpu.index: gpu.utilization_mean_percent.value for gpu in gpus
             if isinstance(gpu.utilization_mean_percent, Known)}
    source = "nvmlDeviceGetUtilizationRates"
    if not means:
        missing = next((gpu.utilization_mean_percent for gpu in gpus), None) or Unavailable(
            Reason.NOT_FOUND, source, "no GPU was sampled")
        return Imbalance(missing, missing, (), (), missing, missing)  # type: ignore[arg-type]
    unread = next((gpu for gpu in gpus if isinstance(gpu.utilization_mean_percent, Unavailable)), None)
    if unread is not None:  # the spread over some GPUs is not the spread over all: unknown, never "even"
        missing = Unavailable(unread.utilization_mean_percent.reason, source,  # type: ignore[union-attr]
                              f"GPU {unread.index}'s utilization is unknown: "
                              f"{unread.utilization_mean_percent.describe()}")  # type: ignore[union-attr]
        return Imbalance(missing, missing, tuple(index for index, mean in means.items() if mean < IDLE_PERCENT),
                         tuple(index for index, mean in means.items() if mean >= BUSY_PERCENT), missing, missing)
    values = list(means.values())
    average = statistics.fmean(values)
    stddev = Known(round(statistics.pstdev(values), 2), source)
    ratio: Fact[float] = Known(round(max(values) / average, 3), source) if average > 0 else Unavailable(
        Reason.NOT_FOUND, source, "every GPU was idle: max/mean is undefined")
    positions = [position for position, gpu in enumerate(gpus) if gpu.index in means]
    active_sums, overlaps = [], 0
    for sample in recording.samples:
        utils = [sample.gpus[p].utilization_percent for p in positions]
        known = _known(utils)
        if len(known) != len(utils) or sum(known) < ACTIVE_SUM_PERCENT:
            continue
        active_sums.append(sum(known) / 100.0)
        overlaps += sum(1 for u in known if u >= SAMPLE_BUSY_PERCENT) >= 2
    concurrency: Fact[float] = Known(round(statistics.fmean(active_sums), 3), source) if active_sums else \
        Unavailable(Reason.NOT_FOUND, source, "no sample in which the GPUs worked")
    overlap: Fact[float] = Known(round(overlaps / len(active_sums), 3), source) if active_sums else concurrency
    return Imbalance(
        stddev_points=stddev, max_over_mean=ratio,
        idle_gpus=tuple(index for index, mean in means.items() if mean < IDLE_PERCENT),
        busy_gpus=tuple(index for index, mean in means.items() if mean >= BUSY_PERCENT),
        concurrency=concurrency, overlap_share=overlap,
    )


def _processes(recording: Recording) -> Tuple[GpuProcess, ...]:
    seen: Dict[Tuple[int, int], List[Fact[int]]] = {}
    for sample in recording.samples:
        for position, reading in enumerate(sample.gpus):
            if isinstance(reading.processes, Known):
                for pid, memory in reading.processes.value:
                    seen.setdefault((recording.gpus[position].index, pid), []).append(memory)
    found = []
    for (gpu, pid), memories in sorted(seen.items()):
        info = recording.processes.get(pid) or ProcessInfo(
            pid, Unavailable(Reason.NOT_FOUND, f"/proc/{pid}/comm"), Unavailable(Reason.NOT_FOUND, f"/proc/{pid}/environ"))
        name = info.name.value if isinstance(info.name, Known) else ""
        found.append(GpuProcess(
            gpu=gpu, pid=pid, name=info.name, memory_peak_bytes=_peak(memories, "nvmlDeviceGetComputeRunningProcesses_v3"),
            sample_share=round(len(memories) / max(1, len(recording.samples)), 3),
            cuda_visible_devices=info.cuda_visible_devices, ollama=name.startswith("ollama"),
        ))
    return tuple(found)


# --- diagnoses ---------------------------------------------------------------------------------------


def _with_diagnoses(report: BalanceReport) -> BalanceReport:
    import dataclasses

    found: List[Finding] = []
    for check in (_one_gpu_busy, _layer_split_takes_turns, _throttled, _memory_imbalance):
        found.extend(check(report))
    return dataclasses.replace(report, diagnoses=tuple(found))


def _means(report: BalanceReport) -> Dict[int, float]:
    return {gpu.index: gpu.utilization_mean_percent.value for gpu in report.gpus
            if isinstance(gpu.utilization_mean_percent, Known)}


def _ollama_involved(report: BalanceReport, gpus: Sequence[int]) -> bool:
    if any(process.ollama and process.gpu in gpus for process in report.processes):
        return True
    return isinstance(report.ollama_models, Known) and bool(report.ollama_models.value)


def _one_gpu_busy(report: BalanceReport) -> List[Finding]:
    means = _means(report)
    if len(means) < 2:
        return []
    busy = [index for index, mean in means.items() if mean >= BUSY_PERCENT]
    idle = [index for index, mean in means.items() if mean < IDLE_PERCENT]
    if len(busy) != 1 or len(idle) != len(means) - 1:
        return []
    gpu = busy[0]
    holders = [p for p in report.processes if p.gpu == gpu]
    evidence: Dict[str, Any] = {f"gpu:{index}.utilization_mean_percent": mean for index, mean in means.items()}
    evidence["imbalance_stddev_points"] = report.imbalance.stddev_points.value
    for process in holders:
        evidence[f"pid:{process.pid}.name"] = _text(process.name)
        if isinstance(process.cuda_visible_devices, Known):
            evidence[f"pid:{process.pid}.CUDA_VISIBLE_DEVICES"] = process.cuda_visible_devices.value
    restricted = [p for p in holders if isinstance(p.cuda_visible_devices, Known)
                  and len([d for d in p.cuda_visible_devices.value.split(",") if d.strip()]) == 1]
    message = (f"GPU {gpu} did the work (mean {means[gpu]:.0f} %) while GPU "
               f"{', '.join(map(str, idle))} stayed idle: imbalance {report.imbalance.stddev_points.value:.0f} points.")
    if restricted:
        process = restricted[0]
        message += (f" Process {process.pid} ({_text(process.name)}) was started with "
                    f"CUDA_VISIBLE_DEVICES={process.cuda_visible_devices.value}: it can see one GPU only.")
        fix = Fix("Let the process see the GPUs it should use, or run one copy per GPU and balance requests "
                  "across them.",
                  (f"grep -z CUDA_VISIBLE_DEVICES /proc/{process.pid}/environ",
                   "gpubal topo --group-size 1   # one server per GPU, with its CUDA_VISIBLE_DEVICES",
                   "systemctl show ollama -p Environment"),
                  "https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#env-vars")
    elif _ollama_involved(report, [gpu]):
        message += (" Ollama puts a model that fits in one GPU on one GPU: that is its default, so one model "
                    "never uses the other GPUs.")
        fix = Fix("For throughput, run one Ollama server per GPU (each on its own OLLAMA_HOST port and "
                  "CUDA_VISIBLE_DEVICES) behind a load balancer; to spread one model over every GPU (more "
                  "memory, not more speed) set OLLAMA_SCHED_SPREAD=1.",
                  ("gpubal topo --group-size 1",
                   "sudo systemctl edit ollama   # [Service] Environment=\"OLLAMA_SCHED_SPREAD=1\"",
                   "sudo systemctl restart ollama"),
                  OLLAMA_FAQ)
    else:
        message += " The workload runs on one GPU."
        fix = Fix("Give the other GPUs work: run one replica per GPU behind a load balancer, or a "
                  "tensor-parallel engine over an NVLink group.",
                  ("gpubal topo",
                   "vllm serve MODEL --tensor-parallel-size 2",
                   "python -m sglang.launch_server --model-path MODEL --tp-size 2"),
                  VLLM_PARALLELISM)
    return [Finding("balance-one-gpu-busy", Severity.WARNING, f"gpu:{gpu}", message, evidence, fix)]


def _layer_split_takes_turns(report: BalanceReport) -> List[Finding]:
    means = _means(report)
    taking_part = [index for index, mean in means.items() if mean >= PARTICIPATING_PERCENT]
    concurrency, overlap = report.imbalance.concurrency, report.imbalance.overlap_share
    if len(taking_part) < 2 or not isinstance(concurrency, Known) or not isinstance(overlap, Known):
        return []
    if concurrency.value > TURN_TAKING_MAX_CONCURRENCY:
        return []
    k = len(taking_part)
    shared = sorted({p.pid for p in report.processes if p.gpu in taking_part and all(
        any(q.pid == p.pid and q.gpu == g for q in report.processes) for g in taking_part)})
    evidence: Dict[str, Any] = {f"gpu:{index}.utilization_mean_percent": means[index] for index in taking_part}
    evidence.update({"concurrency": concurrency.value, "overlap_share": overlap.value,
                     "expected_share_per_gpu_percent": round(100 / k, 1)})
    if shared:
        evidence["processes_on_every_gpu"] = shared
    ollama = _ollama_involved(report, taking_part)
    message = (f"GPUs {', '.join(map(str, taking_part))} take turns: together they do about "
               f"{concurrency.value:.1f} GPU's worth of work (each about 1/{k} of the time; two or more busy in "
               f"{overlap.value:.0%} of samples). A model split by layers runs its layers in order, so one GPU "
               "waits while another computes.")
    message += (" This is expected for Ollama and llama.cpp, which split layers, not tensors." if ollama or shared
                else "")
    fix = Fix("Expected for a layer split; for throughput, if the model fits one GPU run one server per GPU "
              "behind a load balancer; if it does not, use tensor parallelism over an NVLink group "
              "(vLLM, SGLang, or llama.cpp --split-mode row), or send more requests at once "
              "(OLLAMA_NUM_PARALLEL) so each turn carries more work.",
              ("gpubal topo --group-size 1",
               f"vllm serve MODEL --tensor-parallel-size {k}",
               f"python -m sglang.launch_server --model-path MODEL --tp-size {k}",
               "llama-server -m MODEL.gguf --split-mode row"),
              VLLM_PARALLELISM)
    subject = "-".join(f"gpu:{index}" for index in taking_part)
    return [Finding("balance-layer-split-takes-turns", Severity.INFO, subject, message, evidence, fix)]


def _throttled(report: BalanceReport) -> List[Finding]:
    found = []
    for gpu in report.gpus:
        harmful = {r: s for r, s in gpu.clock_event_shares.items() if r in HARMFUL_REASONS and s >= THROTTLE_SHARE}
        capped = gpu.clock_event_shares.get(POWER_CAP_REASON, 0.0)
        if not harmful and capped < THROTTLE_SHARE:
            continue
        reasons = dict(harmful)
        if capped >= THROTTLE_SHARE:
            reasons[POWER_CAP_REASON] = capped
        evidence: Dict[str, Any] = {f"clock_event_share.{r}": s for r, s in reasons.items()}
        for name, fact in (("sm_clock_mean_mhz", gpu.sm_clock_mean_mhz), ("power_mean_watts", gpu.power_mean_watts),
                           ("utilization_mean_percent", gpu.utilization_mean_percent)):
            if isinstance(fact, Known):
                evidence[name] = fact.value
        listed = ", ".join(f"{reason} in {share:.0%} of samples" for reason, share in reasons.items())
        if harmful:
            message = f"GPU {gpu.index} slowed its clocks: {listed}. A throttled GPU holds back every GPU it works with."
            fix = Fix("Check cooling and power delivery: thermal and hardware slowdowns mean the GPU is too hot "
                      "or its power supply signalled a brake.",
                      (f"nvidia-smi -i {gpu.index} -q -d PERFORMANCE,TEMPERATURE,POWER",), NVML_CLOCK_REASONS)
            severity = Severity.WARNING
        else:
            message = (f"GPU {gpu.index} ran at its power limit ({listed}): clocks drop to stay under it. "
                       "Normal under heavy load; a lower limit than its siblings makes it the slow member.")
            fix = Fix("Compare the power limit with the default and with the other GPUs.",
                      (f"nvidia-smi -i {gpu.index} -q -d POWER",), NVML_CLOCK_REASONS)
            severity = Severity.INFO
        found.append(Finding("balance-gpu-throttled", severity, f"gpu:{gpu.index}", message, evidence, fix))
    return found


def _memory_imbalance(report: BalanceReport) -> List[Finding]:
    shares = {}
    for gpu in report.gpus:
        if isinstance(gpu.memory_used_peak_bytes, Known) and isinstance(gpu.memory_total_bytes, Known) \
                and gpu.memory_total_bytes.value > 0:
            shares[gpu.index] = gpu.memory_used_peak_bytes.value / gpu.memory_total_bytes.value
    if len(shares) < 2:
        return []
    fullest, emptiest = max(shares, key=shares.get), min(shares, key=shares.get)
    if shares[fullest] - shares[emptiest] < MEMORY_SPREAD_SHARE:
        return []
    evidence = {f"gpu:{index}.memory_used_peak_share": round(share, 3) for index, share in shares.items()}
    severity = Severity.WARNING if shares[fullest] >= 0.9 else Severity.INFO
    message = (f"GPU {fullest} holds {shares[fullest]:.0%} of its memory, GPU {emptiest} {shares[emptiest]:.0%}: "
               "the memory is unevenly used" + (", and the fullest GPU is close to running out." if
                                                 severity is Severity.WARNING else "."))
    fix = Fix("Spread the model: Ollama places layers by free memory (OLLAMA_SCHED_SPREAD=1 spreads one model "
              "over all GPUs); llama.cpp takes --tensor-split; or run one server per GPU so each holds its own copy.",
              ("sudo systemctl edit ollama   # [Service] Environment=\"OLLAMA_SCHED_SPREAD=1\"",
               "llama-server -m MODEL.gguf --tensor-split 1,1",
               "gpubal topo --group-size 1"),
              OLLAMA_FAQ)
    return [Finding("balance-memory-imbalance", severity, f"gpu:{fullest}-gpu:{emptiest}", message, evidence, fix)]


def _text(fact: Fact[Any]) -> str:
    return str(fact.value) if isinstance(fact, Known) else f"unknown ({fact.reason.value})"
