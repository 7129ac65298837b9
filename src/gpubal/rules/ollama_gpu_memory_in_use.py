from ..model import UNKNOWN_BYTES, Fix, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ._ollama import require_ollama

IN_USE_SHARE = 0.25  # more than this share of a GPU taken before Ollama loads anything
IN_USE_MIN_BYTES = 1 << 30  # and at least this much: a desktop's display takes a few hundred MiB


@rule("ollama-gpu-memory-in-use", scope="host", area="ollama",
      summary="Ollama finds most of each GPU's memory free when it starts")
def ollama_gpu_memory_in_use(snapshot: Snapshot):
    """
    What it checks
        Each GPU as Ollama's log reports it at discovery (`inference compute ... total= available=`,
        or the debug trace's totalMem/freeMem): how much memory other processes already held.

        0.1.21 to 0.1.27 printed NVML's free memory under the label `usedMem` (gpu/gpu_info_cuda.c at
        v0.1.23 logs memInfo.free there; fixed in 0.1.28 by ollama/ollama commit fa2f2b3, "fix: print
        usedMemory size right (#2827)"). The parser reads such a line as the free memory Ollama sized loads
        by when the log names the release or its own `cuda detected N devices with XM available memory`
        line (CheckVRAM: free less 10 %, at least 1 GiB per GPU) agrees; otherwise the GPU's free memory is
        unknown and not judged.

    Why it matters
        Ollama sizes each model load to the free memory it sees. Memory held by another server (a
        second Ollama, vLLM, a notebook) shrinks what fits: layers spill to the CPU, and generation
        slows by an order of magnitude, although nvidia-smi shows a GPU that looks large enough.

    How to fix
        Find the processes holding the memory (`nvidia-smi --query-compute-apps=pid,process_name,
        used_memory --format=csv`) and stop them or move them to another GPU; or give Ollama a GPU of
        its own with CUDA_VISIBLE_DEVICES.

    References
        links.OLLAMA_FAQ
        links.OLLAMA_GPU
    """
    ollama = require_ollama(snapshot)
    for number, gpu in enumerate(ollama.need("log_gpus")):
        if not gpu.total_bytes or gpu.available_bytes > gpu.total_bytes or gpu.available_bytes == UNKNOWN_BYTES:
            continue  # the log does not say how much was free
        used = gpu.total_bytes - gpu.available_bytes
        if used < IN_USE_MIN_BYTES or used < IN_USE_SHARE * gpu.total_bytes:
            continue
        name = gpu.name or gpu.gpu_id
        yield finding(
            Severity.WARNING, "ollama",
            f"{name} ({gpu.gpu_id}) had {used / 2**30:.1f} GiB of {gpu.total_bytes / 2**30:.1f} GiB in use by "
            "other processes when Ollama looked: models get less GPU memory and may spill to the CPU",
            {"gpu": gpu.gpu_id, "name": name, "total": f"{gpu.total_bytes / 2**30:.1f} GiB",
             "available": f"{gpu.available_bytes / 2**30:.1f} GiB"},
            Fix(summary="Free the GPU memory other processes hold, or give Ollama a GPU of its own",
                commands=("nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv",),
                url=_links.OLLAMA_FAQ),
        )
