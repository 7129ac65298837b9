from ..model import Fix, Gpu, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ..matrix import Matrix
from ._ollama import require_ollama
from ._stack import matrix_lacks, version_key


@rule("ollama-gpu-unsupported", scope="gpu", area="ollama",
      summary="Ollama's official builds support this GPU's compute capability",
      inputs=("matrix",))
def ollama_gpu_unsupported(gpu: Gpu, snapshot: Snapshot, matrix: Matrix):
    """
    What it checks
        Where Ollama is installed or running, each GPU's compute capability against the lowest one
        Ollama's GPU documentation supports (5.0).

    Why it matters
        Ollama skips GPUs below its floor: models run on the CPU, or on the other GPUs only, and the
        log's "inference compute" lines leave the GPU out.

    How to fix
        Run Ollama on a supported GPU. Older GPUs need a local build of Ollama compiled for their
        architecture (Ollama's development documentation describes it).

    References
        links.OLLAMA_GPU
    """
    require_ollama(snapshot)
    compute_capability = gpu.need("compute_capability")
    current = next((r for r in matrix.ollama_requirements if r.edition == "current"), None)
    if current is None:
        matrix_lacks("Ollama's current GPU requirement", "ollama.toml")
    if version_key(compute_capability) >= version_key(current.min_compute_capability):
        return
    yield finding(
        Severity.ERROR, gpu.subject(),
        f"GPU {gpu.index} has compute capability {compute_capability}; Ollama supports "
        f"{current.min_compute_capability} and newer, so it will not use this GPU",
        {f"{gpu.subject()}.compute_capability": compute_capability,
         "ollama minimum compute capability": current.min_compute_capability},
        Fix(summary="Use a GPU of compute capability 5.0 or newer for Ollama, or build Ollama locally for this one",
            commands=("nvidia-smi --query-gpu=index,name,compute_cap --format=csv",),
            url=_links.OLLAMA_GPU),
    )
