from ..model import Fix, Known, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ._processes import processes_choosing_gpus


@rule("gpu-selected-by-index-on-mixed-models", scope="host", area="stack",
      summary="A process on a host with mixed GPU models picks GPUs by UUID, or by index in PCI order")
def gpu_selected_by_index_on_mixed_models(snapshot: Snapshot):
    """
    What it checks
        For each process in the process table: whether its CUDA_VISIBLE_DEVICES picks GPUs by index on a
        host (or container) with more than one GPU model while CUDA_DEVICE_ORDER is not PCI_BUS_ID.

    Why it matters
        CUDA numbers GPUs fastest first by default; nvidia-smi, NVML and gpubal number them in PCI bus
        order. With one GPU model the two agree; with mixed models "CUDA_VISIBLE_DEVICES=0" may be the
        other card than nvidia-smi's GPU 0: the server runs on the slower or smaller GPU, or two servers
        meant for different GPUs share one.

    How to fix
        Pick GPUs by UUID (nvidia-smi -L), or set CUDA_DEVICE_ORDER=PCI_BUS_ID next to
        CUDA_VISIBLE_DEVICES so that CUDA's indexes are nvidia-smi's.

    References
        links.CUDA_ENVIRONMENT
    """
    models = {(gpu.name.value if isinstance(gpu.name, Known) else None,
               gpu.compute_capability.value if isinstance(gpu.compute_capability, Known) else None)
              for gpu in snapshot.gpu_list()}
    if len(models) == 1 and None not in next(iter(models)):
        return  # one GPU model: CUDA's order and nvidia-smi's agree, whatever runs
    from ..common.visibility import CUDA_ORDER, CUDA_VISIBLE  # here: only mixed GPU models get this far

    for process, environment, seen in processes_choosing_gpus(snapshot):
        if seen.index_order_known:
            continue
        subject = process.subject()
        program = process.program.value if isinstance(process.program, Known) else "process"
        value = environment[CUDA_VISIBLE]
        yield finding(
            Severity.WARNING, subject,
            f"PID {process.pid} ({program}) picks GPUs by index ({CUDA_VISIBLE}={value}) on mixed GPU models "
            f"without {CUDA_ORDER}=PCI_BUS_ID: CUDA counts fastest first, so its GPU numbers may not be "
            "nvidia-smi's",
            {f"{subject}.gpu_environment.{CUDA_VISIBLE}": value,
             f"{subject}.gpu_environment.{CUDA_ORDER}": environment.get(CUDA_ORDER, "unset (FASTEST_FIRST)")},
            Fix(
                summary=f"Pick the GPUs by UUID, or add {CUDA_ORDER}=PCI_BUS_ID to its environment",
                commands=("nvidia-smi -L", f"{CUDA_ORDER}=PCI_BUS_ID {CUDA_VISIBLE}={value} COMMAND"),
                url=_links.CUDA_ENVIRONMENT,
            ),
        )
