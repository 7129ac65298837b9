"""Placement advice for each group size: the groups, why each is what it is, and the exact settings.

Every flag and variable printed here exists in the named tool: CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER
(CUDA runtime), OLLAMA_HOST and OLLAMA_SCHED_SPREAD (Ollama's envconfig), `numactl --cpunodebind
--membind`, `taskset -c`, systemd's Environment=, CPUAffinity=, NUMAPolicy= and NUMAMask= (systemd.exec),
`vllm serve --tensor-parallel-size --pipeline-parallel-size --port`, and
`python -m sglang.launch_server --model-path --tp-size --port`.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from ..model import Snapshot, record
from .groups import Partition, best_partition, default_group_sizes
from .topology import (TIER_MEANING, TIER_NVLINK, TIER_PHB, TIER_SYS, TIER_UNKNOWN, TIER_WORDS, PlacedGpu,
                       Topology, build_topology, group_cpu_list)

OLLAMA_BASE_PORT = 11434  # group 0 keeps Ollama's default port, so existing clients still reach a server
VLLM_BASE_PORT = 8000
SGLANG_BASE_PORT = 30000

CUDA_ORDER_NOTE = (
    "CUDA numbers GPUs fastest first by default (CUDA_DEVICE_ORDER=FASTEST_FIRST), while nvidia-smi and NVML "
    "number them by PCI bus id; on a host with different GPU models (or after a GPU is added) the two "
    "orders differ, so `CUDA_VISIBLE_DEVICES=1` may name another GPU than nvidia-smi's GPU 1. UUIDs name "
    "one GPU whatever the order; indices are safe only with CUDA_DEVICE_ORDER=PCI_BUS_ID."
)


@record
class GroupAdvice:
    number: int
    gpus: Tuple[int, ...]
    uuids: Tuple[str, ...]
    link: str  # the worst link inside the group: NV18, PIX, SYS ... ("-" for one GPU)
    numa_node: int  # the NUMA node all members share; -1 when they span several or none is known
    cpu_list: str  # CPUs local to the group ("" when unknown)
    memory_total_bytes: Tuple[int, ...]
    reasons: Tuple[str, ...]  # the evidence behind the choice, one sentence each
    warnings: Tuple[str, ...]  # what is less than ideal about it
    cuda_visible_devices: str  # by UUID
    cuda_visible_devices_by_index: str  # valid with CUDA_DEVICE_ORDER=PCI_BUS_ID
    cpu_binding: str  # `numactl ...` or `taskset -c ...` prefix, "" when nothing is known
    ollama_port: int
    ollama_command: str
    systemd_drop_in: Tuple[str, ...]  # lines of /etc/systemd/system/ollama@N.service.d/gpus.conf
    vllm_command: str  # "" for one GPU
    sglang_command: str


@record
class Layout:
    group_size: int
    method: str
    candidates: int
    groups: Tuple[GroupAdvice, ...]
    notes: Tuple[str, ...]
    spread_command: str  # one Ollama server spread over all GPUs of the host
    load_balancer: Tuple[str, ...]  # nginx upstream lines for the per-group servers


@record
class TopoAdvice:
    topology: Topology
    layouts: Tuple[Layout, ...]
    cuda_order_note: str
    notes: Tuple[str, ...]


def advise(snapshot: Snapshot, group_sizes: Optional[Sequence[int]] = None) -> TopoAdvice:
    """Raises ValueError when a group size does not divide the number of usable GPUs."""
    topology = build_topology(snapshot)
    count = len(topology.gpus)
    sizes = list(group_sizes) if group_sizes else default_group_sizes(count)
    for size in sizes:
        if size < 1 or size > count or count % size:
            raise ValueError(f"--group-size {size} does not divide the {count} usable GPU"
                             f"{'s' if count != 1 else ''} of this host")
    notes = []
    for index, why in topology.excluded:
        notes.append(f"GPU {index} is left out: {why}.")
    if any(gpu.mig_enabled for gpu in topology.gpus):
        notes.append("MIG is on for some GPUs: CUDA sees their MIG devices, not the whole GPU; name MIG "
                     "device UUIDs (nvidia-smi -L) in CUDA_VISIBLE_DEVICES instead of the GPU UUIDs below.")
    if len({gpu.name for gpu in topology.gpus}) > 1:
        notes.append("The GPUs are not all the same model: CUDA's default order (fastest first) differs from "
                     "nvidia-smi's here; use the UUIDs, or CUDA_DEVICE_ORDER=PCI_BUS_ID with indices.")
    layouts = tuple(_layout(topology, best_partition(topology, size)) for size in sizes) if count else ()
    if not count:
        notes.append("No GPU can be placed: NVML listed none with a known UUID.")
    return TopoAdvice(topology, layouts, CUDA_ORDER_NOTE, tuple(notes))


def _layout(topology: Topology, partition: Partition) -> Layout:
    groups = tuple(_group(topology, number, members, partition) for number, members in enumerate(partition.groups))
    k, count = partition.group_size, len(topology.gpus)
    notes: List[str] = []
    searched = (f"the best of all {partition.candidates:,} ways to cut {count} GPUs into groups of {k}"
                if partition.method == "exhaustive" else
                f"chosen greedily from several starts and improved by local search among {partition.candidates:,} "
                f"possible partitions")
    if count > 1 and 1 < k and partition.candidates > 1:
        notes.append(f"Groups are {searched}, ranked by NVLink, then PCIe switch, then NUMA node, then equal memory.")
    if k == 1 and count > 1:
        notes.append("One server per GPU: each GPU holds a whole copy of the model; a load balancer spreads "
                     "requests. Best throughput when the model fits one GPU.")
    if k == count and count > 1:
        notes.append("One group of every GPU: for a model that needs all of their memory, or tensor parallelism "
                     "over all of them.")
    if groups and any(group.link in ("SYS",) for group in groups) and k > 1:
        notes.append(_why_sys_unavoidable(topology, k))
    spread = _env_prefix([("OLLAMA_SCHED_SPREAD", "1"),
                          ("CUDA_VISIBLE_DEVICES", ",".join(gpu.uuid for gpu in topology.gpus))]) + " ollama serve"
    balancer = ("upstream ollama_groups {", "    least_conn;") + tuple(
        f"    server 127.0.0.1:{group.ollama_port};" for group in groups) + (
        "}", "server { listen 127.0.0.1:8080; location / { proxy_pass http://ollama_groups; "
             "proxy_buffering off; proxy_read_timeout 600s; } }")
    return Layout(k, partition.method, partition.candidates, groups, tuple(notes), spread, balancer)


def _why_sys_unavoidable(topology: Topology, k: int) -> str:
    sizes = ", ".join(f"node {node}: {len(members)}" for node, members, _ in topology.numa_domains)
    return (f"A group crosses CPU sockets (SYS) because no way of cutting the GPUs into groups of {k} avoids it "
            f"(GPUs per NUMA node: {sizes or 'unknown'}); traffic inside such a group goes over the socket "
            "interconnect.")


def _group(topology: Topology, number: int, members: Tuple[int, ...], partition: Partition) -> GroupAdvice:
    gpus = [topology.gpu(index) for index in members]
    links = [topology.link(a, b) for i, a in enumerate(members) for b in members[i + 1:]]
    worst = max(links, key=lambda link: (link.tier, link.pcie_tier, -link.nvlink_count), default=None)
    numa_nodes = {gpu.numa_node for gpu in gpus}
    numa_node = next(iter(numa_nodes)) if len(numa_nodes) == 1 else -1
    cpu_list = group_cpu_list(gpus)
    reasons, warnings = _explain(topology, gpus, links, worst, numa_node, cpu_list)
    uuids = ",".join(gpu.uuid for gpu in gpus)
    by_index = ",".join(str(index) for index in members)
    # with one NUMA node every CPU and all memory are local already: binding would only restrict
    single_node = len(topology.numa_domains) <= 1 and numa_node >= 0
    binding = "" if single_node else _cpu_binding(numa_node, cpu_list)
    port = OLLAMA_BASE_PORT + number
    env = [("CUDA_VISIBLE_DEVICES", uuids), ("OLLAMA_HOST", f"127.0.0.1:{port}")]
    ollama = " ".join(part for part in (_env_prefix(env), binding, "ollama serve") if part)
    drop_in = ["[Service]"] + [f'Environment="{name}={value}"' for name, value in env]
    if numa_node >= 0 and not single_node:  # NUMAPolicy= and NUMAMask= came with systemd 243 (its NEWS)
        drop_in += ["NUMAPolicy=bind", f"NUMAMask={numa_node}"]
    if cpu_list and not single_node:
        drop_in.append(f"CPUAffinity={cpu_list.replace(',', ' ')}")
    k = len(members)
    vllm = sglang = ""
    if k > 1:
        prefix = " ".join(part for part in (_env_prefix([("CUDA_VISIBLE_DEVICES", uuids)]), binding) if part)
        vllm = f"{prefix} vllm serve MODEL --tensor-parallel-size {k} --port {VLLM_BASE_PORT + number}"
        sglang = f"{prefix} python -m sglang.launch_server --model-path MODEL --tp-size {k} --port {SGLANG_BASE_PORT + number}"
    return GroupAdvice(
        number=number, gpus=members, uuids=tuple(gpu.uuid for gpu in gpus),
        link=worst.label if worst is not None else "-", numa_node=numa_node, cpu_list=cpu_list,
        memory_total_bytes=tuple(gpu.memory_total_bytes for gpu in gpus), reasons=tuple(reasons),
        warnings=tuple(warnings), cuda_visible_devices=uuids, cuda_visible_devices_by_index=by_index,
        cpu_binding=binding, ollama_port=port, ollama_command=ollama, systemd_drop_in=tuple(drop_in),
        vllm_command=vllm, sglang_command=sglang,
    )


def _explain(topology: Topology, gpus: List[PlacedGpu], links, worst, numa_node: int, cpu_list: str):
    reasons: List[str] = []
    warnings: List[str] = []
    names = " and ".join(f"GPU {gpu.index}" for gpu in gpus) if len(gpus) <= 2 else \
        "GPUs " + ", ".join(str(gpu.index) for gpu in gpus)
    if worst is None:
        reasons.append(f"GPU {gpus[0].index} alone: nothing to share with another GPU.")
    elif worst.tier == TIER_NVLINK:
        routes = {link.nvlink_route for link in links}
        how = "through NVSwitch" if routes == {"nvswitch"} else "directly (bridge or mesh)" if routes == {"direct"} \
            else "directly or through NVSwitch"
        fewest = min(link.nvlink_count for link in links)
        reasons.append(f"{names}: every pair is joined by NVLink {how}, at least {fewest} link"
                       f"{'s' if fewest != 1 else ''} (NV{fewest}): an NVLink clique.")
    else:
        reasons.append(f"{names}: no NVLink between {'them' if len(gpus) == 2 else 'all of them'}; the worst pair "
                       f"(GPU {worst.gpu_a}-GPU {worst.gpu_b}) is {TIER_MEANING[worst.tier]}.")
        better = [c for c in topology.nvlink_cliques if len(c) >= len(gpus)]
        nvlink_unknown = any(link.nvlink_route == "unknown" for link in topology.links.values())
        if not better and not nvlink_unknown:
            reasons.append(f"No NVLink clique of {len(gpus)} GPUs exists on this host, so the PCIe path decides.")
        if worst.tier == TIER_SYS:
            warnings.append(f"Crosses CPU sockets ({TIER_WORDS[worst.tier]}): GPU-to-GPU traffic goes over the "
                            "socket interconnect; tensor parallelism will be slow here.")
        elif TIER_PHB <= worst.tier < TIER_SYS:
            warnings.append(f"GPU-to-GPU traffic goes through the CPU ({TIER_WORDS[worst.tier]}); prefer one "
                            "server per GPU, or pipeline parallelism (vLLM --pipeline-parallel-size), over "
                            "tensor parallelism.")
        if worst.tier == TIER_UNKNOWN:
            warnings.append("NVML did not say how some of these GPUs are connected; nothing is assumed.")
        if any(link.nvlink_route == "unknown" for link in links):
            reasons.append("Whether NVLink joins some of these GPUs could not be read.")
    if worst is not None and worst.tier == TIER_NVLINK:
        pcie_worst = max(link.pcie_tier for link in links)
        if pcie_worst == TIER_SYS:  # an unknown path (ranked below SYS) says nothing about sockets
            warnings.append("Its GPUs hang off different CPU sockets (PCIe path SYS); NVLink carries their "
                            "traffic, but the serving process is local to only part of the group.")
    if numa_node >= 0 and len(topology.numa_domains) <= 1:
        reasons.append(f"The host has one NUMA node ({numa_node}): every CPU is local, no CPU binding needed.")
    elif numa_node >= 0:
        reasons.append(f"All on NUMA node {numa_node}" + (f"; local CPUs {cpu_list}." if cpu_list else "."))
    elif len({gpu.numa_node for gpu in gpus}) > 1:
        nodes = sorted({gpu.numa_node for gpu in gpus})
        if -1 in nodes:
            warnings.append("The NUMA node of some GPUs is unknown; no memory binding is advised.")
        else:
            warnings.append(f"Spans NUMA nodes {', '.join(map(str, nodes))}: no single node is local to all of it; "
                            "the CPU list below covers all of them.")
    memories = {gpu.memory_total_bytes for gpu in gpus}
    if len(memories) > 1:
        sizes = " and ".join(f"{m / 2**30:.0f} GiB" for m in sorted(memories, reverse=True))
        warnings.append(f"Unequal memory ({sizes}): a tensor-parallel engine is limited by the smallest GPU; "
                        "Ollama and llama.cpp split layers by free memory instead.")
    elif len(gpus) > 1 and 0 not in memories:
        reasons.append(f"Equal memory: {next(iter(memories)) / 2**30:.0f} GiB each.")
    return reasons, warnings


def _cpu_binding(numa_node: int, cpu_list: str) -> str:
    if numa_node >= 0:
        return f"numactl --cpunodebind={numa_node} --membind={numa_node}"
    if cpu_list:
        return f"taskset -c {cpu_list}"
    return ""


def _env_prefix(pairs) -> str:
    return " ".join(f"{name}={value}" for name, value in pairs)
