"""Facts about each pair of GPUs: the PCIe path between them, NVLinks, and what P2P NVML allows."""

from __future__ import annotations

from typing import Callable, List, Optional, Tuple

from ...model import Fact, Gpu, GpuPair, Known, NvLink, Reason, Unavailable
from ..probes.nvml import DEVICE_QUERY_SOURCES, P2P_INDEX, NvmlAdapter
from .answers import as_int, to_fact

# nvmlGpuTopologyLevel_t, in the words of `nvidia-smi topo -m`
PCIE_PATHS = {0: "SELF", 10: "PIX", 20: "PXB", 30: "PHB", 40: "NODE", 50: "SYS"}
# nvmlGpuP2PStatus_t
P2P_STATUSES = {
    0: "ok", 1: "chipset_not_supported", 2: "gpu_not_supported", 3: "topology_not_supported",
    4: "disabled_by_regkey", 5: "not_supported", 6: "unknown",
}


def collect_pairs(nvml: NvmlAdapter, gpus: List[Gpu]) -> List[GpuPair]:
    pairs = []
    for position, gpu_a in enumerate(gpus):
        for gpu_b in gpus[position + 1:]:
            pairs.append(_pair(nvml, gpu_a, gpu_b))
    return pairs


def _pair(nvml: NvmlAdapter, gpu_a: Gpu, gpu_b: Gpu) -> GpuPair:
    a, b = gpu_a.index, gpu_b.index
    ancestor = nvml.pair(a, b, "topology_common_ancestor")
    p2p = {name: _p2p(nvml, a, b, index) for name, index in P2P_INDEX.items()}
    count, route = nvlink_route(gpu_a, gpu_b)
    return GpuPair(
        gpu_a=a,
        gpu_b=b,
        pcie_path=to_fact(ancestor, "nvmlDeviceGetTopologyCommonAncestor",
                          lambda level: PCIE_PATHS.get(as_int(level), f"unknown ({level})")),
        nvlink_count=count,
        nvlink_route=route,
        p2p_read=p2p["read"],
        p2p_write=p2p["write"],
        p2p_nvlink=p2p["nvlink"],
        p2p_atomics=p2p["atomics"],
        p2p_pcie=p2p["pcie"],
    )


def _p2p(nvml: NvmlAdapter, a: int, b: int, index: int) -> Fact[str]:
    return to_fact(nvml.pair(a, b, "p2p_status", index), f"nvmlDeviceGetP2PStatus(index {index})",
                   lambda status: P2P_STATUSES.get(as_int(status), f"unknown ({status})"))


def nvlink_route(gpu_a: Gpu, gpu_b: Gpu) -> Tuple[Fact[int], Fact[str]]:
    """How many NVLinks join two GPUs, and whether directly (bridge, mesh) or through NVSwitch.

    Direct links name the other GPU's PCI bus id as their remote end. Links to an NVSwitch name the
    switch (or, inside a VM that does not see the switch, FFFFFFFF:FF:FF.0); every GPU on the fabric
    reaches every other through them, so the usable count is the smaller of the two GPUs' switch links,
    which is what `nvidia-smi topo -m` prints as NV18 on an HGX H100/H200 board.
    """
    for gpu in (gpu_a, gpu_b):
        for fact in (gpu.nvlinks, gpu.pci_bus_id):
            if isinstance(fact, Unavailable):
                return fact, fact
    links_a: List[NvLink] = gpu_a.nvlinks.value  # type: ignore[union-attr]
    links_b: List[NvLink] = gpu_b.nvlinks.value  # type: ignore[union-attr]
    bus_b = _bus(gpu_b.pci_bus_id.value)  # type: ignore[union-attr]
    source = "nvmlDeviceGetNvLinkState, nvmlDeviceGetNvLinkRemotePciInfo_v2, nvmlDeviceGetNvLinkRemoteDeviceType"
    direct = _count(links_a, lambda link: _remote_bus(link) == bus_b)
    if direct:
        return Known(direct, source), Known("direct", source)
    switch_a = _count(links_a, lambda link: _through_switch(link, gpu_a))
    switch_b = _count(links_b, lambda link: _through_switch(link, gpu_b))
    if switch_a and switch_b:
        return Known(min(switch_a, switch_b), source), Known("nvswitch", source)
    for gpu, links in ((gpu_a, links_a), (gpu_b, links_b)):
        for link in links:
            unknown = _unknown_end(link, gpu)
            if unknown is not None:  # an active link to nobody knows where: it may join the two
                return unknown, unknown
    return Known(0, source), Known("none", source)


def _count(links: List[NvLink], accept: Callable[[NvLink], bool]) -> int:
    return sum(1 for link in links if _is_active(link) and accept(link))


def _is_active(link: NvLink) -> bool:
    return isinstance(link.active, Known) and link.active.value


def _bus(bus_id: str) -> str:
    domain, rest = bus_id.split(":", 1)
    return f"{int(domain, 16):08x}:{rest.lower()}"


def _remote_bus(link: NvLink) -> str:
    if isinstance(link.remote_pci_bus_id, Unavailable):
        return ""
    try:
        return _bus(link.remote_pci_bus_id.value)
    except ValueError:
        return ""


def _through_switch(link: NvLink, gpu: Gpu) -> bool:
    if isinstance(link.remote_device_type, Known):
        return link.remote_device_type.value == "nvswitch"
    # Without the remote type (older drivers), an NVSwitch fabric shows in the fabric state.
    fabric = gpu.fabric_state
    return isinstance(fabric, Known) and fabric.value != "not_supported" and \
        _remote_bus(link) in ("ffffffff:ff:ff.0", "")


def _unknown_end(link: NvLink, gpu: Gpu) -> Optional[Unavailable]:
    """Why the far end of an active link is unknown, or None when it is known (or the link is down).
    Known: a remote bus id naming a device, or a remote type that is not a GPU. A link to a GPU whose bus
    id is unknown may reach either; a link to FFFFFFFF:FF:FF.0 (a switch a VM does not see) is placed by
    the fabric state, and without that either, nothing is known."""
    if not isinstance(link.active, Known):
        return link.active
    if not link.active.value:
        return None
    remote = _remote_bus(link)
    if isinstance(link.remote_device_type, Known):
        return _why_no_remote(link) if link.remote_device_type.value == "gpu" and not remote else None
    if remote not in ("ffffffff:ff:ff.0", ""):
        return None
    if isinstance(gpu.fabric_state, Known):
        return None if remote else _why_no_remote(link)
    return gpu.fabric_state


def _why_no_remote(link: NvLink) -> Unavailable:
    if isinstance(link.remote_pci_bus_id, Unavailable):
        return link.remote_pci_bus_id
    return Unavailable(Reason.ERROR, DEVICE_QUERY_SOURCES["nvlink_remote_pci"],
                       f"not a PCI bus id: {link.remote_pci_bus_id.value!r:.80}")
