from ..model import Fix, Severity, Snapshot, value_or
from . import finding, rule
from ..common import links as _links
from ._gpu import fabric_ready, nvswitch_gpus


@rule("fabric-manager-missing", scope="host", area="nvlink",
      summary="On NVSwitch hosts, Fabric Manager is installed and running")
def fabric_manager_missing(snapshot: Snapshot):
    """
    What it checks
        On hosts whose GPUs sit on an NVSwitch fabric (NVML reports a fabric state other than "not
        supported") and have not all joined it with success, whether the nvidia-fabricmanager service
        is installed and running. Once every GPU reports the fabric completed with success, Fabric
        Manager has done its work wherever it runs (the host, a service VM, or a container of the GPU
        Operator, whose binary is not on the host's disk), and the rule passes.

    Why it matters
        On NVSwitch systems (HGX, DGX) the GPUs cannot run CUDA work until Fabric Manager has set up the
        fabric: CUDA programs fail with error 802 "system not yet initialized".

    How to fix
        Install the Fabric Manager package of exactly the driver's version and enable its service.

    References
        links.FABRIC_MANAGER
    """
    gpus = nvswitch_gpus(snapshot)
    if not gpus:
        return
    if fabric_ready(gpus):
        return
    running = snapshot.stack.need("fabric_manager_running")
    if running:
        return
    installed = snapshot.stack.need("fabric_manager_installed")
    branch = snapshot.driver.need("version").split(".")[0]
    yield finding(
        Severity.ERROR, "host",
        f"{len(gpus)} GPUs are on an NVSwitch fabric but Fabric Manager is "
        + ("not running" if installed else "not installed"),
        {"stack.fabric_manager_installed": installed, "stack.fabric_manager_running": running,
         "NVSwitch GPUs": [gpu.subject() for gpu in gpus],
         "fabric states": sorted({value_or(gpu.fabric_state, "unknown") for gpu in gpus})},
        Fix(summary="Install Fabric Manager of the driver's exact version and start it",
            commands=((f"sudo apt-get install nvidia-fabricmanager-{branch}",) if not installed else ())
                     + ("sudo systemctl enable --now nvidia-fabricmanager",),
            url=_links.FABRIC_MANAGER),
    )
