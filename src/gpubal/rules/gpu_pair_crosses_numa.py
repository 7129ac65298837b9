from ..model import Fix, GpuPair, Severity, Snapshot
from . import finding, rule
from ..common import links as _links


@rule("gpu-pair-crosses-numa", scope="gpu_pair", area="topology",
      summary="GPUs without NVLink between them sit under the same CPU socket")
def gpu_pair_crosses_numa(pair: GpuPair, snapshot: Snapshot):
    """
    What it checks
        Whether traffic between two GPUs that have no NVLink between them must cross the link between
        CPU sockets (`SYS` in `nvidia-smi topo -m`).

    Why it matters
        Transfers across the socket interconnect (UPI, Infinity Fabric) are slower and often cannot use
        P2P at all. A model split across such a pair, or a tensor-parallel group that spans sockets,
        runs slower than one kept under one socket. It is advice for placement, not a fault.

    How to fix
        Prefer groups of GPUs under the same socket for work that is split across GPUs: choose them
        with CUDA_VISIBLE_DEVICES and bind the serving process to that socket's CPUs and memory with
        numactl.

    References
        links.NCCL_TROUBLESHOOTING
    """
    if pair.need("nvlink_count") > 0:
        return  # NVLink carries the traffic; the PCIe path does not matter
    path = pair.need("pcie_path")
    if path != "SYS":
        return
    yield finding(
        Severity.INFO, pair.subject(),
        f"GPU {pair.gpu_a} and GPU {pair.gpu_b} talk across CPU sockets (SYS) and have no NVLink",
        {f"{pair.subject()}.pcie_path": path, f"{pair.subject()}.nvlink_count": 0},
        Fix(
            summary="Group GPUs per socket for split models; pin the server to that socket",
            commands=("nvidia-smi topo -m", "numactl --cpunodebind=NODE --membind=NODE COMMAND"),
            url=_links.NCCL_TROUBLESHOOTING,
        ),
    )
