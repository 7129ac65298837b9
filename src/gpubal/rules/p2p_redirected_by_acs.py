from typing import List

from ..model import Fix, GpuPair, Severity, Snapshot
from . import finding, rule
from ..common import links as _links

REDIRECTS = ("ReqRedir", "CmpltRedir")


@rule("p2p-redirected-by-acs", scope="gpu_pair", area="pcie",
      summary="Peer-to-peer traffic between GPUs under one PCIe switch is not sent up to the CPU by ACS")
def p2p_redirected_by_acs(pair: GpuPair, snapshot: Snapshot):
    """
    What it checks
        For two GPUs without NVLink between them that share a PCIe bridge (a switch: PIX or PXB in
        nvidia-smi topo -m): whether a bridge on the way from either GPU up to the shared one has ACS
        Request or Completion Redirect enabled (lspci -vvv, ACSCtl: ReqRedir+ or CmpltRedir+; needs root).
        GPUs under different root ports talk through the root complex anyway and are not judged here.

    Why it matters
        With ACS redirect on, the switch sends every peer-to-peer request up to the root complex instead
        of across to the other GPU: bandwidth drops, and where the root complex or the IOMMU does not pass
        peer traffic, NCCL hangs or copies return garbage. A model split across these GPUs is slow or
        broken.

    How to fix
        Disable ACS in the BIOS (often "PCIe ACS" or "ACS Control"), or clear the ACS control register
        of the bridges named, which lasts until the next reboot: sudo setpci -v -s BRIDGE
        ECAP_ACS+0x6.w=0000. Virtual machines passing GPUs through need ACS: fix it there on the host.

    References
        links.NCCL_ACS
    """
    if pair.need("nvlink_count") > 0:
        return  # NVLink carries their peer traffic
    pci = snapshot.pci
    paths = pci.need("gpu_pci_paths")
    path_a, path_b = paths.get(str(pair.gpu_a)), paths.get(str(pair.gpu_b))
    if path_a is None or path_b is None:
        return  # a GPU whose PCI device sysfs does not show: nothing to walk
    shared = 0
    while shared < min(len(path_a), len(path_b)) and path_a[shared] == path_b[shared]:
        shared += 1
    if shared == 0:
        return  # different root ports: the traffic crosses the root complex whatever ACS says
    controls = pci.need("acs_controls")
    below: List[str] = path_a[shared:] + path_b[shared:]
    redirecting = {bridge: [flag for flag in controls.get(bridge, []) if flag in REDIRECTS] for bridge in below}
    redirecting = {bridge: flags for bridge, flags in redirecting.items() if flags}
    if not redirecting:
        return
    subject = pair.subject()
    names = ", ".join(f"{bridge} ({'+ '.join(flags)}+)" for bridge, flags in redirecting.items())
    yield finding(
        Severity.WARNING, subject,
        f"Peer-to-peer between GPU {pair.gpu_a} and GPU {pair.gpu_b} (no NVLink, one PCIe switch) is redirected to "
        f"the root complex by ACS on {names}",
        {f"{subject}.nvlink_count": 0, "pci.gpu_pci_paths": {str(pair.gpu_a): path_a, str(pair.gpu_b): path_b},
         "pci.acs_controls": {bridge: controls[bridge] for bridge in redirecting}},
        Fix(summary="Disable ACS redirect on these bridges (BIOS setting, or setpci until reboot)",
            commands=tuple(f"sudo setpci -v -s {bridge} ECAP_ACS+0x6.w=0000" for bridge in redirecting)
            + ("sudo lspci -vvv | grep ACSCtl",),
            url=_links.NCCL_ACS),
    )
