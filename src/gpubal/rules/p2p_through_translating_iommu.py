from ..model import Fix, GpuPair, Known, Severity, Snapshot
from . import finding, rule
from ..common import links as _links

TRANSLATED = ("DMA", "DMA-FQ")  # the kernel's names for IOMMU domains that translate DMA addresses


@rule("p2p-through-translating-iommu", scope="gpu_pair", area="pcie",
      summary="GPUs that talk over PCIe are not behind an IOMMU in translated mode")
def p2p_through_translating_iommu(pair: GpuPair, snapshot: Snapshot):
    """
    What it checks
        For two GPUs without NVLink between them, on a host that is not a virtual machine: the type of
        each GPU's IOMMU group (/sys/bus/pci/devices/*/iommu_group/type, Linux 5.11+). "DMA" or "DMA-FQ"
        means the IOMMU translates the GPU's addresses; "identity" (iommu=pt) or no group means it does not.

    Why it matters
        NVIDIA documents peer-to-peer copies over PCIe with the IOMMU enabled as unsupported on bare-metal
        Linux and recommends passthrough mode: in translated mode peer traffic fails, hangs NCCL, or
        falls back to slower copies through the CPU.

    How to fix
        Boot with iommu=pt on the kernel command line (keeps the IOMMU for devices that ask for it, and
        passes GPU traffic through), or turn the IOMMU off in the BIOS where nothing needs it; then reboot.

    References
        links.NVIDIA_IOMMU_PASSTHROUGH
        links.NCCL_ACS
    """
    if pair.need("nvlink_count") > 0:
        return  # NVLink carries their peer traffic
    virtualization = snapshot.host.need("virtualization")
    if virtualization != "none":
        return  # in a VM the hypervisor's IOMMU decides, not the guest's command line
    types = snapshot.pci.need("iommu_group_types")
    gpus = {gpu.index: gpu for gpu in snapshot.gpu_list()}
    kinds = {}
    for index in (pair.gpu_a, pair.gpu_b):
        bus = gpus[index].pci_bus_id
        if isinstance(bus, Known) and sysfs_bus_id(bus.value) in types:
            kinds[index] = types[sysfs_bus_id(bus.value)]
    translated = {index: kind for index, kind in kinds.items() if kind in TRANSLATED}
    if not translated:
        return
    subject = pair.subject()
    cmdline = snapshot.pci.kernel_command_line
    yield finding(
        Severity.WARNING, subject,
        f"GPU {pair.gpu_a} and GPU {pair.gpu_b} talk over PCIe (no NVLink) behind an IOMMU in translated mode "
        f"({', '.join(f'GPU {i}: {k}' for i, k in translated.items())}): NVIDIA supports peer-to-peer there only "
        "with iommu=pt",
        {f"{subject}.nvlink_count": 0, "pci.iommu_group_types": {str(i): k for i, k in kinds.items()},
         "pci.kernel_command_line": cmdline.value if isinstance(cmdline, Known) else cmdline.describe()},
        Fix(summary="Boot with iommu=pt, then reboot",
            commands=("sudo grubby --update-kernel=ALL --args=iommu=pt  # RHEL, Rocky, Fedora",
                      "sudoedit /etc/default/grub  # Debian, Ubuntu: add iommu=pt to GRUB_CMDLINE_LINUX, then "
                      "sudo update-grub",
                      "sudo reboot"),
            url=_links.NVIDIA_IOMMU_PASSTHROUGH),
    )


def sysfs_bus_id(nvml_bus_id: str) -> str:
    """NVML's 00000000:3B:00.0 as sysfs names it (and as the collector keys the group types): 0000:3b:00.0."""
    domain, _, rest = nvml_bus_id.partition(":")
    return f"{domain[-4:]}:{rest}".lower()
