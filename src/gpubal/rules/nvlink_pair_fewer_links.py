from itertools import combinations

from ..model import FactMissing, Fix, Reason, Severity, Snapshot, Unavailable, need
from . import finding, rule
from ..common import links as _links


@rule("nvlink-pair-fewer-links", scope="host", area="nvlink",
      summary="Every NVLinked GPU has as many NVLinks to its peers as the others (topology matrix)")
def nvlink_pair_fewer_links(snapshot: Snapshot):
    """
    What it checks
        From the NVLink count of every GPU pair (`NV#` in `nvidia-smi topo -m`), whether one GPU has
        fewer NVLinks to its peers in all than the other NVLinked GPUs have, and whether a GPU has no
        NVLink at all while every other GPU is NVLinked to every other (an NVSwitch or full mesh it
        should be part of). This judges the topology matrix alone, where `nvidia-smi nvlink -s` was not
        pasted; on healthy hosts every NVLinked GPU has the same total (a DGX-1's hybrid cube mesh, with
        NV1 and NV2 pairs, gives each GPU 6). Pairs the matrix does not show leave it not evaluated.

    Why it matters
        A link that did not train, a bridge that is not seated or an NVSwitch port that is down shows up
        as `NV11` where its peers have `NV12`, or as a GPU that reaches the others only over PCIe. All-
        reduce and tensor-parallel traffic then move at the pace of that GPU, and NCCL may route around
        it over PCIe, while each GPU alone looks healthy.

    How to fix
        Look at the links of the GPU named: `nvidia-smi nvlink -s -i N` shows each link's state and
        speed, `nvidia-smi nvlink -e -i N` its error counters. Reseat the NVLink bridge on PCIe cards; on
        NVSwitch systems read the Fabric Manager log and have the baseboard checked. Keep the GPU out of
        tensor-parallel groups until its links are back.

    References
        links.FABRIC_MANAGER
        https://docs.nvidia.com/deploy/nvidia-smi/index.html
    """
    indices = [gpu.index for gpu in snapshot.gpu_list()]
    pairs = {(pair.gpu_a, pair.gpu_b): pair for pair in need(snapshot.pairs, "pairs")}
    counts = {}
    for a, b in combinations(sorted(indices), 2):
        pair = pairs.get((a, b))
        if pair is None:
            raise FactMissing(f"gpu:{a}-gpu:{b}.nvlink_count", Unavailable(
                Reason.NOT_IN_INPUT, "pairs", "the topology does not show this pair (a matrix cut short?)"))
        counts[(a, b)] = pair.need("nvlink_count")
    peers = {index: {b if a == index else a: count for (a, b), count in counts.items() if index in (a, b)}
             for index in indices}
    totals = {index: sum(links.values()) for index, links in peers.items()}
    linked = sorted(index for index, total in totals.items() if total)
    if len(linked) < 2:
        return
    most = max(totals.values())
    for index in linked:
        if totals[index] < most:
            shown = ", ".join(f"NV{count} to GPU {peer}" for peer, count in sorted(peers[index].items()) if count)
            yield finding(
                Severity.WARNING, f"gpu:{index}",
                f"GPU {index} has fewer NVLinks to its peers than other GPUs have ({shown}: "
                f"{totals[index]} in all, against {most}): a link is down or a bridge is missing",
                {f"gpu:{index}.nvlinks_to_peers": {str(peer): count for peer, count in sorted(peers[index].items())},
                 "most_nvlinks_to_peers": most},
                _fix(index),
            )
    mesh = all(counts[(a, b)] for a, b in combinations(linked, 2))
    if len(linked) >= 3 and mesh:
        for index in sorted(set(indices) - set(linked)):
            yield finding(
                Severity.WARNING, f"gpu:{index}",
                f"GPU {index} has no NVLink while GPUs {', '.join(map(str, linked))} are all NVLinked to "
                "each other: it reaches them over PCIe only",
                {f"gpu:{index}.nvlinks_to_peers": {str(peer): count for peer, count in sorted(peers[index].items())},
                 "nvlinked_gpus": linked},
                _fix(index),
            )


def _fix(index: int) -> Fix:
    return Fix(
        summary="Check this GPU's NVLinks and their errors; reseat its bridge or, on NVSwitch systems, read the "
                "Fabric Manager log",
        commands=(f"nvidia-smi nvlink -s -i {index}", f"nvidia-smi nvlink -e -i {index}",
                  "sudo journalctl -u nvidia-fabricmanager"),
        url=_links.FABRIC_MANAGER,
    )
