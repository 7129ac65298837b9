from ..doctor.model import Fix, Severity, Snapshot
from . import _links, finding, rule
from ._ollama import require_ollama, settings

GIB = 1 << 30
TUNING = ("OLLAMA_CONTEXT_LENGTH", "OLLAMA_NUM_PARALLEL", "OLLAMA_FLASH_ATTENTION", "OLLAMA_KV_CACHE_TYPE",
          "OLLAMA_GPU_OVERHEAD")


@rule("ollama-model-partly-on-cpu", scope="host", area="ollama",
      summary="Every model Ollama has loaded sits entirely in GPU memory")
def check(snapshot: Snapshot):
    """
    What it checks
        Each model the Ollama server has loaded (GET /api/ps): whether `size_vram` is less than `size`,
        i.e. part of the model is in system memory and its layers run on the CPU. It names the model,
        how many GiB are on the CPU, and the settings that decide the fit.

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
        https://docs.ollama.com/faq
        https://docs.ollama.com/gpu
    """
    ollama = require_ollama(snapshot)
    models = ollama.need("running_models")
    current = {}
    for _, values in reversed(settings(ollama)):  # the most authoritative source wins
        current.update({name: values[name] for name in TUNING if values.get(name)})
    context = current.get("OLLAMA_CONTEXT_LENGTH", "")
    smaller = str(max(2048, int(context) // 2)) if context.isdigit() and int(context) > 0 else "8192"
    for model in models:
        if model.size_vram_bytes >= model.size_bytes:
            continue
        on_cpu = model.size_bytes - model.size_vram_bytes
        commands = ["sudo systemctl edit ollama", f'Environment="OLLAMA_CONTEXT_LENGTH={smaller}"',
                    'Environment="OLLAMA_NUM_PARALLEL=1"', 'Environment="OLLAMA_FLASH_ATTENTION=1"',
                    'Environment="OLLAMA_KV_CACHE_TYPE=q8_0"']
        if current.get("OLLAMA_GPU_OVERHEAD", "0") not in ("", "0"):
            commands.append('Environment="OLLAMA_GPU_OVERHEAD=0"')
        commands += ["sudo systemctl restart ollama", "ollama ps"]
        yield finding(
            Severity.WARNING, "ollama",
            f"{model.name}: {on_cpu / GIB:.1f} GiB of its {model.size_bytes / GIB:.1f} GiB "
            f"({100 * on_cpu / model.size_bytes:.0f}%) is in system memory, so part of it runs on the CPU",
            {"model": model.name, "size_bytes": model.size_bytes, "size_vram_bytes": model.size_vram_bytes,
             "on_cpu_bytes": on_cpu, "settings": current},
            Fix(summary="Make the model fit the GPUs: smaller context (OLLAMA_CONTEXT_LENGTH or num_ctx), "
                        "OLLAMA_NUM_PARALLEL=1, OLLAMA_KV_CACHE_TYPE=q8_0 with OLLAMA_FLASH_ATTENTION=1, "
                        "less OLLAMA_GPU_OVERHEAD",
                commands=tuple(commands), url=_links.OLLAMA_FAQ),
        )
