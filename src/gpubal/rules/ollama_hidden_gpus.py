from typing import List, Tuple

from ..model import FactMissing, Fix, Gpu, Reason, Severity, Snapshot, Unavailable, value_or
from . import finding, rule
from ..common import links as _links
from ._ollama import edit_unit, gpus_seen_by_ollama_only, require_ollama, setting


def visible_gpus(value: str, gpus: List[Gpu]) -> Tuple[List[int], str]:
    """The GPU indices CUDA_VISIBLE_DEVICES leaves visible, and the first entry CUDA could not match.

    Entries are indices, GPU UUIDs (or a unique prefix of one) or MIG UUIDs (the GPU holding that MIG
    device counts as visible). CUDA stops at the first entry it cannot match: later ones stay hidden.
    """
    visible: List[int] = []
    for entry in (part.strip() for part in value.split(",")) if value.strip() else ():
        match = None
        if entry.isdigit():
            match = next((gpu for gpu in gpus if gpu.index == int(entry)), None)
        elif entry.startswith("GPU-"):
            candidates = [gpu for gpu in gpus if value_or(gpu.uuid, "").startswith(entry)]
            match = candidates[0] if len(candidates) == 1 else None
        elif entry.startswith("MIG-"):
            match = next((gpu for gpu in gpus if any(instance.uuid == entry
                                                     for instance in value_or(gpu.mig_instances, []))), None)
        if match is None:
            return visible, entry
        if match.index not in visible:
            visible.append(match.index)
    return visible, ""


@rule("ollama-hidden-gpus", scope="host", area="ollama",
      summary="CUDA_VISIBLE_DEVICES as Ollama sees it does not hide GPUs that NVML sees")
def ollama_hidden_gpus(snapshot: Snapshot):
    """
    What it checks
        CUDA_VISIBLE_DEVICES as the Ollama server has it (its process environment, else its `server
        config` log line, else its systemd unit) against the GPUs NVML lists. Entries may be indices,
        GPU UUIDs (or a unique prefix) or MIG UUIDs. CUDA stops reading the list at the first entry it
        cannot match, and an empty value hides every GPU.

    Why it matters
        GPUs left out are never used by Ollama: models that would fit across all GPUs spill to the CPU.
        An index that no longer exists (after a GPU was removed, or numbering changed) hides every GPU
        listed after it; with none visible Ollama runs on the CPU only.

    How to fix
        List the GPUs Ollama should use by UUID (`nvidia-smi -L`), which survives renumbering, in a
        systemd drop-in (`sudo systemctl edit ollama`), or remove the variable to give Ollama every GPU.
        If hiding some GPUs is intended (one Ollama server per GPU), skip this rule in the site policy.

    References
        links.CUDA_ENVIRONMENT
        links.OLLAMA_GPU
    """
    ollama = require_ollama(snapshot)
    value, where = setting(ollama, "CUDA_VISIBLE_DEVICES")
    if value is None:
        return
    if gpus_seen_by_ollama_only(snapshot):
        raise FactMissing("gpus", Unavailable(Reason.NOT_IN_INPUT, snapshot.gpus.source,  # type: ignore[union-attr]
                                              "only the GPUs Ollama's log lists, which are the ones it could see; "
                                              "paste nvidia-smi -L to compare"))
    gpus = snapshot.gpu_list()
    visible, stopped_at = visible_gpus(value, gpus)
    hidden = [gpu for gpu in gpus if gpu.index not in visible]
    if not hidden:
        return
    uuids = ",".join(value_or(gpu.uuid, str(gpu.index)) for gpu in gpus)
    why = f"; CUDA stops at {stopped_at!r}, which matches no GPU" if stopped_at else ""
    yield finding(
        Severity.ERROR if not visible else Severity.WARNING, "ollama",
        f"CUDA_VISIBLE_DEVICES={value!r} ({where}) hides {len(hidden)} of {len(gpus)} GPUs from Ollama"
        + (": it runs on the CPU" if not visible else f" (GPUs {', '.join(str(g.index) for g in hidden)})") + why,
        {"CUDA_VISIBLE_DEVICES": value, "where": where, "visible to Ollama": visible,
         "hidden from Ollama": [gpu.subject() for gpu in hidden]},
        Fix(summary="Name the GPUs Ollama should use by UUID in a systemd drop-in, or remove the variable",
            commands=("nvidia-smi -L", edit_unit(f'Environment="CUDA_VISIBLE_DEVICES={uuids}"'),
                      "sudo systemctl restart ollama"),
            url=_links.OLLAMA_GPU),
    )
