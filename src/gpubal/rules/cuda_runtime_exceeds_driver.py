from typing import Dict, List

from ..model import Fix, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ..matrix import Matrix, min_driver_for_cuda, minor_compat
from ._stack import CudaUse, cuda_uses, major_minor, matrix_lacks, version_key


@rule("cuda-runtime-exceeds-driver", scope="host", area="stack",
      summary="No CUDA runtime, toolkit or framework build is newer than the driver supports",
      inputs=("matrix",))
def cuda_runtime_exceeds_driver(snapshot: Snapshot, matrix: Matrix):
    """
    What it checks
        Every CUDA version something on the host uses (each toolkit under /usr/local, each libcudart
        the loader or a wheel provides, and the CUDA a framework was built for, e.g. torch's
        `+cu130`) against the highest CUDA the driver supports (`nvidia-smi` prints it as "CUDA
        Version"). Copies that Ollama bundles are left out while one of them fits the driver: Ollama
        picks the bundled runtime the driver supports.

    Why it matters
        A runtime of a newer CUDA major than the driver does not start: CUDA calls fail with
        cudaErrorInsufficientDriver ("CUDA driver version is insufficient for CUDA runtime version").
        Inside one major, CUDA minor version compatibility lets it run on an older driver of the same
        family, with a limited feature set: PTX that needs JIT compilation fails with
        cudaErrorUnsupportedPtxVersion, and calls that need newer driver features return
        cudaErrorCallRequiresNewerDriver. Below the family's minor-version-compatibility floor it does
        not run at all.

    How to fix
        Upgrade the driver to at least the one NVIDIA released with that CUDA version, or install a
        build of the program for the CUDA version the driver supports (for PyTorch, pick the matching
        CUDA variant on pytorch.org).

    References
        links.CUDA_COMPATIBILITY
        links.CUDA_RELEASE_NOTES
    """
    driver_cuda = snapshot.driver.need("cuda_driver_version")
    driver_version = snapshot.driver.need("version")
    uses = cuda_uses(snapshot.stack)
    ollama_uses = [use for use in uses if use.origin == "ollama"]
    if any(major_minor(use.version) <= major_minor(driver_cuda) for use in ollama_uses):
        uses = [use for use in uses if use.origin != "ollama"]
    newer: Dict[str, List[CudaUse]] = {}
    for use in uses:
        if major_minor(use.version) > major_minor(driver_cuda):
            newer.setdefault("%d.%d" % major_minor(use.version), []).append(use)
    for cuda, found in sorted(newer.items(), key=lambda item: major_minor(item[0])):
        major = major_minor(cuda)[0]
        wanted = min_driver_for_cuda(matrix, max((use.version for use in found), key=version_key))
        evidence = {"driver.cuda_driver_version": driver_cuda, "driver.version": driver_version,
                    f"CUDA {cuda} used by": [use.what for use in found]}
        if major > major_minor(driver_cuda)[0]:
            severity = Severity.ERROR
            why = (f"a CUDA {major} runtime does not start on a driver for CUDA {driver_cuda}: CUDA calls fail "
                   f"with cudaErrorInsufficientDriver")
        else:
            floor = minor_compat(matrix, major)
            if floor is None:
                matrix_lacks(f"minor version compatibility of CUDA {major}.x", "cuda_driver.toml")
            evidence[f"CUDA {major}.x minor-version-compatibility floor"] = floor.min_linux_driver
            if version_key(driver_version) < version_key(floor.min_linux_driver):
                severity = Severity.ERROR
                why = (f"the driver is below CUDA {major}.x's minor-version-compatibility floor "
                       f"({floor.min_linux_driver}), so it does not run")
            else:
                severity = Severity.WARNING
                why = ("it runs under minor version compatibility only: PTX JIT fails "
                       "(cudaErrorUnsupportedPtxVersion) and newer driver features return "
                       "cudaErrorCallRequiresNewerDriver")
        if wanted:
            evidence[f"driver released with CUDA {cuda}"] = wanted
        yield finding(
            severity, "host",
            f"CUDA {cuda} is in use ({found[0].what}{' and more' if len(found) > 1 else ''}) but the driver "
            f"{driver_version} supports CUDA {driver_cuda}: {why}",
            evidence,
            Fix(
                summary=(f"Upgrade the driver to {wanted} or newer" if wanted else "Upgrade the driver")
                        + f", or use builds for CUDA {driver_cuda}",
                commands=("nvidia-smi --query-gpu=driver_version --format=csv,noheader", "nvidia-smi"),
                url=_links.CUDA_COMPATIBILITY,
            ),
        )
