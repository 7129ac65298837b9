from ..model import Fix, GpuPair, Known, Severity, Snapshot, value_or
from . import finding, rule
from ..common import links as _links

_WHY = {
    "chipset_not_supported": "the chipset or its settings block it (often PCIe ACS or the IOMMU)",
    "topology_not_supported": "the path between the GPUs crosses a link that does not carry P2P",
    "gpu_not_supported": "the GPU model or driver does not offer P2P (GeForce cards, for example)",
    "disabled_by_regkey": "it is disabled by a driver registry key",
    "not_supported": "the driver reports it as not supported",
    "unknown": "the driver cannot tell",
}


@rule("p2p-unsupported-between-gpus", scope="gpu_pair", area="topology",
      summary="Two GPUs can read and write each other's memory directly (P2P)")
def p2p_unsupported_between_gpus(pair: GpuPair, snapshot: Snapshot):
    """
    What it checks
        NVML's peer-to-peer status between two GPUs, over NVLink and over PCIe (read and write).
        The pair passes when any of these paths is "ok".

    Why it matters
        Without P2P every transfer between the two GPUs bounces through host memory: NCCL falls back
        to shared memory, tensor-parallel inference slows down, and a model split across the pair moves
        its activations through the CPU. The common causes are PCIe ACS left on, IO virtualization
        (VT-d, the IOMMU) redirecting peer traffic, or consumer GPUs whose driver does not offer P2P.
        A setting that blocks P2P (chipset or registry key) is a warning. Where the hardware itself
        does not offer it, P2P is absent by design rather than broken, and the finding is info: GPUs
        the driver does not allow P2P on (GeForce, mixed models), and pairs across CPU sockets (SYS)
        whose path does not carry it.

    How to fix
        Depends on the reason NVML gives. NCCL's troubleshooting guide says to disable ACS on the PCIe
        switches (`setpci -v -s BDF ECAP_ACS+0x6.w=0000`, redone after each boot, or in the BIOS) and
        to disable IO virtualization (VT-d) on bare metal. GPUs that do not support P2P cannot be made
        to: keep tightly coupled work on one GPU or on NVLink-connected ones.

    References
        links.NCCL_TROUBLESHOOTING
    """
    paths = ("p2p_nvlink", "p2p_read", "p2p_write")
    if any(value_or(getattr(pair, name), "") == "ok" for name in paths):
        return  # one working path is enough, even when another could not be read
    statuses = {name: pair.need(name) for name in paths}
    reason = statuses["p2p_read"]
    path = pair.pcie_path.value if isinstance(pair.pcie_path, Known) else "unknown"
    by_design = reason == "gpu_not_supported" or (reason == "topology_not_supported" and path == "SYS")
    yield finding(
        Severity.INFO if by_design else Severity.WARNING, pair.subject(),
        f"GPU {pair.gpu_a} and GPU {pair.gpu_b} cannot access each other's memory directly: "
        f"{_WHY.get(reason, reason)}",
        {**{f"{pair.subject()}.{name}": value for name, value in statuses.items()},
         f"{pair.subject()}.pcie_path": path},
        Fix(
            summary="Check ACS and IO virtualization (VT-d); P2P over PCIe needs both out of the way",
            commands=("nvidia-smi topo -p2p r", "sudo lspci -vvv | grep -i acsctl"),
            url=_links.NCCL_TROUBLESHOOTING,
        ),
    )
