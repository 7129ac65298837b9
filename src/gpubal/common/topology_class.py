"""The host's topology in words: "full NVSwitch mesh", "NVLink bridged pairs", "PCIe only, pairs cross
sockets", "one NUMA node per GPU", with the evidence, so that a reader does not have to infer the class
from the matrix. A pure function of the Snapshot; the engine hands the answer to every renderer.

The class reads only what the snapshot knows: when the pairs (a topology matrix or NVML's answers) are
unknown it says so, and a pair whose path is unknown is named in the evidence, never guessed.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

from ..model import Known, Snapshot, TopologyClass, Unavailable

PCIE_WORDS = {
    "PIX": "behind one PCIe switch", "PXB": "behind PCIe switches", "PHB": "through one host bridge",
    "NODE": "across host bridges of one socket", "SYS": "across sockets",
}
PCIE_ORDER = ("PIX", "PXB", "PHB", "NODE", "SYS")


def classify_topology(snapshot: Snapshot) -> Optional[TopologyClass]:
    """The class of the host's GPU topology, or None when the snapshot lists no GPUs at all."""
    if not isinstance(snapshot.gpus, Known) or not snapshot.gpus.value:
        return None
    gpus = snapshot.gpus.value
    classes: List[str] = []
    evidence: List[str] = []
    if len(gpus) == 1:
        classes.append("single GPU")
        evidence.append(f"one GPU listed ({snapshot.gpus.source})")
    elif isinstance(snapshot.pairs, Unavailable):
        classes.append("links between GPUs unknown")
        evidence.append(f"GPU pairs: {snapshot.pairs.describe()}")
    else:
        _links(snapshot, classes, evidence)
    _numa(snapshot, classes, evidence)
    return TopologyClass(classes=tuple(classes), evidence=tuple(evidence))


def _links(snapshot: Snapshot, classes: List[str], evidence: List[str]) -> None:
    gpus = [gpu.index for gpu in snapshot.gpus.value]  # type: ignore[union-attr]
    pairs = snapshot.pairs.value  # type: ignore[union-attr]
    nvlinked: Dict[Tuple[int, int], int] = {}
    routes: Set[str] = set()
    pcie: Dict[str, List[str]] = {}
    unknown: List[str] = []
    for pair in pairs:
        name = f"GPU{pair.gpu_a}-GPU{pair.gpu_b}"
        if isinstance(pair.nvlink_count, Known) and pair.nvlink_count.value > 0:
            nvlinked[(pair.gpu_a, pair.gpu_b)] = pair.nvlink_count.value
            if isinstance(pair.nvlink_route, Known):
                routes.add(pair.nvlink_route.value)
        elif isinstance(pair.pcie_path, Known) and pair.pcie_path.value in PCIE_WORDS:
            pcie.setdefault(pair.pcie_path.value, []).append(name)
        else:
            unknown.append(name)
    all_pairs = len(gpus) * (len(gpus) - 1) // 2
    if nvlinked:
        counts = sorted(set(nvlinked.values()))
        links = "/".join(f"NV{count}" for count in counts)
        partners: Dict[int, Set[int]] = {}
        for a, b in nvlinked:
            partners.setdefault(a, set()).add(b)
            partners.setdefault(b, set()).add(a)
        if len(nvlinked) == all_pairs:
            via = routes == {"nvswitch"}
            if via:
                classes.append("full NVSwitch mesh")
            elif all_pairs == 1:
                classes.append("NVLink bridged pair" if routes == {"direct"} else "NVLink pair")
            else:
                classes.append("full NVLink mesh")
            joined = "the GPU pair joined" if all_pairs == 1 else f"all {all_pairs} GPU pairs joined"
            route = (", through NVSwitch" if via else ", directly" if routes == {"direct"}
                     else "; whether through NVSwitch or a bridge is not in the input")
            evidence.append(f"{joined} by NVLink ({links}){route}")
        elif all(len(found) == 1 for found in partners.values()):
            joined = ", ".join(f"GPU{a}-GPU{b}" for a, b in sorted(nvlinked))
            classes.append("NVLink bridged pairs")
            evidence.append(f"NVLink ({links}) joins {joined} only; the other pairs talk over PCIe")
            lonely = [index for index in gpus if index not in partners]
            if lonely:
                evidence.append("no NVLink on " + ", ".join(f"GPU{index}" for index in lonely))
        else:
            classes.append("partial NVLink mesh")
            evidence.append(f"NVLink ({links}) joins {len(nvlinked)} of {all_pairs} GPU pairs")
    elif pcie:
        worst = max(pcie, key=PCIE_ORDER.index)
        if len(pcie) == 1:
            classes.append(f"PCIe only, every pair {PCIE_WORDS[worst]}")
        elif worst == "SYS":
            classes.append("PCIe only, pairs cross sockets")
        else:
            classes.append(f"PCIe only, some pairs {PCIE_WORDS[worst]}")
        evidence.append("no NVLink between any pair")
    if pcie:
        evidence.append("; ".join(f"{word} ({PCIE_WORDS[word]}): {_names(pcie[word])}"
                                  for word in PCIE_ORDER if word in pcie))
    if unknown:
        evidence.append(f"path unknown for {_names(unknown)}")
        if not nvlinked and not pcie:
            classes.append("links between GPUs unknown")


def _numa(snapshot: Snapshot, classes: List[str], evidence: List[str]) -> None:
    nodes: Dict[int, List[int]] = {}
    for gpu in snapshot.gpus.value:  # type: ignore[union-attr]
        if not isinstance(gpu.numa_node, Known) or gpu.numa_node.value < 0:
            return  # a GPU whose node is unknown leaves the NUMA layout unsaid
        nodes.setdefault(gpu.numa_node.value, []).append(gpu.index)
    count = len(snapshot.gpus.value)  # type: ignore[union-attr]
    placed = "; ".join(f"NUMA node {node}: {', '.join(f'GPU{i}' for i in found)}" for node, found in sorted(nodes.items()))
    if count > 1 and len(nodes) == count:
        classes.append("one NUMA node per GPU")
    elif len(nodes) > 1:
        classes.append(f"GPUs split over {len(nodes)} NUMA nodes")
    elif count > 1:
        classes.append("all GPUs on one NUMA node")
    evidence.append(placed)


def _names(pairs: List[str]) -> str:
    return ", ".join(pairs) if len(pairs) <= 6 else f"{', '.join(pairs[:6])} and {len(pairs) - 6} more"
