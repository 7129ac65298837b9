from ..model import Fix, Gpu, Severity, Snapshot
from . import finding, rule
from ..common import links as _links


@rule("ecc-row-remapping-failed", scope="gpu", area="memory",
      summary="The GPU has not run out of spare memory rows")
def ecc_row_remapping_failed(gpu: Gpu, snapshot: Snapshot):
    """
    What it checks
        NVML's row-remapping failure flag (Ampere and later): a memory row failed and no spare row was
        left to replace it.

    Why it matters
        The GPU can no longer repair its memory. NVIDIA's guidance is to take such a GPU out of service
        and have it replaced; it will keep producing uncorrectable errors.

    How to fix
        Drain the GPU, record `nvidia-smi -q` and an nvidia-bug-report, and contact the vendor for a
        replacement.

    References
        links.MEMORY_ERRORS
    """
    if not gpu.need("remapped_rows_failed"):
        return
    yield finding(
        Severity.ERROR, gpu.subject(),
        f"GPU {gpu.index} failed to remap a memory row: it has no spare rows left and should be serviced",
        {f"{gpu.subject()}.remapped_rows_failed": True},
        Fix(
            summary="Take the GPU out of service and ask the vendor for a replacement",
            commands=(f"nvidia-smi -q -d ROW_REMAPPER -i {gpu.index}", "sudo nvidia-bug-report.sh"),
            url=_links.MEMORY_ERRORS,
        ),
    )
