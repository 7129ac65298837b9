"""Helpers for the balance rules (scope "balance"): the thresholds that make a GPU busy, idle or
throttled, and small readings of the observation that several diagnoses share. The analysis in
gpubal.balance uses the same thresholds for its idle/busy lists, so the figures and the diagnoses agree."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Sequence

from ..model import Fact, Known

if TYPE_CHECKING:  # an annotation only: `gpubal doctor` loads these rules without the balance model
    from ..model.balance import BalanceReport

BUSY_PERCENT = 30.0  # a GPU whose mean utilization reaches this is busy
IDLE_PERCENT = 5.0  # below this it is idle
PARTICIPATING_PERCENT = 10.0  # takes part in the work
TURN_TAKING_MAX_CONCURRENCY = 1.3  # the GPUs together do at most ~one GPU's worth
THROTTLE_SHARE = 0.10  # a slowdown seen in this share of samples is reported
HARMFUL_REASONS = ("hw_slowdown", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown")
POWER_CAP_REASON = "sw_power_cap"
MEMORY_SPREAD_SHARE = 0.25  # memory used differs by a quarter of a GPU's memory


def utilization_means(observation: BalanceReport) -> Dict[int, float]:
    """Each GPU's mean utilization, for the GPUs whose every sample was read."""
    return {gpu.index: gpu.utilization_mean_percent.value for gpu in observation.gpus
            if isinstance(gpu.utilization_mean_percent, Known)}


def ollama_involved(observation: BalanceReport, gpus: Sequence[int]) -> bool:
    if any(process.ollama and process.gpu in gpus for process in observation.processes):
        return True
    return isinstance(observation.ollama_models, Known) and bool(observation.ollama_models.value)


def text(fact: Fact[Any]) -> str:
    return str(fact.value) if isinstance(fact, Known) else f"unknown ({fact.reason.value})"
