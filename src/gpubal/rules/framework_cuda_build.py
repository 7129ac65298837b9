from typing import Dict, Optional

from ..model import Fix, Known, PythonPackage, Severity, Snapshot, Unavailable
from . import finding, rule
from ..common import links as _links
from ..matrix import Matrix
from ._stack import major_minor, version_key

NEEDS_TORCH = ("vllm", "sglang", "torchvision", "torchaudio", "xformers", "flash-attn")


@rule("framework-cuda-build", scope="host", area="stack",
      summary="PyTorch is a CUDA build that the driver can run",
      inputs=("matrix",))
def framework_cuda_build(snapshot: Snapshot, matrix: Matrix):
    """
    What it checks
        The PyTorch build the Python environment has: that it is there when a package that needs it
        is (vLLM, torchvision, ...), that it was built with CUDA (`CUDA used to build PyTorch: None`
        or a `+cpu` version is a CPU-only build), and, when the driver's CUDA version is not known (a
        collect_env shows only the driver version), that the CUDA it was built for is one the driver
        supports, derived from the driver version through NVIDIA's CUDA-to-driver table.

    Why it matters
        A CPU-only torch never uses the GPUs: `torch.cuda.is_available()` is False and vLLM refuses to
        start. A torch built for a CUDA major newer than the driver supports fails at the first CUDA
        call with "The NVIDIA driver on your system is too old".

    How to fix
        Install the PyTorch wheel of a CUDA variant the driver supports (pytorch.org lists the index
        URL per variant), or upgrade the driver.

    References
        links.PYTORCH_INSTALL
        links.CUDA_RELEASE_NOTES
    """
    packages: Dict[str, PythonPackage] = {p.name: p for p in snapshot.stack.need("python_packages")}
    torch = packages.get("torch")
    dependents = [name for name in NEEDS_TORCH if name in packages]
    if torch is None:
        if dependents:
            yield finding(
                Severity.ERROR, "host",
                f"{', '.join(dependents)} {'is' if len(dependents) == 1 else 'are'} installed but PyTorch is not "
                "(PyTorch version: N/A): it cannot start",
                {"stack.python_packages": sorted(packages), "torch": "not installed"},
                _fix("Install a CUDA build of PyTorch", "pip install torch --index-url https://download.pytorch.org/whl/cu124"))
        return
    if torch.cuda_version == "none":
        if not snapshot.gpu_list():  # a CPU-only build on a host without NVIDIA GPUs is the right build
            return
        yield finding(
            Severity.ERROR, "host",
            f"PyTorch {torch.version} is a CPU-only build (built without CUDA): it will not use the GPUs",
            {"torch": torch.version, "CUDA used to build PyTorch": "None"},
            _fix("Replace the CPU-only PyTorch with a CUDA build",
                 "pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu124"))
        return
    if not torch.cuda_version or isinstance(snapshot.driver.cuda_driver_version, Known):
        return  # with the driver's CUDA known, cuda-runtime-exceeds-driver judges the build
    driver = snapshot.driver.need("version")
    supported = _driver_cuda(driver, matrix)
    if supported is None:
        snapshot.driver.need("cuda_driver_version")
        return
    if major_minor(torch.cuda_version) <= major_minor(supported):
        return
    newer_major = major_minor(torch.cuda_version)[0] > major_minor(supported)[0]
    yield finding(
        Severity.ERROR if newer_major else Severity.WARNING, "host",
        f"PyTorch {torch.version} is built for CUDA {torch.cuda_version}, but driver {driver} supports CUDA "
        f"{supported} at most" + (": it fails with 'The NVIDIA driver on your system is too old'" if newer_major
                                   else ": it runs under minor version compatibility only"),
        {"torch": torch.version, "built for CUDA": torch.cuda_version, "driver.version": driver,
         "CUDA the driver supports (from NVIDIA's table)": supported,
         "driver.cuda_driver_version": _why(snapshot.driver.cuda_driver_version)},
        _fix(f"Install PyTorch built for CUDA {supported} or older, or upgrade the driver",
             "nvidia-smi", "pip install torch --index-url https://download.pytorch.org/whl/cu"
             + "".join(str(part) for part in major_minor(_newest_wheel(supported)))))


def _driver_cuda(driver: str, matrix: Matrix) -> Optional[str]:
    """The newest CUDA release whose corresponding driver is not newer than this one, as "12.2"."""
    fitting = [release for release in matrix.cuda_releases
               if version_key(release.min_linux_driver) <= version_key(driver)]
    if not fitting:
        return None
    newest = max(fitting, key=lambda release: version_key(release.version))
    return "%d.%d" % major_minor(newest.version)


def _newest_wheel(cuda: str) -> str:
    """PyTorch publishes cu118, cu121, cu124, cu126, cu128, cu129, cu130 wheels: the newest not above `cuda`."""
    for wheel in ("13.0", "12.9", "12.8", "12.6", "12.4", "12.1", "11.8"):
        if major_minor(wheel) <= major_minor(cuda):
            return wheel
    return "11.8"


def _why(fact) -> str:
    return fact.describe() if isinstance(fact, Unavailable) else str(fact.value)


def _fix(summary: str, *commands: str) -> Fix:
    return Fix(summary=summary, commands=("python -c 'import torch; print(torch.__version__, torch.version.cuda)'",)
               + commands, url=_links.PYTORCH_INSTALL)
