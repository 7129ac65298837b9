"""Partition the GPUs into groups of k, best groups first.

A group's cost is a tuple compared in order: its worst link tier (NVLink, PIX, PXB, PHB, NODE, SYS), the
number of NUMA nodes it spans beyond one, whether its GPUs differ in memory, its worst PCIe path (which
tells apart NVLink groups on one socket from NVLink groups across two), the sums of its pairs' tiers, and
its fewest NVLinks between two members. A partition's cost is its groups' costs sorted worst first and
compared lexicographically: the worst group is made as good as possible, then the next, and so on, which
is "SYS only when unavoidable".

Small cases are solved exactly by enumerating every partition (at most EXACT_LIMIT of them: 8 GPUs in
pairs are 105, in fours 35; 12 GPUs in halves 462). Larger ones use greedy starts (most constrained GPU
first, or one of a few fixed seeds; then the partner that keeps the group cheapest), each refined by
swapping GPUs between two groups while a swap makes the pair cheaper (O(n^2 k) per pass) and, for groups
of up to 4, by re-splitting every two groups exactly (at most 35 splits per pair); the cheapest result
wins. A few milliseconds for 16 GPUs (bench/bench_topo.py). On random 8-GPU topologies (adversarial:
real hosts are trees of switches plus cliques) it matches the exhaustive optimum in 97 % of cases.
"""

from __future__ import annotations

import math
from typing import Dict, List, Sequence, Tuple

from ..model import record
from .topology import Topology

EXACT_LIMIT = 1_000

GroupCost = Tuple[int, int, int, int, int, int, int]


@record
class Partition:
    group_size: int
    groups: Tuple[Tuple[int, ...], ...]  # sorted groups of GPU indices, best group first
    costs: Tuple[GroupCost, ...]  # the cost of each group, in the same order
    method: str  # "exhaustive" or "greedy + local search"
    candidates: int  # how many partitions exist


def partition_count(n: int, k: int) -> int:
    """n! / ((k!)^(n/k) (n/k)!): the number of ways to cut n GPUs into unlabelled groups of k."""
    groups = n // k
    return math.factorial(n) // (math.factorial(k) ** groups * math.factorial(groups))


def group_cost(topology: Topology, members: Sequence[int]) -> GroupCost:
    tiers, pcie_tiers, nvlinks = [], [], []
    links = topology.links
    for position, a in enumerate(members):
        for b in members[position + 1:]:
            link = links[(a, b)]
            tiers.append(link.tier)
            pcie_tiers.append(link.pcie_tier)
            nvlinks.append(link.nvlink_count)
    by_index = {gpu.index: gpu for gpu in topology.gpus}
    numa = {by_index[index].numa_node for index in members}
    memory = {by_index[index].memory_total_bytes for index in members}
    return (
        max(tiers, default=0),
        len(numa) - 1,
        1 if len(memory) > 1 else 0,
        max(pcie_tiers, default=0),
        sum(tiers),
        sum(pcie_tiers),
        -min(nvlinks, default=0),
    )


def _key(costs: Sequence[GroupCost], groups: Sequence[Tuple[int, ...]]):
    return sorted(costs, reverse=True), sorted(groups)


def best_partition(topology: Topology, group_size: int) -> Partition:
    indices = [gpu.index for gpu in topology.gpus]
    n = len(indices)
    if group_size < 1 or n % group_size:
        raise ValueError(f"{n} GPUs cannot be cut into groups of {group_size}")
    candidates = partition_count(n, group_size)
    cache: Dict[Tuple[int, ...], GroupCost] = {}

    def cost(group: Tuple[int, ...]) -> GroupCost:
        if group not in cache:
            cache[group] = group_cost(topology, group)
        return cache[group]

    if candidates <= EXACT_LIMIT:
        groups, method = _exhaustive(indices, group_size, cost), "exhaustive"
    else:
        groups, method = _local_search(topology, indices, group_size, cost), "greedy + local search"
    ordered = sorted(groups, key=lambda group: (cost(group), group))
    return Partition(group_size, tuple(ordered), tuple(cost(g) for g in ordered), method, candidates)


def _exhaustive(indices: List[int], k: int, cost) -> List[Tuple[int, ...]]:
    best: List = []
    best_key = None

    def extend(remaining: List[int], chosen: List[Tuple[int, ...]]) -> None:
        nonlocal best, best_key
        if not remaining:
            key = _key([cost(g) for g in chosen], chosen)
            if best_key is None or key < best_key:
                best, best_key = list(chosen), key
            return
        first, rest = remaining[0], remaining[1:]
        for companions in _combinations(rest, k - 1):
            group = (first,) + companions
            left = [index for index in rest if index not in companions]
            extend(left, chosen + [group])

    extend(indices, [])
    return best


def _combinations(items: List[int], r: int):
    from itertools import combinations

    return combinations(items, r)


PAIR_SPLITS_LIMIT = 35  # two groups of 4 have 35 splits; larger groups are refined by swaps alone


def _local_search(topology: Topology, indices: List[int], k: int, cost) -> List[Tuple[int, ...]]:
    """Greedy starts from a few seeds, each refined until no change to two groups makes them cheaper;
    the cheapest result wins."""
    best: List[Tuple[int, ...]] = []
    best_key = None
    seeds = [None] + indices[:: max(1, len(indices) // 4)]
    for seed in seeds:
        groups = _swap_refine(_greedy(topology, indices, k, cost, seed), cost)
        if math.comb(2 * k, k) // 2 <= PAIR_SPLITS_LIMIT:
            groups = _pair_refine(groups, k, cost)
        key = _key([cost(g) for g in groups], groups)
        if best_key is None or key < best_key:
            best, best_key = groups, key
    return best


def _pair_refine(groups: List[Tuple[int, ...]], k: int, cost) -> List[Tuple[int, ...]]:
    """For every two groups, the best of all ways to split their 2k GPUs into two groups of k."""
    from itertools import combinations

    improved = True
    while improved:
        improved = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                pool = sorted(groups[i] + groups[j])
                now = sorted([cost(groups[i]), cost(groups[j])], reverse=True)
                first, rest = pool[0], pool[1:]
                for companions in combinations(rest, k - 1):
                    a = (first,) + companions
                    b = tuple(index for index in rest if index not in companions)
                    candidate = sorted([cost(a), cost(b)], reverse=True)
                    if candidate < now:
                        groups[i], groups[j], now, improved = a, b, candidate, True
    return groups


def _greedy(topology: Topology, indices: List[int], k: int, cost, seed=None) -> List[Tuple[int, ...]]:
    unassigned = list(indices)
    groups: List[Tuple[int, ...]] = []
    while unassigned:
        def constraint(index: int):
            # the tier of this GPU's (k-1)-th best partner: the GPU hardest to place well goes first
            tiers = sorted(topology.link(index, other).tier for other in unassigned if other != index)
            return (-(tiers[k - 2] if k > 1 else 0), index)

        group = [seed if seed in unassigned else min(unassigned, key=constraint)]
        seed = None
        while len(group) < k:
            pick = min((c for c in unassigned if c not in group),
                       key=lambda c: (cost(tuple(sorted(group + [c]))), c))
            group.append(pick)
        groups.append(tuple(sorted(group)))
        unassigned = [index for index in unassigned if index not in group]
    return groups


def _swap_refine(groups: List[Tuple[int, ...]], cost) -> List[Tuple[int, ...]]:
    improved = True
    while improved:
        improved = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                a, b = groups[i], groups[j]
                now = sorted([cost(a), cost(b)], reverse=True)
                for x in a:
                    for y in b:
                        new_a = tuple(sorted([m for m in a if m != x] + [y]))
                        new_b = tuple(sorted([m for m in b if m != y] + [x]))
                        if sorted([cost(new_a), cost(new_b)], reverse=True) < now:
                            groups[i], groups[j] = a, b = new_a, new_b
                            now = sorted([cost(a), cost(b)], reverse=True)
                            improved = True
                            break
                    else:
                        continue
                    break
    return groups


def default_group_sizes(gpu_count: int) -> List[int]:
    return [k for k in range(1, gpu_count + 1) if gpu_count % k == 0]
