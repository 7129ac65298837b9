from ..model import Fix, Gpu, Known, Severity, Snapshot, need
from . import finding, rule
from ..common import links as _links


@rule("ecc-pages-pending", scope="gpu", area="memory",
      summary="No retired page or remapped memory row is waiting for a GPU reset")
def ecc_pages_pending(gpu: Gpu, snapshot: Snapshot):
    """
    What it checks
        Whether the GPU has memory that failed and is marked for retirement (page retirement, up to
        Volta) or row remapping (Ampere and later), with the repair waiting for the next GPU reset.

    Why it matters
        Until the GPU is reset, the faulty memory is still in use and may raise more ECC errors, which
        crash the programs that touch it (Xid 48, 63, 64, 94, 95).

    How to fix
        Drain the GPU and reset it (or reboot) so that the retirement or remapping takes effect.

    References
        links.MEMORY_ERRORS
        links.PAGE_RETIREMENT
    """
    retired = gpu.retired_pages_pending
    remapped = gpu.remapped_rows_pending
    if not isinstance(retired, Known) and not isinstance(remapped, Known):
        need(remapped, f"{gpu.subject()}.remapped_rows_pending")  # neither mechanism could be read
    pending = {name: fact.value for name, fact in (("retired_pages_pending", retired),
                                                   ("remapped_rows_pending", remapped)) if isinstance(fact, Known)}
    if not any(pending.values()):
        return
    yield finding(
        Severity.WARNING, gpu.subject(),
        f"GPU {gpu.index} has failed memory waiting to be retired or remapped at the next GPU reset",
        {f"{gpu.subject()}.{name}": value for name, value in pending.items()},
        Fix(
            summary="Drain the GPU, then reset it (or reboot) to apply the repair",
            commands=(f"nvidia-smi -q -d ROW_REMAPPER,PAGE_RETIREMENT -i {gpu.index}", f"sudo nvidia-smi -r -i {gpu.index}"),
            url=_links.MEMORY_ERRORS,
        ),
    )
