from typing import Optional

from ..common.cpulist import format_cpulist, parse_cpulist
from ..model import FactMissing, Fix, GpuProcess, Known, NotApplicable, Severity, Snapshot, need
from . import finding, rule
from ..common import links as _links


@rule("process-pinned-away-from-gpus", scope="host", area="topology",
      summary="A process that uses GPUs may run on CPUs, and allocate memory, of its GPUs' NUMA node")
def process_pinned_away_from_gpus(snapshot: Snapshot):
    """
    What it checks
        For each process NVML lists on a GPU: whether the CPUs it may run on (Cpus_allowed_list) and the
        NUMA nodes it may allocate memory on (Mems_allowed_list) include any of the NUMA node(s) its GPUs
        sit under. It fires only when every allowed CPU, or every allowed memory node, is on another node.

    Why it matters
        Host-to-GPU copies, pinned buffers and the CPU threads feeding the GPU then cross the link
        between sockets on every step: slower transfers and more latency for a model server. It often
        comes from a CPUAffinity= or numactl line written for another GPU, or a container's cpuset.

    How to fix
        Pin the process to the CPUs and memory of its GPUs' node (nvidia-smi topo -m shows it): start it
        with numactl --cpunodebind=N --membind=N, or set CPUAffinity= and NUMAPolicy=bind with
        NUMAMask= in its systemd unit (NUMAPolicy= and NUMAMask= need systemd 243 or newer), or give
        its container that node's cpuset (docker run --cpuset-cpus --cpuset-mems).

    References
        links.SYSTEMD_EXEC
        https://github.com/systemd/systemd/blob/main/NEWS
        https://manpages.ubuntu.com/manpages/oracular/man8/numactl.8.html
        links.NCCL_TROUBLESHOOTING
    """
    nodes = need(snapshot.host.numa_nodes, "host.numa_nodes")
    if len(nodes) < 2:
        return  # one NUMA node: whatever runs, every CPU is as near the GPUs as any other
    processes = need(snapshot.processes, "processes")
    holding = [process for process in processes if _holds_gpus(process)]
    if not holding:
        raise NotApplicable("no process holds a GPU now")
    cpus_by_node = {node.node_id: parse_cpulist(node.cpu_list) for node in nodes}
    missing: Optional[FactMissing] = None
    for process in holding:
        try:
            gpu_nodes = process.need("gpu_numa_nodes")
            cpus = parse_cpulist(process.need("cpus_allowed"))
            memory_nodes = parse_cpulist(process.need("memory_nodes_allowed"))
        except FactMissing as lacking:
            missing = missing or lacking
            continue
        if not gpu_nodes:
            continue  # the firmware names no node for its GPUs: nothing is near or far
        near_cpus = set().union(*(cpus_by_node.get(node, set()) for node in gpu_nodes))
        cpus_far, memory_far = not cpus & near_cpus, not memory_nodes & set(gpu_nodes)
        if not (cpus_far or memory_far):
            continue
        subject = process.subject()
        node_text = ",".join(map(str, gpu_nodes))
        program = process.program.value if isinstance(process.program, Known) else "process"
        what = " and ".join(part for part, far in (("CPUs", cpus_far), ("memory", memory_far)) if far)
        yield finding(
            Severity.WARNING, subject,
            f"PID {process.pid} ({program}) uses GPU {','.join(map(str, process.gpus_held.value))} on NUMA node "
            f"{node_text}, but its {what} may only come from another node (CPUs {format_cpulist(cpus)}, "
            f"memory nodes {format_cpulist(memory_nodes)})",
            {f"{subject}.gpus_held": process.gpus_held.value, f"{subject}.gpu_numa_nodes": gpu_nodes,
             f"{subject}.cpus_allowed": process.cpus_allowed.value,
             f"{subject}.memory_nodes_allowed": process.memory_nodes_allowed.value,
             f"host.numa_node:{node_text}.cpus": format_cpulist(near_cpus)},
            Fix(
                summary=f"Run it on NUMA node {node_text}'s CPUs and memory, where its GPUs are",
                commands=(f"numactl --cpunodebind={node_text} --membind={node_text} COMMAND",
                          f"taskset -a -p -c {format_cpulist(near_cpus)} {process.pid}  # CPUs only, until it restarts",
                          f"systemctl set-property {_unit(process)} CPUAffinity={format_cpulist(near_cpus)} "
                          f"NUMAPolicy=bind NUMAMask={node_text}  # systemd 243+; then restart the unit"),
                url=_links.SYSTEMD_EXEC,
            ),
        )
    if missing is not None:
        raise missing


def _holds_gpus(process: GpuProcess) -> bool:
    return isinstance(process.gpus_held, Known) and bool(process.gpus_held.value)


def _unit(process: GpuProcess) -> str:
    """The systemd service its cgroup names (/system.slice/vllm.service), else a placeholder to fill in."""
    if isinstance(process.cgroup, Known):
        last = process.cgroup.value.rstrip("/").rsplit("/", 1)[-1]
        if last.endswith(".service"):
            return last
    return "UNIT.service"
