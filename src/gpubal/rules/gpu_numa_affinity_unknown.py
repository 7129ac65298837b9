from ..model import Fix, Gpu, Severity, Snapshot
from ..common import links as _links
from . import finding, rule
from ._gpu import short_bus_id


@rule("gpu-numa-affinity-unknown", scope="gpu", area="topology",
      summary="On a multi-socket host, each GPU's NUMA node is known")
def gpu_numa_affinity_unknown(gpu: Gpu, snapshot: Snapshot):
    """
    What it checks
        On hosts with more than one NUMA node, whether the firmware tells the kernel which node each
        GPU hangs off (sysfs numa_node is -1 when it does not) and NVML names none either.

    Why it matters
        Without it, nvidia-smi topo, NCCL, numactl-based pinning and gpubal cannot place the serving
        process next to its GPUs, and a wrong guess sends every host-to-GPU copy across the socket
        link. It happens on some BIOS settings and in VMs whose virtual NUMA layout does not include
        the passed-through GPUs.

    How to fix
        On bare metal, update the BIOS or enable its ACPI SRAT / NUMA options; in a VM, give the guest a
        NUMA topology that places the GPU's PCI root port on the right node (for example libvirt's
        `<numa>` with a pcie-expander-bus tied to a node).

    References
        links.KERNEL_NUMA_MEMORY_POLICY
    """
    nodes = snapshot.host.need("numa_nodes")
    if len(nodes) <= 1:
        return
    node = gpu.need("numa_node")
    if node >= 0:
        return
    yield finding(
        Severity.WARNING, gpu.subject(),
        f"GPU {gpu.index} has no NUMA node on a host with {len(nodes)} NUMA nodes",
        {f"{gpu.subject()}.numa_node": node, "host.numa_nodes": len(nodes)},
        Fix(
            summary="Have the firmware (or the hypervisor) report the GPU's NUMA node",
            commands=(f"cat /sys/bus/pci/devices/{short_bus_id(gpu)}/numa_node", "nvidia-smi topo -m"),
            url=_links.KERNEL_NUMA_MEMORY_POLICY,
        ),
    )
