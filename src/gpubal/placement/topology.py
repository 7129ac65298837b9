"""The host's GPU topology as meaning: how well each pair of GPUs is joined, and the groups that follow.

A pair's *tier* orders the ways two GPUs can talk, best first, as `nvidia-smi topo -m` names them:
NVLink (directly or through NVSwitch), PIX (one PCIe switch), PXB (several switches, no host bridge),
PHB (through the CPU's host bridge), NODE (across host bridges inside one NUMA node), SYS (across the
socket interconnect). A pair whose path is unknown ranks below SYS: nothing is assumed about it.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Sequence, Tuple

from ..common.cpulist import format_cpulist, parse_cpulist
from ..model import Known, Snapshot, Unavailable, record

TIER_NVLINK, TIER_PIX, TIER_PXB, TIER_PHB, TIER_NODE, TIER_SYS, TIER_UNKNOWN = range(7)
PCIE_TIERS = {"SELF": TIER_PIX, "PIX": TIER_PIX, "PXB": TIER_PXB, "PHB": TIER_PHB, "NODE": TIER_NODE,
              "SYS": TIER_SYS}
TIER_WORDS = {
    TIER_NVLINK: "NVLink", TIER_PIX: "PIX", TIER_PXB: "PXB", TIER_PHB: "PHB", TIER_NODE: "NODE",
    TIER_SYS: "SYS", TIER_UNKNOWN: "unknown path",
}
TIER_MEANING = {
    TIER_NVLINK: "joined by NVLink",
    TIER_PIX: "behind one PCIe switch (PIX)",
    TIER_PXB: "behind a tree of PCIe switches without the CPU in between (PXB)",
    TIER_PHB: "through the CPU's PCIe host bridge (PHB)",
    TIER_NODE: "across PCIe host bridges inside one NUMA node (NODE)",
    TIER_SYS: "across the CPU sockets' interconnect (SYS)",
    TIER_UNKNOWN: "over a path NVML could not name",
}


@record
class PlacedGpu:
    """What placement needs to know of one GPU; unknowns are explicit (-1, 0, "")."""

    index: int
    uuid: str
    name: str
    pci_bus_id: str
    memory_total_bytes: int  # 0 when unknown
    numa_node: int  # -1 when unknown or when the firmware names none
    cpu_list: str  # kernel cpulist notation; "" when unknown
    mig_enabled: bool


@record
class PairLink:
    gpu_a: int
    gpu_b: int
    tier: int  # the link tier (NVLink if any, else the PCIe path)
    pcie_tier: int  # the PCIe path alone: which NVLink pairs also share a switch or a socket
    nvlink_count: int  # -1 when NVML could not say
    nvlink_route: str  # "direct", "nvswitch", "none", or "unknown" when NVML could not say
    label: str  # the `nvidia-smi topo -m` word: NV18, PIX, SYS, ...


@record
class Topology:
    gpus: Tuple[PlacedGpu, ...]  # usable GPUs, by index
    excluded: Tuple[Tuple[int, str], ...]  # (index, why) of GPUs that cannot be placed
    links: Dict[Tuple[int, int], PairLink]  # both orders
    nvlink_cliques: Tuple[Tuple[int, ...], ...]  # maximal sets of GPUs all pairwise on NVLink (2 or more)
    pcie_switch_groups: Tuple[Tuple[int, ...], ...]  # GPUs joined through PCIe switches only (PIX/PXB), 2 or more
    numa_domains: Tuple[Tuple[int, Tuple[int, ...], str], ...]  # (node, GPUs, the node's CPU list)

    def link(self, a: int, b: int) -> PairLink:
        return self.links[(a, b)]

    def gpu(self, index: int) -> PlacedGpu:
        return next(gpu for gpu in self.gpus if gpu.index == index)


def _value(fact, default):
    return fact.value if isinstance(fact, Known) else default


def build_topology(snapshot: Snapshot) -> Topology:
    gpus: List[PlacedGpu] = []
    excluded: List[Tuple[int, str]] = []
    for gpu in snapshot.gpus.value if isinstance(snapshot.gpus, Known) else []:
        if isinstance(gpu.uuid, Unavailable):
            excluded.append((gpu.index, f"its UUID is unknown: {gpu.uuid.describe()}"))
            continue
        numa = _value(gpu.numa_node, -1)
        gpus.append(PlacedGpu(
            index=gpu.index, uuid=gpu.uuid.value, name=_value(gpu.name, "GPU"),
            pci_bus_id=_value(gpu.pci_bus_id, ""), memory_total_bytes=_value(gpu.memory_total_bytes, 0),
            numa_node=numa if isinstance(numa, int) else -1, cpu_list=_value(gpu.cpu_affinity, ""),
            mig_enabled=bool(_value(gpu.mig_enabled_current, False)),
        ))
    usable = {gpu.index for gpu in gpus}
    links: Dict[Tuple[int, int], PairLink] = {}
    for pair in snapshot.pairs.value if isinstance(snapshot.pairs, Known) else []:
        if pair.gpu_a in usable and pair.gpu_b in usable:
            link = _pair_link(pair)
            links[(pair.gpu_a, pair.gpu_b)] = link
            links[(pair.gpu_b, pair.gpu_a)] = PairLink(pair.gpu_b, pair.gpu_a, *_fields_after_gpus(link))
    indices = [gpu.index for gpu in gpus]
    for a in indices:  # a pair NVML did not answer for is an unknown path, never a good one
        for b in indices:
            if a != b and (a, b) not in links:
                links[(a, b)] = PairLink(a, b, TIER_UNKNOWN, TIER_UNKNOWN, 0, "none", "?")
    return Topology(
        gpus=tuple(gpus),
        excluded=tuple(excluded),
        links=links,
        nvlink_cliques=tuple(c for c in maximal_cliques(indices, lambda a, b: links[(a, b)].tier == TIER_NVLINK)
                             if len(c) > 1),
        pcie_switch_groups=tuple(c for c in components(indices, lambda a, b: links[(a, b)].pcie_tier <= TIER_PXB)
                                 if len(c) > 1),
        numa_domains=_numa_domains(snapshot, gpus),
    )


def _fields_after_gpus(link: PairLink):
    return link.tier, link.pcie_tier, link.nvlink_count, link.nvlink_route, link.label


def _pair_link(pair) -> PairLink:
    path = _value(pair.pcie_path, "")
    pcie_tier = PCIE_TIERS.get(path, TIER_UNKNOWN)
    if isinstance(pair.nvlink_count, Unavailable):
        # NVLink may join the two or not: the best path is unknown, whatever the PCIe path says
        return PairLink(pair.gpu_a, pair.gpu_b, TIER_UNKNOWN, pcie_tier, -1, "unknown", "NV?")
    count = pair.nvlink_count.value
    route = _value(pair.nvlink_route, "none")
    if count > 0:
        return PairLink(pair.gpu_a, pair.gpu_b, TIER_NVLINK, pcie_tier, count, route, f"NV{count}")
    return PairLink(pair.gpu_a, pair.gpu_b, pcie_tier, pcie_tier, 0, "none", path or "?")


def _numa_domains(snapshot: Snapshot, gpus: Sequence[PlacedGpu]):
    node_cpus = {node.node_id: node.cpu_list for node in _value(snapshot.host.numa_nodes, [])}
    domains = {}
    for gpu in gpus:
        if gpu.numa_node >= 0:
            domains.setdefault(gpu.numa_node, []).append(gpu.index)
    by_index = {gpu.index: gpu for gpu in gpus}
    return tuple((node, tuple(members), node_cpus.get(node) or _affinity_of(by_index[i] for i in members))
                 for node, members in sorted(domains.items()))


def _affinity_of(gpus: Iterable[PlacedGpu]) -> str:
    """A NUMA node's CPUs as its GPUs' CPU affinity shows them, for when the host's node list is unknown (a
    pasted `nvidia-smi topo -m`, whose CPU Affinity column is each GPU's local CPUs, the CPUs of its node).
    One list all the GPUs share is kept as the host wrote it; lists that differ are joined; "" (unknown)
    unless every GPU of the node has one."""
    lists = [gpu.cpu_list.strip() for gpu in gpus]
    if not lists or not all(lists):
        return ""
    if len(set(lists)) == 1:
        return lists[0]
    try:
        return format_cpulist(set().union(*(parse_cpulist(text) for text in lists)))
    except ValueError:
        return ""


def components(nodes: Sequence[int], joined) -> List[Tuple[int, ...]]:
    """Connected components of the graph whose edges `joined(a, b)` accepts; each sorted, by first member."""
    seen, found = set(), []
    for start in nodes:
        if start in seen:
            continue
        stack, members = [start], []
        seen.add(start)
        while stack:
            node = stack.pop()
            members.append(node)
            for other in nodes:
                if other not in seen and joined(node, other):
                    seen.add(other)
                    stack.append(other)
        found.append(tuple(sorted(members)))
    return sorted(found)


def maximal_cliques(nodes: Sequence[int], joined) -> List[Tuple[int, ...]]:
    """Bron–Kerbosch with pivoting. A host has at most 16 GPUs, and NVLink graphs are unions of cliques
    (NVSwitch, bridges) or sparse meshes, so this stays far below its worst case."""
    neighbours = {a: {b for b in nodes if b != a and joined(a, b)} for a in nodes}
    cliques: List[Tuple[int, ...]] = []

    def expand(current: set, candidates: set, excluded: set) -> None:
        if not candidates and not excluded:
            cliques.append(tuple(sorted(current)))
            return
        pivot = max(candidates | excluded, key=lambda node: len(neighbours[node] & candidates))
        for node in sorted(candidates - neighbours[pivot]):
            expand(current | {node}, candidates & neighbours[node], excluded & neighbours[node])
            candidates = candidates - {node}
            excluded = excluded | {node}

    expand(set(), set(nodes), set())
    return sorted(cliques, key=lambda c: (-len(c), c))


def group_cpu_list(gpus: Sequence[PlacedGpu]) -> str:
    """The CPUs local to every GPU of a group: the union of their affinity lists ("" when any is unknown)."""
    cpus = set()
    for gpu in gpus:
        if not gpu.cpu_list:
            return ""
        try:
            cpus |= parse_cpulist(gpu.cpu_list)
        except ValueError:
            return ""
    return format_cpulist(cpus)
