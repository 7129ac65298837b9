from ..model import Fix, Severity, Snapshot
from . import finding, rule
from ..common import links as _links


@rule("heterogeneous-gpus", scope="host", area="gpu",
      summary="All GPUs are the same model with the same memory")
def heterogeneous_gpus(snapshot: Snapshot):
    """
    What it checks
        Whether the host mixes GPU models or memory sizes (MIG devices aside).

    Why it matters
        When a model is split across GPUs, the split follows memory and the speed follows the slowest
        GPU. Ollama and llama.cpp divide layers in proportion to each GPU's free memory, so a small GPU
        gets fewer layers but the pipeline still waits for the slowest card. Tensor-parallel engines
        (vLLM, SGLang) shard evenly and are bounded by the smallest GPU's memory. A mixed host is fine
        for one model per GPU, and a trap for one model across all of them.

    How to fix
        Split models across GPUs of one kind; give a different model, or a separate server, to the
        odd GPU, selected with CUDA_VISIBLE_DEVICES.

    References
        links.OLLAMA_GPU
    """
    gpus = snapshot.gpu_list()
    models = {gpu.index: gpu.need("name") for gpu in gpus}
    memory = {gpu.index: gpu.need("memory_total_bytes") for gpu in gpus}
    if len(set(models.values())) <= 1 and len(set(memory.values())) <= 1:
        return
    described = ", ".join(
        f"GPU {index}: {models[index]} {memory[index] / 2**30:.0f} GiB" for index in sorted(models))
    yield finding(
        Severity.INFO, "host",
        f"The GPUs differ ({described}): a model split across them runs at the pace of the slowest",
        {**{f"gpu:{index}.name": name for index, name in sorted(models.items())},
         **{f"gpu:{index}.memory_total_bytes": size for index, size in sorted(memory.items())}},
        Fix(
            summary="Split models across identical GPUs; give the odd GPU its own model or server",
            commands=("CUDA_VISIBLE_DEVICES=GPU-UUID-1,GPU-UUID-2 ollama serve", "nvidia-smi -L"),
            url=_links.OLLAMA_GPU,
        ),
    )
