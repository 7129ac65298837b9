from typing import List

from ..model import Fix, Gpu, Severity, Snapshot
from . import finding, rule
from ..matrix import Matrix, arch_for_compute_capability, cuda_supports_compute_capability
from ._stack import cuda_uses, matrix_lacks


@rule("gpu-arch-unsupported-by-cuda", scope="gpu", area="stack",
      summary="Every CUDA version in use can target this GPU's compute capability",
      inputs=("matrix",))
def gpu_arch_unsupported_by_cuda(gpu: Gpu, snapshot: Snapshot, matrix: Matrix):
    """
    What it checks
        The GPU's compute capability against every CUDA version used on the host (toolkits, libcudart
        copies, frameworks' CUDA builds), using the compatibility matrix: the first CUDA release that
        supports the architecture and the release that removed it (Kepler in 12.0; Maxwell, Pascal and
        Volta in 13.0; Ada and Hopper from 11.8; Blackwell from 12.8). Ollama's bundled runtimes are
        left out: Ollama picks the one that fits the GPU.

    Why it matters
        A CUDA release that cannot compile for the GPU ships no code for it: kernels fail with "no
        kernel image is available for execution on the device" (cudaErrorNoKernelImageForDevice), or a
        framework refuses the GPU at start.

    How to fix
        Use a CUDA version that supports the GPU: for a removed architecture, the last CUDA line that
        still targets it (for example a PyTorch build for CUDA 12.x on a Volta GPU); for a new GPU, a
        CUDA release at least as new as the first one that supports it.

    References
        links.CUDA_RELEASE_NOTES
        links.NVIDIA_CUDA_GPUS
    """
    compute_capability = gpu.need("compute_capability")
    arch = arch_for_compute_capability(matrix, compute_capability)
    if arch is None:
        matrix_lacks(f"compute capability {compute_capability}", "gpu_arch_cuda.toml")
    unsupported: List[str] = []
    versions_seen = set()
    for use in cuda_uses(snapshot.stack):
        if use.origin == "ollama" or use.version in versions_seen:
            continue
        versions_seen.add(use.version)
        if cuda_supports_compute_capability(matrix, use.version, compute_capability) is False:
            unsupported.append(use.what)
    if not unsupported:
        return
    if arch.removed_in:
        advice = f"use CUDA {arch.last_cuda} or older for {arch.arch} (support was removed in CUDA {arch.removed_in})"
    else:
        advice = f"use CUDA {arch.first_cuda} or newer for {arch.arch}"
    yield finding(
        Severity.ERROR, gpu.subject(),
        f"GPU {gpu.index} ({arch.arch}, compute capability {compute_capability}) is not supported by "
        f"{'; '.join(unsupported)}: {advice}",
        {f"{gpu.subject()}.compute_capability": compute_capability, "architecture": arch.arch,
         "CUDA without support": unsupported,
         "first CUDA": arch.first_cuda or "unknown", "removed in CUDA": arch.removed_in or "not removed"},
        Fix(
            summary=advice[0].upper() + advice[1:],
            commands=("nvidia-smi --query-gpu=index,name,compute_cap --format=csv",),
            url=arch.source,
        ),
    )
