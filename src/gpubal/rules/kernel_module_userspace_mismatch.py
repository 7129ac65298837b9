from ..model import Fix, Known, Severity, Snapshot, Unavailable
from . import finding, rule
from ..common import links as _links


@rule("kernel-module-userspace-mismatch", scope="host", area="driver",
      summary="The loaded kernel module and the user-space driver library are the same version")
def kernel_module_userspace_mismatch(snapshot: Snapshot):
    """
    What it checks
        The version of the NVIDIA kernel module that is loaded (/proc/driver/nvidia/version) against
        the version of the user-space driver library (NVML). It also catches NVML refusing to start
        with "Driver/library version mismatch" (NVML_ERROR_LIB_RM_VERSION_MISMATCH). This rule was
        once called nvml-driver-library-mismatch.

    Why it matters
        After a driver upgrade without a reboot, the old module stays loaded while the new libraries
        are installed. nvidia-smi then fails with "Failed to initialize NVML: Driver/library version
        mismatch" and CUDA programs cannot start.

    How to fix
        Reboot, so that the module of the installed driver is loaded. Where a reboot is impossible,
        stop every process that uses the GPUs and reload the modules.

    References
        links.DRIVER_INSTALL
    """
    driver = snapshot.driver
    status = driver.nvml_status
    fix = Fix(
        summary="Reboot so that the kernel module of the installed driver is loaded",
        commands=("sudo reboot",),
        url=_links.DRIVER_INSTALL,
    )
    if isinstance(status, Unavailable) and "lib_rm_version_mismatch" in status.detail.lower():
        module = driver.kernel_module_version
        yield finding(
            Severity.ERROR, "host",
            "NVML refuses to start: the loaded kernel module does not match the installed driver library",
            {"driver.nvml_status": status.describe(),
             "driver.kernel_module_version": module.value if isinstance(module, Known) else module.describe()},
            fix,
        )
        return
    library = driver.need("version")
    module = driver.need("kernel_module_version")
    if library != module:
        yield finding(
            Severity.ERROR, "host",
            f"Kernel module {module} is loaded but the driver library is {library}",
            {"driver.version": library, "driver.kernel_module_version": module},
            fix,
        )
