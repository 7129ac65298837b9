from collections import defaultdict

from ..model import Fix, Severity, Snapshot
from . import finding, rule
from ..common import links as _links

@rule("nvlink-asymmetric", scope="host", area="nvlink",
      summary="GPUs of the same model have the same number of active NVLinks")
def nvlink_asymmetric(snapshot: Snapshot):
    """
    What it checks
        Among GPUs of the same model that use NVLink, whether they all have the same number of active
        links.

    Why it matters
        Collectives such as all-reduce move at the pace of the slowest GPU. One GPU with fewer links
        drags tensor-parallel inference and training on all of them, while each GPU alone still looks
        healthy.

    How to fix
        Find the GPU with fewer links (see nvlink-link-inactive), reseat its bridge or have its NVSwitch
        tray checked, and keep it out of tensor-parallel groups until then.

    References
        links.FABRIC_MANAGER
    """
    by_model = defaultdict(dict)
    for gpu in snapshot.gpu_list():
        links = gpu.need("nvlinks")
        active = sum(1 for link in links if link.need("active"))
        if active:
            by_model[gpu.need("name")][gpu.index] = active
    for model, counts in sorted(by_model.items()):
        if len(set(counts.values())) <= 1:
            continue
        most = max(counts.values())
        fewer = {index: count for index, count in counts.items() if count < most}
        yield finding(
            Severity.WARNING, "host",
            f"{model}: GPU {', '.join(map(str, sorted(fewer)))} "
            f"{'has' if len(fewer) == 1 else 'have'} fewer active NVLinks than the others ({most})",
            {f"gpu:{index}.nvlinks_active": count for index, count in sorted(counts.items())},
            Fix(
                summary="Inspect the GPUs with fewer links; keep them out of tensor-parallel groups until fixed",
                commands=tuple(f"nvidia-smi nvlink -s -i {index}" for index in sorted(fewer)),
                url=_links.FABRIC_MANAGER,
            ),
        )
