from ..model import Fix, Gpu, Reason, Severity, Snapshot, Unavailable
from . import finding, rule
from ..common import links as _links


@rule("gpu-lost", scope="gpu", area="gpu",
      summary="Every GPU the driver knows still answers")
def gpu_lost(gpu: Gpu, snapshot: Snapshot):
    """
    What it checks
        Whether NVML reports the GPU as lost (NVML_ERROR_GPU_IS_LOST) when gpubal asks about it.

    Why it matters
        A lost GPU has fallen off the bus or stopped responding; the kernel log usually shows Xid 79.
        Nothing can use it until the host is rebooted, and programs that were using it have crashed.

    How to fix
        Look for Xid errors in the kernel log, reboot the host, and if it happens again check power,
        cooling and seating, then contact the vendor.

    References
        links.XID_ERRORS
    """
    facts = {"name": gpu.name, "uuid": gpu.uuid, "memory_total_bytes": gpu.memory_total_bytes}
    lost = {name: fact.describe() for name, fact in facts.items()
            if isinstance(fact, Unavailable) and fact.reason is Reason.GPU_LOST}
    if not lost:
        return
    yield finding(
        Severity.ERROR, gpu.subject(),
        f"GPU {gpu.index} is lost: the driver cannot reach it",
        {f"{gpu.subject()}.{name}": described for name, described in lost.items()},
        Fix(
            summary="Check the kernel log for Xid errors, then reboot",
            commands=("sudo dmesg | grep -i xid", "sudo reboot"),
            url=_links.XID_ERRORS,
        ),
    )
