import re
from typing import Dict

from ..model import Fix, GpuProcess, Known, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ._processes import processes_choosing_gpus


@rule("cuda-visible-devices-names-missing-gpu", scope="host", area="stack",
      summary="CUDA_VISIBLE_DEVICES of a running GPU process or model server names only GPUs that exist")
def cuda_visible_devices_names_missing_gpu(snapshot: Snapshot):
    """
    What it checks
        For each process in the process table (those on a GPU, and vLLM, SGLang and llama.cpp servers
        found by name), the CUDA_VISIBLE_DEVICES it started with against the GPUs of this host (of its
        container, seen from the host). CUDA reads the list up to the first entry that names no GPU (an
        index past the last GPU, a UUID of another host) and ignores the rest. Ollama has its own rule,
        ollama-hidden-gpus, which also reads its unit and log.

    Why it matters
        The process silently gets fewer GPUs than its setting lists, or none and runs on the CPU: a model
        split over "0,1,2,3" on a host whose GPUs were renumbered lands on two. An entry of -1 or an empty
        value that hides every GPU is the documented way to force the CPU and is only reported as info.

    How to fix
        List the GPUs by UUID, which survives renumbering (nvidia-smi -L prints them), in the process's
        environment or its systemd unit (systemctl edit UNIT, then Environment=CUDA_VISIBLE_DEVICES=...),
        and restart it.

    References
        links.CUDA_ENVIRONMENT
    """
    # Ollama has ollama-hidden-gpus, which judges it from its unit and log as well
    for process, environment, seen in processes_choosing_gpus(snapshot, skip=_is_ollama):
        if seen.invalid_entry is not None:
            yield _finding(process, environment, seen)


def _is_ollama(process: GpuProcess) -> bool:
    return isinstance(process.program, Known) and process.program.value == "ollama"


def _finding(process: GpuProcess, environment: Dict[str, str], seen):
    from ..common.visibility import CUDA_VISIBLE  # here: only a finding needs it

    value = environment[CUDA_VISIBLE]
    subject = process.subject()
    program = process.program.value if isinstance(process.program, Known) else "process"
    sees = ",".join(map(str, seen.gpus)) or "none"
    deliberate = not seen.gpus and (seen.invalid_entry == "" or re.fullmatch(r"-\d+", seen.invalid_entry))
    if deliberate:
        message = (f"PID {process.pid} ({program}) has {CUDA_VISIBLE}={value}: it sees no GPU and runs on the CPU "
                   "(the documented way to hide every GPU)")
        severity = Severity.INFO
    else:
        ignored = f", and ignores {','.join(seen.ignored_entries)} after it" if seen.ignored_entries else ""
        message = (f"PID {process.pid} ({program}) has {CUDA_VISIBLE}={value}, but {seen.invalid_entry!r} names no "
                   f"GPU here: CUDA stops there{ignored}, so it sees GPU {sees}")
        severity = Severity.WARNING
    unit = _unit(process)
    return finding(
        severity, subject, message,
        {f"{subject}.gpu_environment.{CUDA_VISIBLE}": value, f"{subject}.cuda_sees": list(seen.gpus),
         f"{subject}.first_entry_naming_no_gpu": seen.invalid_entry},
        Fix(
            summary="Name the GPUs it should use by UUID (nvidia-smi -L), then restart it",
            commands=("nvidia-smi -L",
                      f"sudo systemctl edit {unit}  # [Service] Environment=CUDA_VISIBLE_DEVICES=GPU-...,GPU-..."),
            url=_links.CUDA_ENVIRONMENT,
        ),
    )


def _unit(process: GpuProcess) -> str:
    if isinstance(process.cgroup, Known):
        last = process.cgroup.value.rstrip("/").rsplit("/", 1)[-1]
        if last.endswith(".service"):
            return last
    return "UNIT"
