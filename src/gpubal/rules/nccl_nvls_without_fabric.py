from typing import Dict, List, Optional, Tuple

from ..common import links as _links
from ..model import FactMissing, Fix, Gpu, Known, NotApplicable, Severity, Snapshot, Unavailable, need
from . import finding, rule
from ._gpu import on_nvswitch_fabric

ENGINES = ("vllm", "sglang")
NVLS = "NCCL_NVLS_ENABLE"
# NCCL's environment variables page: "2: (Default) Same as 1: not failing if there is no support, but
# failing if resources could not be allocated"; "0: Disable the use of NVLink SHARP."
NCCL_DEFAULT = "2"
# NCCL sets NVLS up only for more GPUs than this (src/transport/nvls.cc, ncclNvlsInit: "if
# (!ncclParamNvlsEnable() || gpuCount <= 2) return ncclSuccess;"): a two-GPU server never asks for it.
NVLS_MIN_GPUS_EXCLUSIVE = 2


@rule("nccl-nvls-without-fabric", scope="host", area="nvlink",
      summary="A vLLM or SGLang server does not leave NCCL's NVLink SHARP on while its NVSwitch fabric is not ready")
def nccl_nvls_without_fabric(snapshot: Snapshot):
    """
    What it checks
        For each vLLM or SGLang server running (or, when none runs, installed in the Python environment
        gpubal reads, started from gpubal's own environment): whether NCCL's NVLink SHARP (NVLS) is on
        (NCCL_NVLS_ENABLE unset, which means 2, or set to 1 or 2) while a GPU the server sees sits on
        an NVSwitch fabric that is not ready (NVML's fabric state not "completed", or completed with
        an error). A server that sees two GPUs or fewer passes: NCCL sets NVLS up only for more than two
        (ncclNvlsInit in NCCL's src/transport/nvls.cc).

    Why it matters
        NVLS offloads collectives such as all-reduce, the heart of tensor parallelism, to the NVSwitch
        fabric (third-generation NVSwitch, Hopper and later). NCCL's documentation says that with 1 or
        the default 2 its initialization fails if the NVLS resources cannot be allocated; NCCL 2.27
        and 2.28 tried to fall back silently, which could hang when only some ranks failed, and 2.29
        went back to failing. A server then dies or hangs at NCCL init, typically on its first
        tensor-parallel start after a reboot, before Fabric Manager has brought the fabric up.

    How to fix
        Make the fabric ready: start Fabric Manager (the same version as the driver) and wait for every
        GPU's fabric state to be "completed" (nvidia-smi -q shows it under Fabric). Until it is, start
        the server with NCCL_NVLS_ENABLE=0, which NCCL documents as "No NVLink SHARP resources will be
        allocated"; remove the setting once the fabric is up, as NVLS speeds up all-reduce.

    References
        links.NCCL_ENVIRONMENT
        links.FABRIC_MANAGER"""
    gpus = snapshot.gpu_list()
    servers = _servers(snapshot)
    missing: Optional[FactMissing] = None
    for subject, name, environment, seen in servers:
        if isinstance(environment, Unavailable):
            missing = missing or FactMissing(f"{subject}.gpu_environment", environment)
            continue
        setting = environment.get(NVLS, "").strip()
        if setting == "0":
            continue
        if isinstance(seen, Unavailable):
            missing = missing or FactMissing("gpus", seen)
            continue
        if len(seen.gpus) <= NVLS_MIN_GPUS_EXCLUSIVE:
            continue  # NCCL does not set NVLS up for it
        try:
            not_ready = _not_ready(gpus, seen)
        except FactMissing as lacking:
            missing = missing or lacking
            continue
        if not not_ready:
            continue
        value = setting or f"unset (NCCL's default {NCCL_DEFAULT})"
        states = ", ".join(f"GPU {index}: {state}" for index, state in not_ready)
        yield finding(
            Severity.WARNING, subject,
            f"{name} leaves NCCL's NVLink SHARP on ({_setting_words(setting)}) while the NVSwitch fabric of its GPUs "
            f"is not ready ({states}): NCCL's initialization fails when it cannot allocate NVLS resources",
            {f"{subject}.{NVLS}": value, "fabric": {f"gpu:{index}": state for index, state in not_ready}},
            Fix(summary="Start Fabric Manager and wait for the fabric; until then start the server with "
                        "NCCL_NVLS_ENABLE=0 (no NVLink SHARP resources are allocated)",
                commands=("sudo systemctl enable --now nvidia-fabricmanager",
                          "nvidia-smi -q | grep -A3 -i fabric", "export NCCL_NVLS_ENABLE=0"),
                url=_links.NCCL_ENVIRONMENT),
        )
    if missing is not None:
        raise missing


def _setting_words(setting: str) -> str:
    return f"{NVLS}={setting}" if setting else f"{NVLS} unset, NCCL's default {NCCL_DEFAULT}"


def _servers(snapshot: Snapshot) -> List[Tuple[str, str, object, object]]:
    """(subject, name, its environment, what its CUDA sees) for each vLLM or SGLang server running; when
    none runs, the one installed here as started from gpubal's own environment."""
    processes = need(snapshot.processes, "processes")
    running = [process for process in processes
               if isinstance(process.program, Known) and process.program.value in ENGINES]
    if running:
        from ..common.visibility import process_visibility  # here, not at import: only a server needs it

        return [(process.subject(), f"{process.program.value} (PID {process.pid})",
                 process.gpu_environment.value if isinstance(process.gpu_environment, Known) else process.gpu_environment,
                 process_visibility(snapshot, process)) for process in running]
    packages = snapshot.stack.need("python_packages")
    installed = sorted({package.name for package in packages if package.name in ENGINES})
    if not installed:
        raise NotApplicable("no vLLM or SGLang server runs, and neither is installed in the Python environment read")
    environment = snapshot.stack.need("environment")
    from ..common.visibility import resolve_visibility  # here: only where vLLM or SGLang is installed

    seen = resolve_visibility(environment, snapshot.gpu_list(), apply_container_devices=False)
    return [("host", f"{' and '.join(installed)} installed here, started from this environment", environment, seen)]


def _not_ready(gpus: List[Gpu], seen) -> List[Tuple[int, str]]:
    by_index: Dict[int, Gpu] = {gpu.index: gpu for gpu in gpus}
    not_ready = []
    for index in seen.gpus:
        gpu = by_index[index]
        if not on_nvswitch_fabric(gpu):
            continue  # no NVSwitch fabric: NCCL does not fail for want of NVLS support
        state = gpu.need("fabric_state")
        if state == "completed":
            status = gpu.need("fabric_status")
            if status == "success":
                continue
            not_ready.append((index, f"completed with {status}"))
            continue
        not_ready.append((index, state.replace("_", " ")))
    return not_ready
