from ..model import Fix, Gpu, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ._gpu import need_feature


@rule("mig-enabled-without-instances", scope="gpu", area="mig",
      summary="A GPU in MIG mode has GPU instances that CUDA can use")
def mig_enabled_without_instances(gpu: Gpu, snapshot: Snapshot):
    """
    What it checks
        Whether a GPU with MIG enabled has at least one MIG device (a GPU instance with a compute
        instance in it).

    Why it matters
        In MIG mode CUDA can only use MIG devices. With MIG on and no instances, the GPU is invisible to
        CUDA: frameworks see one GPU fewer, and servers like Ollama skip it or fall back to the CPU.
        MIG is easily left on after an experiment.

    How to fix
        Either create instances (list the profiles, then create GPU and compute instances), or turn
        MIG off and reset the GPU.

    References
        links.MIG_GUIDE
    """
    if not need_feature(gpu, "mig_enabled_current", "MIG"):
        return
    instances = gpu.need("mig_instances")
    if instances:
        return
    yield finding(
        Severity.ERROR, gpu.subject(),
        f"MIG is enabled on GPU {gpu.index} but it has no MIG devices: CUDA cannot use this GPU",
        {f"{gpu.subject()}.mig_enabled_current": True, f"{gpu.subject()}.mig_instances": 0},
        Fix(
            summary="Create MIG instances, or disable MIG if you want the whole GPU",
            commands=(
                f"sudo nvidia-smi mig -i {gpu.index} -lgip",
                f"sudo nvidia-smi mig -i {gpu.index} -cgi PROFILE_ID -C",
                f"sudo nvidia-smi -i {gpu.index} -mig 0 && sudo nvidia-smi -r -i {gpu.index}",
            ),
            url=_links.MIG_GUIDE,
        ),
    )
