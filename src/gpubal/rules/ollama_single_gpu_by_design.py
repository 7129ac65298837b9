from ..model import Fix, Severity, Snapshot, Unavailable, value_or
from . import finding, rule
from ..common import links as _links
from ._ollama import edit_unit, require_ollama, setting, truthy

GIB = 1 << 30


@rule("ollama-single-gpu-by-design", scope="host", area="ollama",
      summary="A model that fits one GPU stays on one GPU unless OLLAMA_SCHED_SPREAD=1 (advice)")
def ollama_single_gpu_by_design(snapshot: Snapshot):
    """
    What it checks
        On hosts with more than one GPU, whether Ollama keeps a model on a single GPU: the log's
        offload line splits the layers over one GPU only, or a loaded model's VRAM fits in one GPU.
        It passes when OLLAMA_SCHED_SPREAD is set. This is advice, not a fault.

    Why it matters
        Ollama's FAQ: a model that fits entirely on any single GPU is loaded on that GPU, which
        "typically provides the best performance as it reduces the amount of data transferring across
        the PCI bus". The other GPUs stay idle for that model. OLLAMA_SCHED_SPREAD=1 spreads every model
        over all GPUs: more memory for context and parallel requests, but Ollama splits layers (each
        GPU runs its layers in turn), so one request does not get faster. Ollama has no tensor
        parallelism.

    How to fix
        For more throughput, run one Ollama server per GPU (CUDA_VISIBLE_DEVICES=<GPU UUID> and its own
        OLLAMA_HOST port each) behind a load balancer. To give one model all GPUs' memory, set
        OLLAMA_SCHED_SPREAD=1. For tensor parallelism use an engine that has it, such as vLLM or SGLang
        (`--tensor-parallel-size`).

    References
        links.OLLAMA_FAQ
    """
    ollama = require_ollama(snapshot)
    gpus = snapshot.gpu_list()
    if len(gpus) < 2:
        return
    spread, _ = setting(ollama, "OLLAMA_SCHED_SPREAD")
    if truthy(spread):
        return
    offloads, models = ollama.log_offloads, ollama.running_models
    if isinstance(offloads, Unavailable) and isinstance(models, Unavailable):
        ollama.need("running_models")
    smallest_gpu = min(value_or(gpu.memory_total_bytes, 0) for gpu in gpus)
    evidence = {}
    last = value_or(offloads, [])[-1:] if value_or(offloads, []) else []
    if last and len(last[0].layers_split) == 1 and last[0].layers_on_gpu > 0:
        evidence["log offload layers.split"] = list(last[0].layers_split)
    fitting = [m for m in value_or(models, []) if 0 < m.size_vram_bytes <= smallest_gpu]
    if fitting:
        evidence["models that fit one GPU"] = {m.name: f"{m.size_vram_bytes / GIB:.1f} GiB" for m in fitting}
    if not evidence:
        return
    evidence["GPUs"] = len(gpus)
    uuids = [value_or(gpu.uuid, str(gpu.index)) for gpu in gpus]
    servers = tuple(f"CUDA_VISIBLE_DEVICES={uuid} OLLAMA_HOST=127.0.0.1:{11434 + i} ollama serve"
                    for i, uuid in enumerate(uuids))
    yield finding(
        Severity.INFO, "ollama",
        f"Ollama keeps each model that fits one GPU on one of the {len(gpus)} GPUs; the others stay idle for it "
        f"(OLLAMA_SCHED_SPREAD is not set)",
        evidence,
        Fix(summary="For throughput, run one Ollama server per GPU behind a load balancer; to spread one model "
                    "over all GPUs set OLLAMA_SCHED_SPREAD=1 (layer split, not tensor parallelism)",
            commands=servers + (edit_unit('Environment="OLLAMA_SCHED_SPREAD=1"'), "sudo systemctl restart ollama"),
            url=_links.OLLAMA_FAQ),
    )
