from ..model import Fix, Gpu, Severity, Snapshot
from . import finding, rule
from ..common import links as _links

# DCGM's limit: "8 replays per minute is the maximum recommended by RM" (DCGM_LIMIT_MAX_PCIREPLAY_RATE in
# NVIDIA DCGM's dcgm_gpu_hardware_limits.h).
MAX_REPLAYS_PER_MINUTE = 8


@rule("pcie-replay-errors", scope="gpu", area="pcie",
      summary="The PCIe link retransmits no more than DCGM's limit of 8 packets a minute")
def pcie_replay_errors(gpu: Gpu, snapshot: Snapshot):
    """
    What it checks
        NVML's PCIe replay counter, the number of packets the GPU's link had to resend since the driver
        loaded, averaged over the host's uptime (the longest the counter can have been counting), against
        the 8 replays a minute that NVIDIA's DCGM treats as the most a healthy link shows. A count of 0
        passes without needing the uptime. An average hides bursts shorter than the uptime: to catch
        those, read the counter twice a few minutes apart.

    Why it matters
        Replays are link errors that the hardware corrected. A few over days are normal; a steady stream
        costs bandwidth and precedes Xid errors and GPUs falling off the bus. They point at signal
        integrity: seating, risers, retimers, cables on PCIe switch trays.

    How to fix
        Watch whether the counter grows under load; reseat the card or riser; check for AER messages in
        the kernel log; on a server, ask the vendor to check the slot or retimer.

    References
        https://github.com/NVIDIA/DCGM
        links.XID_ERRORS
    """
    replays = gpu.need("pcie_replay_count")
    if replays == 0:
        return
    uptime_seconds = snapshot.host.need("uptime_seconds")
    per_minute = replays / max(uptime_seconds / 60, 1.0)
    if per_minute <= MAX_REPLAYS_PER_MINUTE:
        return
    yield finding(
        Severity.WARNING, gpu.subject(),
        f"GPU {gpu.index} PCIe link retransmitted {replays} packets in at most {uptime_seconds // 60} minutes "
        f"({per_minute:.1f} a minute, above DCGM's limit of {MAX_REPLAYS_PER_MINUTE})",
        {f"{gpu.subject()}.pcie_replay_count": replays, "host.uptime_seconds": uptime_seconds,
         "replays_per_minute": round(per_minute, 1)},
        Fix(
            summary="Check whether the count grows under load, look for PCIe AER errors, reseat the card",
            commands=(f"nvidia-smi -q -d PCIE -i {gpu.index}", "sudo dmesg | grep -iE 'AER|Xid'"),
            url=_links.XID_ERRORS,
        ),
    )
