"""From samples to figures and diagnoses: a pure function of the Recording. The figures are computed here;
the diagnoses are the balance rules (`gpubal/rules/balance_*.py`), which the engine runs on the figures.

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
from typing import Any, Dict, List, Sequence, Tuple

from ..model import Fact, Known, Reason, Unavailable
from ..model.balance import BalanceReport, GpuProcess, GpuStats, Imbalance, ProcessInfo, Recording
from ..rules._balance import BUSY_PERCENT, IDLE_PERCENT  # the figures' idle and busy are the diagnoses'

ACTIVE_SUM_PERCENT = 20.0  # a sample in which the GPUs together did something
SAMPLE_BUSY_PERCENT = 50.0  # one GPU busy in one sample


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


# --- diagnoses: the balance rules (scope "balance" in gpubal.rules), run by the engine ----------------

# The order a reader takes them in: who did the work, how the GPUs shared it, what slowed them, then
# memory. A balance rule not named here comes after these, by id.
READING_ORDER = ("balance-one-gpu-busy", "balance-layer-split-takes-turns", "balance-gpu-throttled",
                 "balance-memory-imbalance")


def _with_diagnoses(report: BalanceReport) -> BalanceReport:
    import dataclasses

    from ..doctor.engine import evaluate_balance
    from ..rules import all_rules

    rules = sorted((rule for rule in all_rules() if rule.scope == "balance"), key=lambda rule: (
        READING_ORDER.index(rule.id) if rule.id in READING_ORDER else len(READING_ORDER), rule.id))
    found = [finding for result in evaluate_balance(report, rules) for finding in result.findings]
    return dataclasses.replace(report, diagnoses=tuple(found))
