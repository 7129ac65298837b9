from ..model import Fix, Gpu, NotApplicable, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ._stack import version_key

VLLM_MIN_COMPUTE_CAPABILITY = "7.0"  # vLLM's GPU installation page: "compute capability 7.0 or higher"


@rule("vllm-gpu-unsupported", scope="gpu", area="stack",
      summary="vLLM's CUDA builds support this GPU's compute capability")
def vllm_gpu_unsupported(gpu: Gpu, snapshot: Snapshot):
    """
    What it checks
        Where vLLM is installed, each GPU's compute capability against the floor vLLM's installation
        documentation states for NVIDIA GPUs: compute capability 7.0 or higher (V100, T4, RTX 20xx and
        newer).

    Why it matters
        vLLM's prebuilt wheels carry no kernels for older GPUs (Pascal, Maxwell): it fails at start
        or at the first kernel launch ("no kernel image is available for execution on the device").

    How to fix
        Serve on a GPU of compute capability 7.0 or newer, or use an engine that supports the older
        GPU (Ollama supports 5.0 and newer).

    References
        links.VLLM_GPU_INSTALL
        links.OLLAMA_GPU
    """
    packages = snapshot.stack.need("python_packages")
    if not any(package.name == "vllm" for package in packages):
        raise NotApplicable("vLLM is not installed in the Python environment read")
    compute_capability = gpu.need("compute_capability")
    if version_key(compute_capability) >= version_key(VLLM_MIN_COMPUTE_CAPABILITY):
        return
    yield finding(
        Severity.ERROR, gpu.subject(),
        f"GPU {gpu.index} has compute capability {compute_capability}; vLLM supports "
        f"{VLLM_MIN_COMPUTE_CAPABILITY} and newer, so it cannot serve on this GPU",
        {f"{gpu.subject()}.compute_capability": compute_capability,
         "vllm minimum compute capability": VLLM_MIN_COMPUTE_CAPABILITY},
        Fix(summary="Serve vLLM on GPUs of compute capability 7.0 or newer, or use Ollama on this GPU",
            commands=("nvidia-smi --query-gpu=index,name,compute_cap --format=csv",),
            url=_links.VLLM_GPU_INSTALL),
    )
