from ..model import Fix, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ._ollama import require_ollama

# CUresult numbers cuInit returns, as the CUDA Driver API documents them, and the usual next step
MEANINGS = {
    "3": ("CUDA_ERROR_NOT_INITIALIZED: the driver could not be initialized",
          "Check `dmesg` for NVIDIA errors; on some hosts the nvidia_uvm module needs reloading"),
    "35": ("CUDA_ERROR_INSUFFICIENT_DRIVER: the driver is older than the CUDA runtime needs",
           "Upgrade the NVIDIA driver"),
    "100": ("CUDA_ERROR_NO_DEVICE: the driver sees no CUDA-capable GPU in this process",
            "Check that the GPUs are passed to the container and that CUDA_VISIBLE_DEVICES names them"),
    "304": ("CUDA_ERROR_OPERATING_SYSTEM: an OS call failed (often /dev/nvidia* or nvidia_uvm missing)",
            "Check that /dev/nvidia-uvm exists and that the nvidia_uvm module is loaded"),
    "802": ("CUDA_ERROR_SYSTEM_NOT_READY (cudaErrorSystemNotReady): the system is not ready for CUDA work; on "
            "NVSwitch hosts (HGX/DGX) Fabric Manager has not initialized the fabric",
            "Install nvidia-fabricmanager of exactly the driver's version and start it"),
    "803": ("CUDA_ERROR_SYSTEM_DRIVER_MISMATCH: the CUDA driver library does not match the kernel driver",
            "Reinstall the driver so that libcuda and the kernel module have one version, or reboot"),
    "804": ("CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE: a forward-compatibility libcuda was loaded on a GPU "
            "that does not support it", "Remove the cuda-compat libcuda from the loader path"),
    "999": ("CUDA_ERROR_UNKNOWN", "Check `dmesg` for NVIDIA errors and reboot if the driver was upgraded"),
}


@rule("ollama-cuda-init-failed", scope="host", area="ollama",
      summary="Ollama's GPU discovery initialized CUDA (cuInit did not fail)")
def ollama_cuda_init_failed(snapshot: Snapshot):
    """
    What it checks
        The failures Ollama's log records when it initializes CUDA to discover GPUs: `cuInit err: 802`,
        `cuda driver library init failure: 802`, `cuInit failed: 802`, and `ggml_cuda_init: failed to
        initialize CUDA: system not yet initialized`. The error number is named after the CUDA Driver
        API's CUresult.

    Why it matters
        When cuInit fails Ollama sees no GPU and runs every model on the CPU. The number says why: 802
        (system not ready) on an NVSwitch host means Fabric Manager is not running; 803 a libcuda that
        does not match the kernel module; 100 no GPU visible to the process.

    How to fix
        Follow the step named for the error. For 802 on HGX/DGX hosts, install the Fabric Manager
        package of exactly the driver's version and start nvidia-fabricmanager; then restart Ollama.

    References
        links.CUDA_DRIVER_ERRORS
        links.FABRIC_MANAGER
        links.OLLAMA_GPU
    """
    ollama = require_ollama(snapshot)
    events = [event for event in ollama.need("log_events") if event.kind == "cuda_init_failed"]
    for event in events[:1] + [e for e in events[1:] if e.code != events[0].code]:
        # a line without an error number (the driver library could not be loaded at all) says what it says
        unnumbered = ("the log names no CUDA error number; its line says why", "")
        meaning, step = MEANINGS.get(event.code, ("an error the CUDA Driver API lists under this number", "")) \
            if event.code else unnumbered
        commands = ("systemctl status nvidia-fabricmanager", "nvidia-smi -q | grep -A2 Fabric",
                    "sudo systemctl enable --now nvidia-fabricmanager", "sudo systemctl restart ollama") \
            if event.code == "802" else ("nvidia-smi", "sudo dmesg | grep -i nvrm", "sudo systemctl restart ollama")
        yield finding(
            Severity.ERROR, "ollama",
            (f"Ollama could not initialize CUDA (error {event.code}: {meaning}); it runs on the CPU" if event.code else
             f"Ollama could not initialize CUDA ({meaning}); it runs on the CPU"),
            {"ollama.log_events": event.line, "error": event.code or "none printed", "meaning": meaning},
            Fix(summary=(step or "Check the driver and the GPUs the process can see") + ", then restart Ollama",
                commands=commands,
                url=_links.FABRIC_MANAGER if event.code == "802" else _links.CUDA_DRIVER_ERRORS),
        )
