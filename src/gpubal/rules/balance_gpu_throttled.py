from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict

from ..model import Fix, Known, Severity
from . import finding, rule
from ..common import links as _links
from ._balance import HARMFUL_REASONS, POWER_CAP_REASON, THROTTLE_SHARE

if TYPE_CHECKING:  # an annotation only: `gpubal doctor` loads these rules without the balance model
    from ..model.balance import BalanceReport


@rule("balance-gpu-throttled", scope="balance", area="balance",
      summary="No GPU slowed its clocks (heat, power brake, power limit) while sampled")
def balance_gpu_throttled(observation: BalanceReport):
    """
    What it checks
        Over a `gpubal balance` sampling run: each GPU's clock event reasons as NVML reports them per
        sample. A thermal slowdown, hardware slowdown or power brake seen in 10 % of the samples or more
        is a warning; running at the power limit (sw_power_cap) that often is advice.

    Why it matters
        A GPU that slows its clocks is slower than its siblings, and work split over several GPUs
        waits for the slowest: one hot GPU holds back the whole group. Thermal and hardware slowdowns
        mean cooling or power delivery needs attention; a power cap is normal under load unless this
        GPU's limit is lower than the others'.

    How to fix
        Check temperatures, cooling and power delivery (`nvidia-smi -i N -q -d
        PERFORMANCE,TEMPERATURE,POWER`); for a power cap compare the GPU's power limit with its default
        and with the other GPUs' (`nvidia-smi -i N -q -d POWER`).

    References
        links.NVML_CLOCK_EVENT_REASONS
    """
    found = []
    for gpu in observation.gpus:
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
                      (f"nvidia-smi -i {gpu.index} -q -d PERFORMANCE,TEMPERATURE,POWER",), _links.NVML_CLOCK_EVENT_REASONS)
            severity = Severity.WARNING
        else:
            message = (f"GPU {gpu.index} ran at its power limit ({listed}): clocks drop to stay under it. "
                       "Normal under heavy load; a lower limit than its siblings makes it the slow member.")
            fix = Fix("Compare the power limit with the default and with the other GPUs.",
                      (f"nvidia-smi -i {gpu.index} -q -d POWER",), _links.NVML_CLOCK_EVENT_REASONS)
            severity = Severity.INFO
        found.append(finding(severity, f"gpu:{gpu.index}", message, evidence, fix))
    return found
