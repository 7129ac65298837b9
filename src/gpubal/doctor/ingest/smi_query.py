"""`nvidia-smi -q` (text) into facts. The output is an indented tree of `Key : Value` lines and section
titles; this reads it into one flat `Section/Sub/Key -> value` map per GPU (`MIG Devices` keep one map
per device) and picks the facts the snapshot has. Fields differ across driver versions (Clocks Throttle
Reasons became Clocks Event Reasons; Fabric appeared with R525): a field that is absent stays unknown.

A `grep` excerpt (`nvidia-smi -q | grep -A 3 Fabric`) keeps the indented sections of each GPU without the
`GPU 00000000:...` headers. Such blocks are read as GPUs in the order printed (nvidia-smi -q lists GPUs in
index order); a new block starts where the first section title comes again or at grep's `--` separator,
and the facts' source says the GPUs were numbered that way."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

from ...model import MigInstance, Reason, Unavailable
from .common import Observation, Parser, clean, parse_size, unquote

SECTION = "nvidia-smi -q"
EXCERPT_SECTION = "nvidia-smi -q (excerpt without GPU headers; GPUs numbered in the order printed)"
# the GPU-level sections of -q (4 spaces in) that start a GPU of a grep excerpt; other indented text
# (a bug report's lspci or dmesg before its -q part) never does
EXCERPT_TITLES = frozenset((
    "Fabric", "ECC Errors", "Ecc Mode", "ECC Mode", "Clocks Event Reasons", "Clocks Throttle Reasons", "Remapped Rows",
    "Retired Pages", "FB Memory Usage", "BAR1 Memory Usage", "MIG Mode", "PCI", "GPU Virtualization Mode",
    "Temperature", "Power Readings", "GPU Power Readings", "Clocks", "Max Clocks", "Utilization", "Inforom Version",
    "GPU Operation Mode", "Driver Model", "Processes"))
_KEY_VALUE = re.compile(r"^(\s*)(\S(?:[^:]*[^:\s])?)\s*:\s?((?:.*\S)?)\s*$")
_GPU = re.compile(r"^GPU ([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])\s*$")
_VIRTUALIZATION = {"None": "none", "Pass-Through": "passthrough", "VGPU": "vgpu", "Host VGPU": "host_vgpu",
                   "Host VSGA": "host_vsga"}
_FABRIC_STATES = {"Completed": "completed", "In Progress": "in_progress", "Not Started": "not_started",
                  "N/A": "not_supported", "Not Supported": "not_supported"}
_COMPUTE_MODES = {"Default": "default", "Exclusive_Process": "exclusive_process", "Prohibited": "prohibited",
                  "Exclusive_Thread": "exclusive_thread"}
# (label in the text, gpubal's name, the XML tag's suffix), in NVML's bit order so that a list read from a dump
# equals the one a live collection makes. The block is "Clocks Event Reasons" on newer drivers, "Clocks Throttle
# Reasons" before; reasons a driver prints beyond these (older ones had "Unknown") are ignored.
CLOCK_EVENT_REASONS = (
    ("Idle", "gpu_idle", "gpu_idle"),
    ("Applications Clocks Setting", "applications_clocks_setting", "applications_clocks_setting"),
    ("SW Power Cap", "sw_power_cap", "sw_power_cap"),
    ("HW Slowdown", "hw_slowdown", "hw_slowdown"),
    ("Sync Boost", "sync_boost", "sync_boost"),
    ("SW Thermal Slowdown", "sw_thermal_slowdown", "sw_thermal_slowdown"),
    ("HW Thermal Slowdown", "hw_thermal_slowdown", "hw_thermal_slowdown"),
    ("HW Power Brake Slowdown", "hw_power_brake_slowdown", "hw_power_brake_slowdown"),
    ("Display Clock Setting", "display_clock_setting", "display_clocks_setting"),
)
CLOCK_EVENT_SECTIONS = ("Clocks Event Reasons", "Clocks Throttle Reasons")


def fabric_status_name(text: str) -> str:
    return "success" if text == "Success" else text.strip().lower().replace(" ", "_")


@dataclass
class SmiQuery:
    driver_version: Optional[str] = None
    cuda_version: Optional[str] = None
    attached_gpus: Optional[int] = None
    gpus: List[Dict[str, str]] = field(default_factory=list)  # "PCI/Bus Id" -> "00000000:00:06.0", ...
    mig_devices: List[List[Dict[str, str]]] = field(default_factory=list)  # per GPU
    timestamp: Optional[str] = None  # `Timestamp : Thu Apr  2 15:31:27 2020`, as printed
    headerless: bool = False  # the GPUs came from a grep excerpt without their `GPU 0000...` lines
    format_name: str = "nvidia-smi -q"

    @property
    def found(self) -> bool:
        return bool(self.gpus) or self.attached_gpus is not None

    @property
    def problems(self) -> List[str]:
        if self.attached_gpus is not None and len(self.gpus) < self.attached_gpus:
            return [f"nvidia-smi -q is cut short: it says {self.attached_gpus} GPUs attached and lists "
                    f"{len(self.gpus)}"]
        return []

    def observations(self) -> Iterable[Observation]:
        return query_observations(self, EXCERPT_SECTION if self.headerless else SECTION)


def _yes_no(text: Optional[str]) -> Optional[bool]:
    return {"Yes": True, "No": False, "Enabled": True, "Disabled": False}.get(text or "")


def _int(text: Optional[str]) -> Optional[int]:
    text = (text or "").strip().rstrip("x")
    return int(text) if text.isdigit() else None


def clock_event_reasons(gpu: Dict[str, str]) -> Optional[List[str]]:
    """The reasons the block says are "Active"; None when it is absent or says nothing but N/A (the driver
    could not tell), so an unreadable block is not taken for "no reason active"."""
    for block in CLOCK_EVENT_SECTIONS:
        states = [(name, gpu.get(f"{block}/{label}", "").strip()) for label, name, _ in CLOCK_EVENT_REASONS]
        if any(state in ("Active", "Not Active") for _, state in states):
            return [name for name, state in states if state == "Active"]
    return None


def query_observations(parsed, section: str) -> Iterable[Observation]:
    """The driver and per-GPU facts of `nvidia-smi -q`, whether it was read as text or as XML."""
    from .smi_table import TIMESTAMP, dump_date  # one reading of nvidia-smi's date for both outputs

    match = TIMESTAMP.match(getattr(parsed, "timestamp", None) or "")
    date = dump_date(match.group(1)) if match else None
    if date:
        yield ("dump", "date"), date, section
    if parsed.driver_version:
        yield ("driver", "version"), parsed.driver_version, section
    if parsed.cuda_version == "N/A":
        yield ("driver", "cuda_driver_version"), Unavailable(
            Reason.NOT_FOUND, section, "CUDA Version: N/A: nvidia-smi found no usable libcuda.so (the driver's CUDA "
            "library) where it ran, so CUDA programs there cannot use the GPUs"), section
    elif parsed.cuda_version:
        yield ("driver", "cuda_driver_version"), parsed.cuda_version, section
    if parsed.attached_gpus is not None:
        yield ("driver", "device_count"), parsed.attached_gpus, section
    for index, (gpu, migs) in enumerate(zip(parsed.gpus, parsed.mig_devices)):
        yield from gpu_observations(index, gpu, migs, section)


def gpu_observations(index: int, gpu: Dict[str, str], migs: List[Dict[str, str]],
                     section: str) -> Iterable[Observation]:
    """Facts from one GPU's flat map; the XML parser maps its tags onto the same keys."""
    def put(name, value):
        return ("gpu", index, name), value, section

    yield put("present", True)
    for key, name in (("Product Name", "name"), ("GPU UUID", "uuid"), ("Serial Number", "serial"),
                      ("VBIOS Version", "vbios_version"),
                      ("PCI/Bus Id", "pci_bus_id")):
        value = gpu.get(key, "")
        if value and value != "N/A":
            yield put(name, value.upper() if name == "pci_bus_id" else value)
    architecture = gpu.get("Product Architecture", "")
    if architecture and architecture != "N/A":
        yield put("architecture", architecture.lower())
    for key, name in (("Persistence Mode", "persistence_mode"), ("Display Active", "display_active"),
                      ("MIG Mode/Current", "mig_enabled_current"),
                      ("MIG Mode/Pending", "mig_enabled_pending"), ("ECC Mode/Current", "ecc_enabled_current"),
                      ("ECC Mode/Pending", "ecc_enabled_pending"),
                      ("Remapped Rows/Pending", "remapped_rows_pending"),
                      ("Remapped Rows/Remapping Failure Occurred", "remapped_rows_failed")):
        flag = _yes_no(gpu.get(key))
        if flag is not None:
            yield put(name, flag)
    pending_pages = gpu.get("Retired Pages/Pending Page Blacklist") or gpu.get("Retired Pages/Pending Page Retirement")
    if _yes_no(pending_pages) is not None:
        yield put("retired_pages_pending", _yes_no(pending_pages))
    mode = _VIRTUALIZATION.get(gpu.get("GPU Virtualization Mode/Virtualization Mode", ""))
    if mode:
        yield put("virtualization_mode", mode)
    compute = _COMPUTE_MODES.get(gpu.get("Compute Mode", ""))
    if compute:
        yield put("compute_mode", compute)
    for key, name in (("FB Memory Usage/Total", "memory_total_bytes"), ("FB Memory Usage/Used", "memory_used_bytes")):
        size = parse_size(gpu.get(key, ""))
        if size or gpu.get(key, "").startswith("0 "):
            yield put(name, size)
    link = "PCI/GPU Link Info/"
    for key, name in ((link + "PCIe Generation/Current", "pcie_link_gen_current"),
                      (link + "PCIe Generation/Max", "pcie_link_gen_max"),
                      (link + "PCIe Generation/Device Max", "pcie_link_gen_device_max"),
                      (link + "Link Width/Current", "pcie_link_width_current"),
                      (link + "Link Width/Max", "pcie_link_width_max"),
                      ("PCI/Replays Since Reset", "pcie_replay_count")):
        number = _int(gpu.get(key))
        if number is not None:
            yield put(name, number)
    reasons = clock_event_reasons(gpu)
    if reasons is not None:
        yield put("clock_event_reasons", reasons)
    state = gpu.get("Fabric/State")
    if state in _FABRIC_STATES:
        yield put("fabric_state", _FABRIC_STATES[state])
        status = gpu.get("Fabric/Status", "")
        if _FABRIC_STATES[state] == "completed" and status and status != "N/A":
            yield put("fabric_status", fabric_status_name(status))
        elif _FABRIC_STATES[state] == "not_supported":
            yield put("fabric_status", "not_supported")
    if migs or _yes_no(gpu.get("MIG Mode/Current")) is False:
        instances = []
        for mig in migs:
            gi, ci = _int(mig.get("GPU Instance ID")), _int(mig.get("Compute Instance ID"))
            if gi is None or ci is None:
                continue
            instances.append(MigInstance(uuid=mig.get("UUID", ""), gpu_instance_id=gi, compute_instance_id=ci,
                                         memory_total_bytes=parse_size(mig.get("FB Memory Usage/Total", ""))))
        if not migs or instances:
            yield put("mig_instances", instances)


class SmiQueryParser(Parser):
    name = "nvidia-smi -q"

    def __init__(self) -> None:
        self.result = SmiQuery()
        self._path: List[Tuple[int, str]] = []  # (indent, section title)
        self._gpu: Optional[Dict[str, str]] = None
        self._mig: Optional[Dict[str, str]] = None
        self._mig_indent = -1
        self._seen_header = False  # a `GPU 0000...` line or the NVSMI LOG banner was read
        self._excerpt_first: Optional[Tuple[int, str]] = None  # the first section title of a headerless block

    def feed(self, raw: str) -> None:
        line = unquote(clean(raw)).expandtabs(4)
        stripped = line.strip()
        if not stripped:
            return
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            self._top_level(stripped)
            return
        match = _KEY_VALUE.match(line) if ":" in line else None
        if match is None and not self._seen_header and indent == 4 and stripped in EXCERPT_TITLES and (
                self._gpu is None or (indent, stripped) == self._excerpt_first):
            self._start_excerpt_gpu(indent, stripped)
        if self._gpu is None:
            return
        while self._path and self._path[-1][0] >= indent:
            self._path.pop()
        if self._mig is not None and indent <= self._mig_indent:
            self._mig = None
        if match is None:
            if stripped == "MIG Device" or (stripped.startswith("MIG Device") and self._in("MIG Devices")):
                self._mig = {}
                self._mig_indent = indent
                self.result.mig_devices[-1].append(self._mig)
            self._path.append((indent, stripped))
            return
        key = "/".join([title for _, title in self._path] + [match.group(2)])
        if self._mig is not None:
            inner = [title for depth, title in self._path if depth > self._mig_indent] + [match.group(2)]
            self._mig["/".join(inner)] = match.group(3)
            return
        self._gpu.setdefault(key, match.group(3))

    def _start_excerpt_gpu(self, indent: int, title: str) -> None:
        """A section title with no GPU header above it: the next GPU of a grep excerpt."""
        self._excerpt_first = self._excerpt_first or (indent, title)
        self.result.headerless = True
        self._gpu = {}
        self._path = []
        self._mig = None
        self.result.gpus.append(self._gpu)
        self.result.mig_devices.append([])

    def _in(self, title: str) -> bool:
        return any(t == title for _, t in self._path)

    def _top_level(self, stripped: str) -> None:
        gpu = _GPU.match(stripped)
        if stripped.startswith("=") and "NVSMI LOG" in stripped:
            self._seen_header = True
        if gpu:
            self._seen_header = True
            self._gpu = {"PCI/Bus Id": gpu.group(1)}
            self._path = []
            self._mig = None
            self.result.gpus.append(self._gpu)
            self.result.mig_devices.append([])
            return
        match = _KEY_VALUE.match(stripped)
        if match:
            key, value = match.group(2), match.group(3)
            value = value.split(" [Deprecated", 1)[0].strip()  # R610 keeps the old names, marked deprecated
            if key in ("Driver Version", "KMD Version"):  # R610 renamed it
                self.result.driver_version = value
            elif key in ("CUDA Version", "CUDA UMD Version"):
                self.result.cuda_version = value
            elif key == "Attached GPUs" and value.isdigit():
                self.result.attached_gpus = int(value)
            elif key == "Timestamp":
                self.result.timestamp = value
            else:
                self._gpu = None
            return
        if not stripped.startswith("="):
            self._gpu = None  # unindented text that is not -q: the dump ended

    def finish(self) -> SmiQuery:
        return self.result
