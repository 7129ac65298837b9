from ..model import Fix, Gpu, Severity, Snapshot
from . import finding, rule
from ..common import links as _links

# NVML's clocks event reasons (nvmlClocksEventReasons): the clocks are held down for heat or power
HEAT_OR_POWER_EMERGENCY = ("sw_thermal_slowdown", "hw_thermal_slowdown", "hw_slowdown", "hw_power_brake_slowdown")
POWER_LIMIT = "sw_power_cap"


@rule("gpu-throttled-while-busy", scope="gpu", area="gpu",
      summary="A busy GPU is not slowed down for heat or power")
def gpu_throttled_while_busy(gpu: Gpu, snapshot: Snapshot):
    """
    What it checks
        The reasons NVML gives for the GPU's clocks now (clocks event reasons), while the GPU is busy
        (it is not idle and a kernel ran in the last sample period): thermal slowdown (software or
        hardware), hardware slowdown, power brake, and the software power cap.

    Why it matters
        A GPU slowed for heat or by an external power brake runs a fraction of its speed, and in a model
        split across GPUs the slowest one sets the pace of all. Low clocks on an idle GPU are not
        throttling (NVML then says gpu_idle), so idle GPUs are never reported. Running at the power limit
        under full load is normal unless the limit was set below the default: that is only advice.

    How to fix
        For heat: check the fans, airflow, inlet temperature and the chassis or BMC logs; nvidia-smi -q -d
        PERFORMANCE,TEMPERATURE shows the reasons and temperatures. For a power brake: the power supply
        or BMC asserted it; check the PSUs. For the power cap: compare the current and default limits
        (nvidia-smi -q -d POWER) and raise a lowered limit with nvidia-smi -pl.

    References
        links.NVML_CLOCK_EVENT_REASONS
    """
    reasons = gpu.need("clock_event_reasons")
    slowed = [reason for reason in reasons if reason in HEAT_OR_POWER_EMERGENCY + (POWER_LIMIT,)]
    if not slowed or "gpu_idle" in reasons:
        return  # nothing holds the clocks down, or the GPU is idle and its clocks low for that
    utilization = gpu.need("utilization_gpu_percent")
    if utilization == 0:
        return  # no kernel ran in the last sample period: not busy
    subject = gpu.subject()
    evidence = {f"{subject}.clock_event_reasons": reasons, f"{subject}.utilization_gpu_percent": utilization}
    emergency = [reason for reason in slowed if reason in HEAT_OR_POWER_EMERGENCY]
    if emergency:
        yield finding(
            Severity.WARNING, subject,
            f"GPU {gpu.index} is busy ({utilization}%) and slowed down: {', '.join(emergency)}",
            evidence,
            Fix(summary="Find what heats or brakes it: fans, airflow, inlet temperature, power supplies",
                commands=(f"nvidia-smi -i {gpu.index} -q -d PERFORMANCE,TEMPERATURE,POWER",),
                url=_links.NVML_CLOCK_EVENT_REASONS),
        )
        return
    yield finding(
        Severity.INFO, subject,
        f"GPU {gpu.index} is busy ({utilization}%) at its power limit (sw_power_cap): normal under full load, "
        "unless the limit was set below the default",
        evidence,
        Fix(summary="Compare the current power limit with the default; raise a lowered one",
            commands=(f"nvidia-smi -i {gpu.index} -q -d POWER", f"sudo nvidia-smi -i {gpu.index} -pl WATTS"),
            url=_links.NVML_CLOCK_EVENT_REASONS),
    )
