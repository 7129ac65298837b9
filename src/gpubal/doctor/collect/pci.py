"""The PCIe platform between GPUs, for peer-to-peer: the bridges above each GPU (sysfs), the IOMMU mode of
each GPU's group (sysfs), the kernel command line, and the ACS controls of bridges (lspci -vvv, which
needs root to read them: the ACS capability lives in extended configuration space).

lspci runs only where it can matter: when some pair of GPUs has no NVLink between them, so that their
peer-to-peer traffic would cross PCIe."""

from __future__ import annotations

import re
from typing import Dict, List, Optional

from ...model import Fact, Gpu, GpuPair, Known, PciPlatform, Reason, Unavailable
from ..probes.commands import CommandRunner
from ..probes.files import HostFiles
from ...common.lazy import lazy

LSPCI = ("lspci", "-vvv")
LSPCI_TIMEOUT_S = 3.0
_BDF = lazy(lambda: re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$"))
_DEVICE_LINE = lazy(lambda: re.compile(r"^(?:([0-9a-fA-F]{4}):)?([0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\s"))
_ACS_CONTROL = lazy(lambda: re.compile(r"^\s*ACSCtl:\s*(.*)$"))


def sysfs_bus_id(nvml_bus_id: str) -> str:
    """NVML's 00000000:3B:00.0 as sysfs names it: 0000:3b:00.0."""
    domain, _, rest = nvml_bus_id.partition(":")
    return f"{domain[-4:]}:{rest}".lower()


def collect_pci(files: HostFiles, gpus: Fact[List[Gpu]], pairs: Fact[List[GpuPair]], run: CommandRunner,
                lspci_text: Optional[str] = None) -> PciPlatform:
    cmdline = files.read_line("/proc/cmdline")
    return PciPlatform(
        kernel_command_line=cmdline if isinstance(cmdline, Unavailable) else Known(cmdline, "/proc/cmdline"),
        iommu_group_types=_group_types(files, gpus),
        gpu_pci_paths=_paths(files, gpus),
        acs_controls=_acs(run, pairs, lspci_text),
    )


def _bus_ids(gpus: Fact[List[Gpu]]) -> Dict[int, str]:
    if isinstance(gpus, Unavailable):
        return {}
    return {gpu.index: sysfs_bus_id(gpu.pci_bus_id.value) for gpu in gpus.value if isinstance(gpu.pci_bus_id, Known)}


def _group_types(files: HostFiles, gpus: Fact[List[Gpu]]) -> Fact[Dict[str, str]]:
    if isinstance(gpus, Unavailable):
        return gpus
    types = {}
    for bus_id in _bus_ids(gpus).values():
        device = f"/sys/bus/pci/devices/{bus_id}"
        if not files.exists(device):
            return Unavailable(Reason.NOT_FOUND, device, "the GPU's PCI device is not in sysfs")
        if not files.exists(f"{device}/iommu_group"):
            types[bus_id] = "none"
            continue
        kind = files.read_line(f"{device}/iommu_group/type")  # Linux 5.11 and later
        if isinstance(kind, Unavailable):
            return kind
        types[bus_id] = kind
    return Known(types, "/sys/bus/pci/devices/*/iommu_group/type")


def _paths(files: HostFiles, gpus: Fact[List[Gpu]]) -> Fact[Dict[str, List[str]]]:
    if isinstance(gpus, Unavailable):
        return gpus
    paths = {}
    for index, bus_id in _bus_ids(gpus).items():
        device = f"/sys/bus/pci/devices/{bus_id}"
        if not files.exists(device):
            return Unavailable(Reason.NOT_FOUND, device, "the GPU's PCI device is not in sysfs")
        if files.link_target(device) is None:  # the kernel makes each entry a link into the device tree
            return Unavailable(Reason.NOT_FOUND, device, "not a link to the GPU's place in the PCI tree")
        chain = [part for part in files.real_path(device).split("/") if _BDF().match(part)]
        paths[str(index)] = chain[:-1]  # the bridges above the GPU, root port first
    return Known(paths, "/sys/bus/pci/devices/* (resolved links)")


def _needs_pcie(pairs: Fact[List[GpuPair]]) -> bool:
    if isinstance(pairs, Unavailable):
        return False
    return any(not (isinstance(pair.nvlink_count, Known) and pair.nvlink_count.value > 0) for pair in pairs.value)


def _acs(run: CommandRunner, pairs: Fact[List[GpuPair]], text: Optional[str]) -> Fact[Dict[str, List[str]]]:
    source = " ".join(LSPCI)
    if text is None:
        if not _needs_pcie(pairs):
            return Unavailable(Reason.NOT_SUPPORTED, source,
                               "not run: every pair of GPUs has NVLink, so PCIe ACS does not carry their traffic")
        output = run(list(LSPCI), LSPCI_TIMEOUT_S)
        if isinstance(output, Unavailable):
            return output
        text = output
    else:
        source = "lspci -vvv output given"
    return parse_acs_controls(text, source)


def parse_acs_controls(text: str, source: str) -> Fact[Dict[str, List[str]]]:
    """Bridge -> the ACS controls shown enabled ("ReqRedir+" -> ReqRedir) in lspci -vvv output."""
    controls: Dict[str, List[str]] = {}
    device: Optional[str] = None
    denied = False
    for line in text.splitlines():
        match = _DEVICE_LINE().match(line)
        if match:
            device = f"{(match.group(1) or '0000').lower()}:{match.group(2).lower()}"
            continue
        if "<access denied>" in line:
            denied = True
        acs = _ACS_CONTROL().match(line)
        if acs and device is not None:
            controls[device] = [flag[:-1] for flag in acs.group(1).split() if flag.endswith("+")]
    if not controls and denied:
        return Unavailable(Reason.NO_PERMISSION, source,
                           "lspci shows extended capabilities (where ACS is) only to root: run gpubal as root")
    return Known(controls, source)
