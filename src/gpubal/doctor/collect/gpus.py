"""Facts about each GPU, from NVML and from the GPU's PCI device in sysfs."""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, Union

from ...common.cpulist import bitmask_words_to_numbers, format_cpulist, parse_cpulist
from ...model import Fact, Gpu, Known, MigInstance, NumaNode, NvLink, Reason, Unavailable
from ..probes.files import HostFiles
from ..probes.nvml import DEVICE_QUERY_SOURCES, NVLINK_MAX_LINKS, NVML_RETURN_NAMES, NvmlAdapter
from .answers import as_int, as_int_list, as_str, to_fact

ARCHITECTURES = {
    2: "kepler", 3: "maxwell", 4: "pascal", 5: "volta", 6: "turing", 7: "ampere", 8: "ada", 9: "hopper",
    10: "blackwell", 13: "rubin",
}
COMPUTE_MODES = {0: "default", 1: "exclusive_thread", 2: "prohibited", 3: "exclusive_process"}
VIRTUALIZATION_MODES = {0: "none", 1: "passthrough", 2: "vgpu", 3: "host_vgpu", 4: "host_vsga"}
FABRIC_STATES = {0: "not_supported", 1: "not_started", 2: "in_progress", 3: "completed"}
NVLINK_DEVICE_TYPES = {0: "gpu", 1: "ibmnpu", 2: "nvswitch", 255: "unknown"}
CLOCK_EVENT_REASONS = {
    0x1: "gpu_idle", 0x2: "applications_clocks_setting", 0x4: "sw_power_cap", 0x8: "hw_slowdown",
    0x10: "sync_boost", 0x20: "sw_thermal_slowdown", 0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown", 0x100: "display_clock_setting",
}

class _GpuReader:
    """Asks NVML each question once and turns answers into facts.

    The questions asked of one GPU go one at a time. Measured on a 2 x H200 NVSwitch host
    (bench/nvml_concurrency.py, bench/results/nvml-concurrency-h200x2.json): NVLink state asked while
    another NVLink query of the same GPU is in flight comes back NOT_SUPPORTED for links that are up (link
    states side by side at first use: 2 of 5 processes wrong; beside NVLink field values: 5 of 5), while
    questions to different GPUs never disturbed each other (0 of 5 for each of 36 query families). Each
    question costs microseconds (the slowest, 0.18 ms), so asking them in turn is also faster than a pool.
    """

    def __init__(self, nvml: NvmlAdapter, index: int) -> None:
        self.nvml = nvml
        self.index = index
        self.answers: Dict[str, Any] = {}

    def ask(self, query: str) -> Any:
        if query not in self.answers:
            self.answers[query] = self.nvml.device(self.index, query)
        return self.answers[query]

    def fact(self, query: str, convert: Callable[[Any], Any] = lambda value: value) -> Fact[Any]:
        return to_fact(self.ask(query), DEVICE_QUERY_SOURCES[query], convert)


def collect_gpu(nvml: NvmlAdapter, files: HostFiles, index: int, numa_nodes: Fact[List[NumaNode]]) -> Gpu:
    read = _GpuReader(nvml, index)
    pci_bus_id = read.fact("pci_info", lambda info: _bus_id(info["bus_id"]))
    sysfs_dir = _sysfs_dir(pci_bus_id)
    numa_nvml = read.fact("memory_affinity_nodes", _single_node)
    numa_sysfs = _sysfs_int(files, sysfs_dir, "numa_node")
    cpus_nvml = read.fact("cpu_affinity", lambda words: format_cpulist(bitmask_words_to_numbers(as_int_list(words))))
    cpus_sysfs = _sysfs_cpulist(files, sysfs_dir)
    mig_enabled = read.fact("mig_mode", lambda pair: as_int(pair[0]) == 1)
    return Gpu(
        index=index,
        name=read.fact("name", as_str),
        uuid=read.fact("uuid", as_str),
        serial=read.fact("serial", as_str),
        pci_bus_id=pci_bus_id,
        architecture=read.fact("architecture", lambda code: ARCHITECTURES.get(as_int(code), f"unknown ({code})")),
        compute_capability=read.fact("cuda_compute_capability", lambda pair: f"{as_int(pair[0])}.{as_int(pair[1])}"),
        memory_total_bytes=read.fact("memory_info", lambda info: as_int(info["total"])),
        memory_used_bytes=read.fact("memory_info", lambda info: as_int(info["used"])),
        persistence_mode=read.fact("persistence_mode", lambda mode: as_int(mode) == 1),
        display_active=read.fact("display_active", lambda active: as_int(active) == 1),
        compute_mode=read.fact("compute_mode", lambda mode: COMPUTE_MODES.get(as_int(mode), f"unknown ({mode})")),
        ecc_enabled_current=read.fact("ecc_mode", lambda pair: as_int(pair[0]) == 1),
        ecc_enabled_pending=read.fact("ecc_mode", lambda pair: as_int(pair[1]) == 1),
        virtualization_mode=read.fact(
            "virtualization_mode", lambda mode: VIRTUALIZATION_MODES.get(as_int(mode), f"unknown ({mode})")),
        mig_enabled_current=mig_enabled,
        mig_enabled_pending=read.fact("mig_mode", lambda pair: as_int(pair[1]) == 1),
        mig_instances=_mig_instances(read, mig_enabled),
        pcie_link_gen_current=read.fact("pcie_link_gen_current", as_int),
        pcie_link_gen_max=read.fact("pcie_link_gen_max", as_int),
        pcie_link_gen_device_max=read.fact("pcie_link_gen_device_max", as_int),
        pcie_link_width_current=read.fact("pcie_link_width_current", as_int),
        pcie_link_width_max=read.fact("pcie_link_width_max", as_int),
        pcie_replay_count=read.fact("pcie_replay_counter", as_int),
        nvlinks=read_nvlinks(nvml, index),
        fabric_state=_fabric(read, lambda info: FABRIC_STATES.get(as_int(info["state"]), f"unknown ({info['state']})")),
        fabric_status=_fabric(read, lambda info: NVML_RETURN_NAMES.get(as_int(info["status"]), f"unknown ({info['status']})")),
        clock_event_reasons=read.fact("clock_event_reasons", _reason_names),
        retired_pages_pending=read.fact("retired_pages_pending", lambda status: as_int(status) == 1),
        remapped_rows_pending=read.fact("remapped_rows", lambda rows: as_int_list(rows)[2] == 1),
        remapped_rows_failed=read.fact("remapped_rows", lambda rows: as_int_list(rows)[3] == 1),
        numa_node_nvml=numa_nvml,
        numa_node_sysfs=numa_sysfs,
        numa_node=_reconcile_numa(numa_nvml, numa_sysfs, numa_nodes),
        cpu_affinity_nvml=cpus_nvml,
        cpu_affinity_sysfs=cpus_sysfs,
        cpu_affinity=_reconcile_cpus(cpus_nvml, cpus_sysfs),
        utilization_gpu_percent=read.fact("utilization_now", lambda rates: as_int(rates["gpu"])),
        vbios_version=read.fact("vbios_version", as_str),
    )


_BUS_ID = re.compile(r"[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]")


def _bus_id(text: Any) -> str:
    if not isinstance(text, str) or not _BUS_ID.fullmatch(text):
        raise ValueError("not a PCI bus id")
    return text


def _mig_instances(read: _GpuReader, mig_enabled: Fact[bool]) -> Fact[List[MigInstance]]:
    if isinstance(mig_enabled, Unavailable):
        return mig_enabled
    if not mig_enabled.value:  # MIG off: there are no instances, and asking would only fail
        return Known([], f"{DEVICE_QUERY_SOURCES['mig_mode']} (MIG disabled)")
    return read.fact("mig_devices", lambda devices: [_mig_instance(device) for device in devices])


def _mig_instance(device: Dict[str, Any]) -> MigInstance:
    return MigInstance(uuid=as_str(device["uuid"]), gpu_instance_id=as_int(device["gpu_instance_id"]),
                       compute_instance_id=as_int(device["compute_instance_id"]),
                       memory_total_bytes=as_int(device["memory_total_bytes"]))


def read_nvlinks(nvml: NvmlAdapter, index: int, note: str = "") -> Fact[List[NvLink]]:
    """Every NVLink of one GPU, asked in turn: state first, then the details of each link that exists.

    A link NVML answers NOT_SUPPORTED (or NOT_FOUND) for is taken as absent; whether such an answer can be
    trusted is checked afterwards, across GPUs (collect/nvlink_check.py)."""
    states = [nvml.device(index, "nvlink_state", link) for link in range(NVLINK_MAX_LINKS)]
    return nvlinks_from_states(nvml, index, states, note)


def nvlinks_from_states(nvml: NvmlAdapter, index: int, states: List[Any], note: str = "") -> Fact[List[NvLink]]:
    links = []
    first_failure: Optional[Unavailable] = None
    for link, state in enumerate(states):
        if isinstance(state, Unavailable):
            if link_absent(state):
                continue  # this GPU has no link with that number
            if first_failure is None:
                first_failure = state
            continue
        links.append(NvLink(
            gpu_index=index,
            link=link,
            active=to_fact(state, DEVICE_QUERY_SOURCES["nvlink_state"], lambda value: as_int(value) == 1),
            version=_link_fact(nvml.device(index, "nvlink_version", link), DEVICE_QUERY_SOURCES["nvlink_version"],
                               as_int),
            remote_pci_bus_id=_link_fact(nvml.device(index, "nvlink_remote_pci", link),
                                         DEVICE_QUERY_SOURCES["nvlink_remote_pci"], as_str),
            remote_device_type=_link_fact(nvml.device(index, "nvlink_remote_device_type", link),
                                          DEVICE_QUERY_SOURCES["nvlink_remote_device_type"],
                                          lambda code: NVLINK_DEVICE_TYPES.get(as_int(code), f"unknown ({code})")),
        ))
    if not links and first_failure is not None:
        return first_failure
    return Known(links, f"{DEVICE_QUERY_SOURCES['nvlink_state']} (links 0-{NVLINK_MAX_LINKS - 1}){note}")


def link_absent(state: Any) -> bool:
    """NVML's way of saying a GPU has no link with that number (a replay that lacks it is not that)."""
    return isinstance(state, Unavailable) and state.reason in (Reason.NOT_SUPPORTED, Reason.NOT_FOUND) \
        and "not recorded" not in state.detail \
        and state.source != "nvmlDeviceGetHandleByIndex"  # a GPU without a handle answers nothing at all


def _link_fact(answer: Any, source: str, convert: Callable[[Any], Any]) -> Fact[Any]:
    return to_fact(answer, source, convert)


def _fabric(read: _GpuReader, convert: Callable[[Dict[str, int]], str]) -> Fact[str]:
    return read.fact("fabric_info", convert)


def _reason_names(mask: int) -> List[str]:
    return [name for bit, name in CLOCK_EVENT_REASONS.items() if as_int(mask) & bit]


def _single_node(words: List[int]) -> int:
    nodes = bitmask_words_to_numbers(as_int_list(words))
    return nodes[0] if len(nodes) == 1 else -1


def _sysfs_dir(pci_bus_id: Fact[str]) -> Union[str, Unavailable]:
    """The GPU's PCI device in sysfs, or why it is unknown (the bus id's own reason: a lost GPU stays lost)."""
    if isinstance(pci_bus_id, Unavailable):
        return pci_bus_id
    domain, rest = pci_bus_id.value.split(":", 1)  # NVML writes an 8-digit domain, sysfs a 4-digit one
    return f"/sys/bus/pci/devices/{int(domain, 16):04x}:{rest.lower()}"


def _unknown_bus(bus_id: Unavailable, name: str) -> Unavailable:
    return Unavailable(bus_id.reason, f"/sys/bus/pci/devices/*/{name}",
                       f"the GPU's PCI bus id is unknown: {bus_id.describe()}")


def _sysfs_int(files: HostFiles, sysfs_dir: Union[str, Unavailable], name: str) -> Fact[int]:
    if isinstance(sysfs_dir, Unavailable):
        return _unknown_bus(sysfs_dir, name)
    path = f"{sysfs_dir}/{name}"
    text = files.read_line(path)
    if isinstance(text, Unavailable):
        return text
    try:
        return Known(int(text), path)
    except ValueError:
        return Unavailable(Reason.ERROR, path, f"not a number: {text!r}")


def _sysfs_cpulist(files: HostFiles, sysfs_dir: Union[str, Unavailable]) -> Fact[str]:
    if isinstance(sysfs_dir, Unavailable):
        return _unknown_bus(sysfs_dir, "local_cpulist")
    path = f"{sysfs_dir}/local_cpulist"
    text = files.read_line(path)
    if isinstance(text, Unavailable):
        return text
    try:
        return Known(format_cpulist(parse_cpulist(text)), path)
    except ValueError:
        return Unavailable(Reason.ERROR, path, f"not a cpulist: {text!r}")


def _reconcile_numa(nvml: Fact[int], sysfs: Fact[int], numa_nodes: Fact[List[NumaNode]]) -> Fact[int]:
    """One NUMA node for the GPU. sysfs carries the firmware's word; NVML derives from the same tables."""
    nvml_node = nvml.value if isinstance(nvml, Known) else -1
    sysfs_node = sysfs.value if isinstance(sysfs, Known) else -1
    if sysfs_node >= 0:
        note = f" (NVML says {nvml_node})" if nvml_node >= 0 and nvml_node != sysfs_node else ""
        return Known(sysfs_node, sysfs.source + note)  # type: ignore[union-attr]
    if nvml_node >= 0:
        return Known(nvml_node, nvml.source)  # type: ignore[union-attr]
    if isinstance(numa_nodes, Known) and len(numa_nodes.value) == 1:
        return Known(numa_nodes.value[0].node_id, "the host has a single NUMA node")
    if isinstance(sysfs, Known) or isinstance(nvml, Known):
        return Known(-1, "neither sysfs numa_node nor NVML names a node (firmware gave none)")
    return sysfs if isinstance(sysfs, Unavailable) else nvml  # type: ignore[return-value]


def _reconcile_cpus(nvml: Fact[str], sysfs: Fact[str]) -> Fact[str]:
    if isinstance(sysfs, Known) and sysfs.value:
        note = f" (NVML says {nvml.value})" if isinstance(nvml, Known) and nvml.value != sysfs.value else ""
        return Known(sysfs.value, sysfs.source + note)
    if isinstance(nvml, Known) and nvml.value:
        return nvml
    return sysfs
