from ..model import Fix, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ._gpu import has_feature


@rule("mig-mixed-across-gpus", scope="host", area="mig",
      summary="MIG is either on for all GPUs or off for all")
def mig_mixed_across_gpus(snapshot: Snapshot):
    """
    What it checks
        Whether some GPUs of the host are in MIG mode while others are not.

    Why it matters
        A mixed host is legitimate, but it is a frequent leftover: CUDA then enumerates whole GPUs and
        MIG devices side by side, CUDA_VISIBLE_DEVICES indices no longer mean what they seem, and a
        server meant to spread a model over every GPU sees fewer, smaller devices.

    How to fix
        If the mix is not intended, disable MIG on the GPUs that have it (and reset them). If it is
        intended, address MIG devices by their MIG UUIDs (`nvidia-smi -L`) rather than by index.

    References
        links.MIG_GUIDE
    """
    # a GPU without MIG (NVML: not supported) is not part of the question
    modes = {gpu.index: gpu.need("mig_enabled_current") for gpu in snapshot.gpu_list()
             if has_feature(gpu, "mig_enabled_current")}
    enabled = sorted(index for index, on in modes.items() if on)
    if not enabled or len(enabled) == len(modes):
        return
    disabled = sorted(index for index, on in modes.items() if not on)
    yield finding(
        Severity.INFO, "host",
        f"MIG is enabled on GPU {', '.join(map(str, enabled))} and disabled on GPU {', '.join(map(str, disabled))}",
        {f"gpu:{index}.mig_enabled_current": on for index, on in sorted(modes.items())},
        Fix(
            summary="If unintended, disable MIG where it is on; if intended, address MIG devices by UUID",
            commands=("nvidia-smi -L",) + tuple(f"sudo nvidia-smi -i {i} -mig 0" for i in enabled),
            url=_links.MIG_GUIDE,
        ),
    )
