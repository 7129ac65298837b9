from ..model import Fix, Gpu, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ._gpu import need_feature


@rule("mig-pending-reboot", scope="gpu", area="mig",
      summary="No MIG mode change is waiting for a GPU reset")
def mig_pending_reboot(gpu: Gpu, snapshot: Snapshot):
    """
    What it checks
        Whether the MIG mode that is in effect differs from the pending one, i.e. someone ran
        `nvidia-smi -mig 0|1` and the GPU has not been reset since.

    Why it matters
        The GPU keeps behaving in its current mode until it is reset: the change someone believes is
        made is not, and the next reboot changes how the GPU appears to CUDA (whole GPU or MIG devices).

    How to fix
        Reset the GPU while nothing runs on it, or reboot the host.

    References
        links.MIG_GUIDE
    """
    current = need_feature(gpu, "mig_enabled_current", "MIG")
    pending = gpu.need("mig_enabled_pending")
    if current == pending:
        return
    state = {True: "enabled", False: "disabled"}
    yield finding(
        Severity.WARNING, gpu.subject(),
        f"MIG is {state[current]} on GPU {gpu.index} but {state[pending]} after the next GPU reset",
        {f"{gpu.subject()}.mig_enabled_current": current, f"{gpu.subject()}.mig_enabled_pending": pending},
        Fix(
            summary="Reset the GPU when it is idle, or reboot, to apply the pending MIG mode",
            commands=(f"sudo nvidia-smi -r -i {gpu.index}",),
            url=_links.MIG_GUIDE,
        ),
    )
