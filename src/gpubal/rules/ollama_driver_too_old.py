from ..model import Fix, Known, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ..matrix import Matrix, ollama_min_driver
from ._ollama import require_ollama
from ._stack import matrix_lacks, version_key


@rule("ollama-driver-too-old", scope="host", area="ollama",
      summary="The NVIDIA driver is new enough for Ollama on these GPUs",
      inputs=("matrix",))
def ollama_driver_too_old(snapshot: Snapshot, matrix: Matrix):
    """
    What it checks
        Where Ollama is installed or running, the driver version against the floor Ollama's GPU
        documentation gives for each GPU's compute capability (currently 550, and 570 for compute
        capability 5.0 to 6.2; an earlier edition said 531).

    Why it matters
        Below its floor Ollama's CUDA runners do not load and Ollama falls back to the CPU, which is
        many times slower; older releases log "old CUDA driver detected - please upgrade to a newer
        driver".

    How to fix
        Upgrade the NVIDIA driver to at least the floor, then restart Ollama.

    References
        links.OLLAMA_GPU
    """
    ollama = require_ollama(snapshot)
    driver = snapshot.driver.need("version")
    editions = {requirement.edition: requirement for requirement in matrix.ollama_requirements}
    if "current" not in editions:
        matrix_lacks("Ollama's current driver requirement", "ollama.toml")
    worst = None
    for gpu in snapshot.gpu_list():
        floor = ollama_min_driver(editions["current"], gpu.need("compute_capability"))
        if version_key(driver) < version_key(floor) and (worst is None or version_key(floor) > version_key(worst[1])):
            worst = (gpu, floor)
    if worst is None:
        return
    gpu, floor = worst
    earlier = editions.get("earlier")
    below_all = earlier is None or version_key(driver) < version_key(
        ollama_min_driver(earlier, gpu.need("compute_capability")))
    # a log in which Ollama listed CUDA GPUs shows that the release which wrote it ran on this driver (older
    # releases bundled CUDA 11 runners): only a newer Ollama would need the newer driver
    used = isinstance(ollama.log_gpus, Known) and any(g.library.lower() == "cuda" for g in ollama.log_gpus.value)
    yield finding(
        Severity.INFO if used else Severity.ERROR if below_all else Severity.WARNING, "host",
        f"Driver {driver} is below the {floor} Ollama requires for {value_name(gpu)}: "
        + ("the Ollama that wrote the log used the GPU, but current releases need the newer driver" if used
           else "Ollama may fall back to the CPU"),
        {"driver.version": driver, "ollama minimum driver": floor,
         f"{gpu.subject()}.compute_capability": gpu.need("compute_capability"),
         "ollama docs": editions["current"].wording},
        Fix(summary=f"Upgrade the driver to {floor} or newer, then restart Ollama",
            commands=("nvidia-smi --query-gpu=driver_version --format=csv,noheader", "sudo systemctl restart ollama"),
            url=_links.OLLAMA_GPU),
    )


def value_name(gpu) -> str:
    return f"GPU {gpu.index} (compute capability {gpu.need('compute_capability')})"
