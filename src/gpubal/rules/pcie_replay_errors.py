from ..doctor.model import Fix, Gpu, Severity, Snapshot
from . import _links, finding, rule


@rule("pcie-replay-errors", scope="gpu", area="pcie",
      summary="The PCIe link has not had to retransmit packets")
def check(gpu: Gpu, snapshot: Snapshot):
    """
    What it checks
        NVML's PCIe replay counter: how many times the GPU's link had to resend a packet since the
        driver loaded. A healthy link shows 0.

    Why it matters
        Replays are link errors that the hardware corrected. They cost bandwidth and, when they grow,
        precede Xid errors and GPUs falling off the bus. They point at signal integrity: seating,
        risers, retimers, cables on PCIe switch trays.

    How to fix
        Watch whether the counter grows under load; reseat the card or riser; check for AER messages
        in the kernel log; on a server, ask the vendor to check the slot or retimer.

    References
        https://docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html
    """
    replays = gpu.need("pcie_replay_count")
    if replays == 0:
        return
    yield finding(
        Severity.WARNING, gpu.subject(),
        f"GPU {gpu.index} PCIe link retransmitted packets {replays} times since the driver loaded",
        {f"{gpu.subject()}.pcie_replay_count": replays},
        Fix(
            summary="Check whether the count grows under load, look for PCIe AER errors, reseat the card",
            commands=(f"nvidia-smi -q -d PCIE -i {gpu.index}", "sudo dmesg | grep -iE 'AER|Xid'"),
            url=_links.XID_ERRORS,
        ),
    )
