from ..model import Fix, Gpu, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ._gpu import need_feature


@rule("nvswitch-fabric-not-ready", scope="gpu", area="nvlink",
      summary="On NVSwitch systems, the GPU has joined the NVLink fabric")
def nvswitch_fabric_not_ready(gpu: Gpu, snapshot: Snapshot):
    """
    What it checks
        NVML's fabric state for GPUs on an NVSwitch fabric (HGX boards): whether the GPU finished
        registering with the fabric and whether that succeeded. GPUs without a fabric report "not
        supported" and pass.

    Why it matters
        On an NVSwitch system a GPU is not usable until Fabric Manager has set up the fabric. Until
        then every CUDA program fails with error 802, "system not yet initialized"
        (cudaErrorSystemNotReady), and Ollama or PyTorch see no usable GPU.

    How to fix
        Install the Fabric Manager package of exactly the driver's version, enable and start its
        service, and read its log if the state stays "in progress" or fails. In a VM with GPUs passed
        through, Fabric Manager runs where the NVSwitches are (the host or a service VM).

    References
        links.FABRIC_MANAGER
    """
    state = need_feature(gpu, "fabric_state", "NVSwitch fabric")
    if state == "not_supported":
        return
    status = gpu.need("fabric_status") if state == "completed" else "n/a"
    if state == "completed" and status == "success":
        return
    if state == "completed":
        message = f"GPU {gpu.index} fabric registration completed with an error ({status})"
    else:
        message = f"GPU {gpu.index} has not joined the NVSwitch fabric (state: {state.replace('_', ' ')}): CUDA fails with error 802"
    evidence = {f"{gpu.subject()}.fabric_state": state}
    if state == "completed":
        evidence[f"{gpu.subject()}.fabric_status"] = status
    yield finding(
        Severity.ERROR, gpu.subject(), message, evidence,
        Fix(
            summary="Start Fabric Manager (same version as the driver) and check its log",
            commands=("sudo systemctl enable --now nvidia-fabricmanager", "sudo journalctl -u nvidia-fabricmanager"),
            url=_links.FABRIC_MANAGER,
        ),
    )
