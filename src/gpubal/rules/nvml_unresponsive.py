from ..model import Fix, Known, NotApplicable, Reason, Severity, Snapshot
from . import finding, rule
from ..common import links as _links


@rule("nvml-unresponsive", scope="host", area="driver",
      summary="The driver answers NVML queries in time")
def nvml_unresponsive(snapshot: Snapshot):
    """
    What it checks
        Whether NVML answered gpubal's queries before the collection's deadline (20 s; a healthy 8-GPU
        host answers in well under a second).

    Why it matters
        An NVML call that blocks means the driver is waiting on a GPU that does not respond: a GPU that
        fell off the bus, a driver stuck in error recovery, or a GPU reset in progress. nvidia-smi and
        every CUDA program hang the same way, and servers on the host stop answering.

    How to fix
        Look for Xid errors in the kernel log (Xid 79: the GPU fell off the bus; Xid 119/120: GSP
        timeouts), check whether `nvidia-smi` itself returns, and reboot the host if it does not.

    References
        links.XID_ERRORS
    """
    status = snapshot.driver.nvml_status
    if isinstance(status, Known):
        return
    if status.reason is not Reason.TIMEOUT:
        raise NotApplicable(f"NVML did not start ({status.reason.value}); other rules say why")
    yield finding(
        Severity.ERROR, "host",
        "NVML did not answer in time: a GPU or the driver is hung, and CUDA programs will hang too",
        {"driver.nvml_status": status.describe()},
        Fix(
            summary="Find the hung GPU in the kernel log, check whether nvidia-smi returns, then reboot",
            commands=("sudo dmesg | grep -i xid", "timeout 30 nvidia-smi", "sudo reboot"),
            url=_links.XID_ERRORS,
        ),
    )
