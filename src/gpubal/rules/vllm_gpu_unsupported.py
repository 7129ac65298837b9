from ..model import FactMissing, Fix, Gpu, Known, NotApplicable, Reason, Severity, Snapshot, Unavailable
from . import finding, rule
from ..common import links as _links
from ..matrix import Matrix, compute_capability_for_name, vllm_compute_capability_floor
from ._stack import matrix_lacks, version_key


@rule("vllm-gpu-unsupported", scope="gpu", area="stack",
      summary="vLLM's CUDA builds support this GPU's compute capability",
      inputs=("matrix",))
def vllm_gpu_unsupported(gpu: Gpu, snapshot: Snapshot, matrix: Matrix):
    """
    What it checks
        Where vLLM is installed, each GPU's compute capability against the floor vLLM's installation
        documentation states for NVIDIA GPUs at the installed release: 7.0 or higher through the 0.14
        docs (V100, T4, RTX 20xx and newer), 7.5 or higher in the 0.21 docs (T4, RTX 20xx and newer; no
        V100). A release between the two is judged only where both floors agree. When the dump shows
        only the GPU's name (an nvidia-smi table), its compute capability is taken from NVIDIA's CUDA
        GPUs pages, and a name those pages do not list is not evaluated.

    Why it matters
        vLLM's prebuilt wheels carry no kernels for older GPUs: it fails at start or at the first kernel
        launch ("no kernel image is available for execution on the device").

    How to fix
        Serve on a GPU at or above the floor of the installed vLLM release, or use an engine that
        supports the older GPU (Ollama supports 5.0 and newer).

    References
        links.VLLM_GPU_INSTALL
        links.VLLM_GPU_REQUIREMENTS_0_21
        links.NVIDIA_CUDA_GPUS
        links.OLLAMA_GPU
    """
    packages = snapshot.stack.need("python_packages")
    vllm = next((package for package in packages if package.name == "vllm"), None)
    if vllm is None:
        raise NotApplicable("vLLM is not installed in the Python environment read")
    compute_capability, evidence = _compute_capability(gpu, matrix)
    lowest, highest = vllm_compute_capability_floor(matrix, vllm.version)
    if lowest is None or highest is None:
        matrix_lacks("vLLM's compute capability floor", "compute_capability.toml")
    if version_key(compute_capability) >= version_key(highest.min_compute_capability):
        return
    if version_key(compute_capability) >= version_key(lowest.min_compute_capability):
        raise FactMissing(f"vLLM {vllm.version}'s compute capability floor", Unavailable(
            Reason.NOT_FOUND, "matrix/data/compute_capability.toml",
            f"vLLM {lowest.documented_in} documents {lowest.min_compute_capability} and {highest.documented_in} "
            f"documents {highest.min_compute_capability}; which one {vllm.version} needs is not known, and this "
            f"GPU's {compute_capability} lies between them"))
    floor = lowest  # at least this floor holds for the installed release (the exact one where both agree)
    yield finding(
        Severity.ERROR, gpu.subject(),
        f"GPU {gpu.index} has compute capability {compute_capability}; vLLM {vllm.version} needs "
        f"{floor.min_compute_capability} or newer, so it cannot serve on this GPU",
        {**evidence, "vllm version": vllm.version,
         "vllm minimum compute capability": floor.min_compute_capability,
         "vllm minimum compute capability source": floor.source},
        Fix(summary=f"Serve vLLM on GPUs of compute capability {highest.min_compute_capability} or newer, or use "
                    "Ollama on this GPU",
            commands=("nvidia-smi --query-gpu=index,name,compute_cap --format=csv",),
            url=_links.VLLM_GPU_INSTALL),
    )


def _compute_capability(gpu: Gpu, table: Matrix):
    """The GPU's compute capability and the evidence for it: read from the host, or else looked up by
    name in NVIDIA's table (a pasted nvidia-smi table shows names only)."""
    if isinstance(gpu.compute_capability, Known):
        value = gpu.compute_capability.value
        return value, {f"{gpu.subject()}.compute_capability": value}
    if isinstance(gpu.name, Known):
        found = compute_capability_for_name(table, gpu.name.value)
        if found is not None:
            value, listed, row = found
            return value, {f"{gpu.subject()}.name": gpu.name.value,
                           f"{gpu.subject()}.compute_capability (NVIDIA lists {listed})": value,
                           "compute capability source": row.source}
    return gpu.need("compute_capability"), {}
