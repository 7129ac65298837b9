from ..model import Fix, Known, Reason, Severity, Snapshot, need
from . import finding, rule
from ..common import links as _links


@rule("no-nvidia-driver", scope="host", area="driver",
      summary="The NVIDIA driver (kernel module and NVML library) is installed and answers")
def no_nvidia_driver(snapshot: Snapshot):
    """
    What it checks
        Whether NVML, the management library that ships with the NVIDIA driver, starts. NVML is
        what nvidia-smi, CUDA's device enumeration and every inference server rely on.

    Why it matters
        Without a loaded driver no GPU is usable: CUDA reports no device and servers such as Ollama
        fall back to the CPU, silently and many times slower.

    How to fix
        Install the NVIDIA driver for your distribution and reboot. When the kernel module is loaded but
        the library is missing, install the user-space part of the same driver version. Inside a
        container, the host's driver is mounted in by the NVIDIA Container Toolkit: start the container
        with `--gpus all` (Docker) or the equivalent device request of your orchestrator.

    References
        links.DRIVER_INSTALL
        links.CONTAINER_TOOLKIT
    """
    status = snapshot.driver.nvml_status
    if isinstance(status, Known):
        return
    if status.reason is not Reason.NOT_FOUND:
        # NVML exists but failed (timeout, permissions, module mismatch): whether the driver answers
        # cannot be told, so not evaluated rather than passed; other rules say why it failed
        need(status, "driver.nvml_status")
    container = snapshot.host.container
    in_container = isinstance(container, Known) and container.value != "none"
    module = snapshot.driver.kernel_module_version
    evidence = {
        "driver.nvml_status": status.describe(),
        "driver.kernel_module_version": module.value if isinstance(module, Known) else module.describe(),
        "host.container": container.value if isinstance(container, Known) else container.describe(),
    }
    if in_container:
        fix = Fix(
            summary="Give the container the host's GPUs through the NVIDIA Container Toolkit",
            commands=("docker run --gpus all IMAGE nvidia-smi",),
            url=_links.CONTAINER_TOOLKIT,
        )
        message = "No NVIDIA driver is visible inside this container: NVML cannot be loaded"
    elif isinstance(module, Known):
        fix = Fix(
            summary=f"Install the driver's user-space libraries of the same version as the module ({module.value})",
            commands=("ldconfig -p | grep libnvidia-ml", "cat /proc/driver/nvidia/version"),
            url=_links.DRIVER_INSTALL,
        )
        message = (f"The NVIDIA kernel module {module.value} is loaded, but its user-space library "
                   "(libnvidia-ml.so.1) cannot be loaded: no GPU can be used")
    else:
        fix = Fix(
            summary="Install the NVIDIA driver for this distribution, then reboot",
            commands=("lspci -nn | grep -i nvidia", "sudo ubuntu-drivers install  # Ubuntu; other distributions: see the guide"),
            url=_links.DRIVER_INSTALL,
        )
        message = "No NVIDIA driver: NVML cannot be loaded, so no GPU can be used"
    yield finding(Severity.ERROR, "host", message, evidence, fix)
