from ..model import Fix, Severity, Snapshot, value_or
from . import finding, rule
from ..common import links as _links
from ._ollama import edit_unit, require_ollama, setting


@rule("ollama-mig-devices", scope="host", area="ollama",
      summary="With MIG enabled, Ollama's CUDA_VISIBLE_DEVICES names exactly one MIG device by UUID")
def ollama_mig_devices(snapshot: Snapshot):
    """
    What it checks
        Where Ollama runs on a host with MIG enabled on some GPU: whether CUDA_VISIBLE_DEVICES, as the
        Ollama server has it, names a MIG device by its UUID (MIG-...), and names only one.

    Why it matters
        A CUDA process sees MIG devices only as the MIG user guide describes: it enumerates a single MIG
        device, chosen by CUDA_VISIBLE_DEVICES=MIG-<UUID>. Without it, Ollama gets whichever MIG device
        CUDA enumerates first (or none usable), and a list of several MIG UUIDs still gives it only one.

    How to fix
        List the MIG devices with `nvidia-smi -L` and set CUDA_VISIBLE_DEVICES to one MIG UUID in the
        Ollama unit. To use several MIG devices, run one Ollama server per MIG device, each with its own
        CUDA_VISIBLE_DEVICES and OLLAMA_HOST port.

    References
        links.MIG_GUIDE
        links.OLLAMA_GPU
    """
    ollama = require_ollama(snapshot)
    mig_gpus = [gpu for gpu in snapshot.gpu_list() if value_or(gpu.mig_enabled_current, False)]
    if not mig_gpus:
        return
    value, where = setting(ollama, "CUDA_VISIBLE_DEVICES")
    mig_entries = [entry.strip() for entry in (value or "").split(",") if entry.strip().startswith("MIG-")]
    if len(mig_entries) == 1:
        return
    instances = [instance.uuid for gpu in mig_gpus for instance in value_or(gpu.mig_instances, [])]
    if mig_entries:
        problem = f"names {len(mig_entries)} MIG devices, but a CUDA process uses only one"
    elif value is None:
        problem = "is not set, so Ollama gets whichever MIG device CUDA enumerates first"
    else:
        problem = f"is {value!r} and names no MIG device"
    yield finding(
        Severity.WARNING, "ollama",
        f"MIG is enabled on GPU {', '.join(str(gpu.index) for gpu in mig_gpus)}; CUDA_VISIBLE_DEVICES ({where}) {problem}",
        {"CUDA_VISIBLE_DEVICES": value if value is not None else "unset", "where": where,
         "MIG GPUs": [gpu.subject() for gpu in mig_gpus], "MIG devices": instances},
        Fix(summary="Give each Ollama server exactly one MIG device by UUID",
            commands=("nvidia-smi -L",
                      edit_unit(f'Environment="CUDA_VISIBLE_DEVICES={instances[0] if instances else "MIG-UUID"}"'),
                      "sudo systemctl restart ollama"),
            url=_links.MIG_GUIDE),
    )
