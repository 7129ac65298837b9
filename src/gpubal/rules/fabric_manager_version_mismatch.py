from ..model import Fix, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ._gpu import nvswitch_gpus


@rule("fabric-manager-version-mismatch", scope="host", area="nvlink",
      summary="On NVSwitch hosts, Fabric Manager has exactly the driver's version")
def fabric_manager_version_mismatch(snapshot: Snapshot):
    """
    What it checks
        On hosts whose GPUs sit on an NVSwitch fabric, whether the installed Fabric Manager package has
        the same version as the driver. Hosts without Fabric Manager installed pass here
        (fabric-manager-missing covers them).

    Why it matters
        NVIDIA requires Fabric Manager and the driver to be the same version: after a driver update
        without the matching Fabric Manager the service refuses to start and the GPUs stay outside the
        fabric (CUDA error 802).

    How to fix
        Install the Fabric Manager package whose version equals the driver's, and restart its service.
        Hold both packages together so that one is never upgraded without the other.

    References
        links.FABRIC_MANAGER
    """
    if not nvswitch_gpus(snapshot) or not snapshot.stack.need("fabric_manager_installed"):
        return
    fabric_manager = snapshot.stack.need("fabric_manager_version")
    driver = snapshot.driver.need("version")
    if fabric_manager == driver:
        return
    branch = driver.split(".")[0]
    yield finding(
        Severity.ERROR, "host",
        f"Fabric Manager {fabric_manager} does not match driver {driver}: it must be the same version",
        {"stack.fabric_manager_version": fabric_manager, "driver.version": driver},
        Fix(summary=f"Install Fabric Manager {driver} (package nvidia-fabricmanager-{branch}) and restart it",
            commands=(f"apt-cache policy nvidia-fabricmanager-{branch}",
                      f"sudo apt-get install nvidia-fabricmanager-{branch}",
                      "sudo systemctl restart nvidia-fabricmanager"),
            url=_links.FABRIC_MANAGER),
    )
