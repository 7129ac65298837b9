from ..model import Fix, Severity, Snapshot, Unavailable
from . import finding, rule
from ..common import links as _links

# How the dump readers (doctor/ingest/smi_table.py, smi_query.py) begin the detail of driver.cuda_driver_version
# when nvidia-smi printed "CUDA Version: N/A": NVML answered, so the driver is there, but no libcuda could be
# loaded to say which CUDA it supports.
CUDA_NA = "CUDA Version: N/A"


@rule("libcuda-unusable", scope="host", area="driver",
      summary="The driver's CUDA library (libcuda) can be loaded where nvidia-smi runs")
def libcuda_unusable(snapshot: Snapshot):
    """
    What it checks
        Whether nvidia-smi could name the CUDA version of the driver. It prints `CUDA Version: N/A`
        when NVML works but libcuda.so cannot be loaded: the typical case is a container started
        without the `compute` driver capability, so the runtime mounted nvidia-smi and NVML
        (`utility`) but not libcuda.

    Why it matters
        Without libcuda no CUDA program starts: PyTorch reports `torch.cuda.is_available() == False`,
        vLLM and Ollama fall back to the CPU or fail, although nvidia-smi lists the GPUs.

    How to fix
        Start the container with the compute capability (`--gpus all` sets it with the NVIDIA
        Container Toolkit; or set NVIDIA_DRIVER_CAPABILITIES=compute,utility). On a bare host,
        reinstall the driver's user-space libraries so that libcuda.so.1 is on the loader path.

    References
        links.CONTAINER_CAPABILITIES
    """
    cuda = snapshot.driver.cuda_driver_version
    if not (isinstance(cuda, Unavailable) and cuda.detail.startswith(CUDA_NA)):
        snapshot.driver.need("cuda_driver_version")  # unknown for another reason: not evaluated
        return
    yield finding(
        Severity.ERROR, "host",
        "nvidia-smi prints CUDA Version: N/A: NVML works but libcuda cannot be loaded, so no CUDA program can "
        "use the GPUs here (a container without the compute capability, or a broken driver install)",
        {"driver.cuda_driver_version": cuda.describe()},
        Fix(summary="Give the container the compute driver capability (or reinstall the driver's libraries)",
            commands=("docker run --rm --gpus all -e NVIDIA_DRIVER_CAPABILITIES=compute,utility "
                      "nvidia/cuda:12.4.1-base-ubuntu22.04 nvidia-smi", "ldconfig -p | grep libcuda.so"),
            url=_links.CONTAINER_CAPABILITIES),
    )
