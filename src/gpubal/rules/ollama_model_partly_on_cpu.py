from ..model import Fix, Known, Severity, Snapshot, Unavailable
from . import finding, rule
from ..common import links as _links
from ._ollama import edit_unit, require_ollama, settings

GIB = 1 << 30
TUNING = ("OLLAMA_CONTEXT_LENGTH", "OLLAMA_NUM_PARALLEL", "OLLAMA_FLASH_ATTENTION", "OLLAMA_KV_CACHE_TYPE",
          "OLLAMA_GPU_OVERHEAD")


@rule("ollama-model-partly-on-cpu", scope="host", area="ollama",
      summary="Every model Ollama has loaded sits entirely in GPU memory")
def ollama_model_partly_on_cpu(snapshot: Snapshot):
    """
    What it checks
        Each model the Ollama server has loaded (GET /api/ps): whether `size_vram` is less than `size`,
        i.e. part of the model is in system memory and its layers run on the CPU. It names the model,
        how many GiB are on the CPU, and the settings that decide the fit. Without the server's answer
        (a pasted log, a server that is down), the log's model loads are read instead: a load that put
        fewer layers on GPUs than the model has (`layers.offload` < `layers.model`, or llama.cpp's
        `offloaded N/M layers to GPU`) left the rest on the CPU.

    Why it matters
        Layers on the CPU make every token wait for the CPU: generation is often several times slower
        than with the whole model on GPUs. The memory a model needs is its weights plus the KV cache,
        which grows with the context length and with the number of parallel requests
        (OLLAMA_NUM_PARALLEL multiplies the context), plus the VRAM held back by OLLAMA_GPU_OVERHEAD.

    How to fix
        Shrink what does not fit, in a systemd drop-in (`sudo systemctl edit ollama`): a smaller context
        (OLLAMA_CONTEXT_LENGTH, or num_ctx per request), fewer parallel requests (OLLAMA_NUM_PARALLEL=1),
        a quantized KV cache (OLLAMA_KV_CACHE_TYPE=q8_0, which needs OLLAMA_FLASH_ATTENTION=1), and no
        more OLLAMA_GPU_OVERHEAD than needed. Or use a smaller quantization of the model. `ollama ps`
        shows the CPU/GPU split afterwards.

    References
        links.OLLAMA_FAQ
        links.OLLAMA_GPU
    """
    ollama = require_ollama(snapshot)
    current = {}
    for _, values in reversed(settings(ollama)):  # the most authoritative source wins
        current.update({name: values[name] for name in TUNING if values.get(name)})
    fix = _fix(current)
    if isinstance(ollama.running_models, Unavailable) and isinstance(ollama.log_offloads, Known):
        yield from _from_log(ollama.log_offloads.value, ollama.log_offloads.source, current, fix)
        return
    for model in ollama.need("running_models"):
        if model.size_vram_bytes >= model.size_bytes:
            continue
        on_cpu = model.size_bytes - model.size_vram_bytes
        yield finding(
            Severity.WARNING, "ollama",
            f"{model.name}: {on_cpu / GIB:.1f} GiB of its {model.size_bytes / GIB:.1f} GiB "
            f"({100 * on_cpu / model.size_bytes:.0f}%) is in system memory, so part of it runs on the CPU",
            {"model": model.name, "size_bytes": model.size_bytes, "size_vram_bytes": model.size_vram_bytes,
             "on_cpu_bytes": on_cpu, "settings": current},
            fix,
        )


def _from_log(offloads, source: str, current, fix: Fix):
    seen = set()
    for load in offloads:
        key = (load.model, load.layers_on_gpu, load.layers_total)
        if load.layers_total <= 0 or load.layers_on_gpu >= load.layers_total or key in seen:
            continue
        seen.add(key)
        name = load.model or "a model"
        yield finding(
            Severity.WARNING, "ollama",
            f"{name}: only {load.layers_on_gpu} of its {load.layers_total} layers were put on GPUs when it "
            f"was loaded; the other {load.layers_total - load.layers_on_gpu} run on the CPU",
            {"model": load.model, "layers_on_gpu": load.layers_on_gpu, "layers_total": load.layers_total,
             "layers_split": ",".join(map(str, load.layers_split)), "log": source, "settings": current},
            fix,
        )


def _fix(current) -> Fix:
    context = current.get("OLLAMA_CONTEXT_LENGTH", "")
    smaller = str(max(2048, int(context) // 2)) if context.isdigit() and int(context) > 0 else "8192"
    lines = [f'Environment="OLLAMA_CONTEXT_LENGTH={smaller}"', 'Environment="OLLAMA_NUM_PARALLEL=1"',
             'Environment="OLLAMA_FLASH_ATTENTION=1"', 'Environment="OLLAMA_KV_CACHE_TYPE=q8_0"']
    if current.get("OLLAMA_GPU_OVERHEAD", "0") not in ("", "0"):
        lines.append('Environment="OLLAMA_GPU_OVERHEAD=0"')
    commands = (edit_unit(*lines),
                "sudo systemctl restart ollama", "ollama ps")
    return Fix(summary="Make the model fit the GPUs: smaller context (OLLAMA_CONTEXT_LENGTH or num_ctx), "
                       "OLLAMA_NUM_PARALLEL=1, OLLAMA_KV_CACHE_TYPE=q8_0 with OLLAMA_FLASH_ATTENTION=1, "
                       "less OLLAMA_GPU_OVERHEAD",
               commands=commands, url=_links.OLLAMA_FAQ)
