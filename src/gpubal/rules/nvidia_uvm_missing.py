from ..model import Fix, Severity, Snapshot
from ..common import links as _links
from . import finding, rule


@rule("nvidia-uvm-missing", scope="host", area="driver",
      summary="The nvidia_uvm module is loaded and /dev/nvidia-uvm exists")
def nvidia_uvm_missing(snapshot: Snapshot):
    """
    What it checks
        That the NVIDIA Unified Memory kernel module (nvidia_uvm) is loaded and its device node
        /dev/nvidia-uvm exists, on a host where the NVIDIA driver itself answers.

    Why it matters
        CUDA needs nvidia_uvm for every context. Without it nvidia-smi works, but CUDA programs fail
        to initialise (cudaErrorUnknown, "CUDA error 999") and servers such as Ollama report no GPU and
        run on the CPU. The module is loaded on demand by nvidia-modprobe; on systems without it, or in
        containers that were not given the device node, it is missing.

    How to fix
        Load the module and create its device node: `sudo modprobe nvidia-uvm` and
        `sudo nvidia-modprobe -u -c=0`. In a container, pass /dev/nvidia-uvm in through the NVIDIA
        Container Toolkit.

    References
        links.DRIVER_INSTALL
    """
    snapshot.driver.need("nvml_status")  # without a driver, the module question does not arise
    loaded = snapshot.driver.need("uvm_module_loaded")
    present = snapshot.driver.need("uvm_device_present")
    if loaded and present:
        return
    missing = [what for what, ok in (("nvidia_uvm module", loaded), ("/dev/nvidia-uvm", present)) if not ok]
    yield finding(
        Severity.ERROR, "host",
        f"{' and '.join(missing)} missing: nvidia-smi works but CUDA programs cannot start",
        {"driver.uvm_module_loaded": loaded, "driver.uvm_device_present": present},
        Fix(
            summary="Load nvidia_uvm and create /dev/nvidia-uvm",
            commands=("sudo modprobe nvidia-uvm", "sudo nvidia-modprobe -u -c=0"),
            url=_links.DRIVER_INSTALL,
        ),
    )
