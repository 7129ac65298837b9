"""`nvidia-smi -q -x` (XML) into facts, read incrementally and hardened.

nvidia-smi writes `<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_vNN.dtd">`. The parser never loads that
DTD, and refuses any entity declaration or internal subset before a byte reaches the XML parser, so
neither entity expansion ("billion laughs") nor external entities can happen. The plain external
DOCTYPE is recorded (its DTD version) and removed. Each `<gpu>` is read when it closes and then dropped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

from .common import Observation, Parser, clean
from .smi_query import CLOCK_EVENT_REASONS, CLOCK_EVENT_SECTIONS, query_observations

SECTION = "nvidia-smi -q -x"
_DOCTYPE = re.compile(r"<!DOCTYPE\s+nvidia_smi_log\s+SYSTEM\s+\"([\w.-]+)\"\s*>", re.IGNORECASE)

# XML tag path (below <gpu>) -> the key the text parser uses, so both feed the same picker
_KEYS = {
    "product_name": "Product Name", "uuid": "GPU UUID", "serial": "Serial Number",
    "vbios_version": "VBIOS Version",
    "product_architecture": "Product Architecture", "persistence_mode": "Persistence Mode",
    "display_active": "Display Active",
    "mig_mode/current_mig": "MIG Mode/Current", "mig_mode/pending_mig": "MIG Mode/Pending",
    "ecc_mode/current_ecc": "ECC Mode/Current", "ecc_mode/pending_ecc": "ECC Mode/Pending",
    "gpu_virtualization_mode/virtualization_mode": "GPU Virtualization Mode/Virtualization Mode",
    "compute_mode": "Compute Mode", "fb_memory_usage/total": "FB Memory Usage/Total",
    "fb_memory_usage/used": "FB Memory Usage/Used", "pci/pci_bus_id": "PCI/Bus Id",
    "pci/pci_gpu_link_info/pcie_gen/current_link_gen": "PCI/GPU Link Info/PCIe Generation/Current",
    "pci/pci_gpu_link_info/pcie_gen/max_link_gen": "PCI/GPU Link Info/PCIe Generation/Max",
    "pci/pci_gpu_link_info/pcie_gen/max_device_link_gen": "PCI/GPU Link Info/PCIe Generation/Device Max",
    "pci/pci_gpu_link_info/link_widths/current_link_width": "PCI/GPU Link Info/Link Width/Current",
    "pci/pci_gpu_link_info/link_widths/max_link_width": "PCI/GPU Link Info/Link Width/Max",
    "pci/replay_counter": "PCI/Replays Since Reset", "fabric/state": "Fabric/State", "fabric/status": "Fabric/Status",
    "retired_pages/pending_retirement": "Retired Pages/Pending Page Retirement",
    "remapped_rows/remapped_row_pending": "Remapped Rows/Pending",
    "remapped_rows/remapped_row_failure": "Remapped Rows/Remapping Failure Occurred",
}
_KEYS.update({f"clocks_{kind}_reasons/clocks_{kind}_reason_{tag}": f"{block}/{label}"
              for kind, block in zip(("event", "throttle"), CLOCK_EVENT_SECTIONS)
              for label, _, tag in CLOCK_EVENT_REASONS})
_MIG_KEYS = {"index": "Index", "gpu_instance_id": "GPU Instance ID", "compute_instance_id": "Compute Instance ID",
             "device_attributes/shared/multiprocessor_count": "Multiprocessor count",
             "fb_memory_usage/total": "FB Memory Usage/Total"}


class UnsafeXml(ValueError):
    pass


@dataclass
class SmiXml:
    driver_version: Optional[str] = None
    cuda_version: Optional[str] = None
    timestamp: Optional[str] = None
    attached_gpus: Optional[int] = None
    dtd: str = ""
    gpus: List[Dict[str, str]] = field(default_factory=list)  # same keys as the -q text parser
    mig_devices: List[List[Dict[str, str]]] = field(default_factory=list)
    processes: List[List[Dict[str, str]]] = field(default_factory=list)
    error: str = ""
    started: bool = False
    format_name: str = "nvidia-smi -q -x"

    @property
    def found(self) -> bool:
        return self.started

    @property
    def problems(self) -> List[str]:
        return [self.error] if self.error else []

    def observations(self) -> Iterable[Observation]:
        return query_observations(self, SECTION)


def _flatten(element: ElementTree.Element, keys: Dict[str, str]) -> Dict[str, str]:
    flat: Dict[str, str] = {}
    for path, key in keys.items():
        found = element.find(path)
        if found is not None and found.text is not None:
            flat[key] = found.text.strip()
    return flat


# Bounds that no real `nvidia-smi -q -x` comes near; past them the input is refused in one line, before
# a deep or wide tree fills memory (30 MB of nested tags once took 1.95 GB).
MAX_XML_DEPTH = 32
MAX_XML_ELEMENTS = 200_000
_SLICE_CHARS = 64 * 1024


class SmiXmlParser(Parser):
    name = "nvidia-smi -q -x"

    def __init__(self) -> None:
        self.result = SmiXml()
        self._parser: Optional[ElementTree.XMLPullParser] = None
        self._depth = 0
        self._elements = 0
        self._lines = 0
        self._closed = False

    def feed(self, raw: str) -> None:
        if self.result.error or self._closed:
            return  # after </nvidia_smi_log> comes whatever was pasted next
        self._lines += 1
        line = clean(raw)
        if self._parser is None:
            if "<nvidia_smi_log" not in line and "<?xml" not in line and "<!DOCTYPE" not in line:
                return
            self._parser = ElementTree.XMLPullParser(events=("start", "end"))
        try:
            self._feed_xml(line)
        except UnsafeXml as error:
            self.result.error = f"refused nvidia-smi -q -x input at line {self._lines}: {error}"
            self.refused = True
        except ElementTree.ParseError as error:
            self.result.error = f"nvidia-smi -q -x XML is malformed: {error}"

    def _feed_xml(self, line: str) -> None:
        if "<!" in line:
            upper = line.upper()
            if "<!ENTITY" in upper:
                raise UnsafeXml("it declares an XML entity")
            if "<!DOCTYPE" in upper:
                match = _DOCTYPE.search(line)
                if match is None:
                    raise UnsafeXml("its DOCTYPE is not nvidia-smi's (an internal subset or another DTD)")
                self.result.dtd = match.group(1)
                line = line[:match.start()] + line[match.end():]
        assert self._parser is not None
        line += "\n"
        # fed in slices, so a long line of nested tags is refused before its elements fill memory
        for start in range(0, len(line), _SLICE_CHARS):
            self._parser.feed(line[start:start + _SLICE_CHARS])
            for event, element in self._parser.read_events():
                self._event(event, element)

    def _event(self, event: str, element: ElementTree.Element) -> None:
        if event == "start":
            self._depth += 1
            self._elements += 1
            if self._depth > MAX_XML_DEPTH:
                raise UnsafeXml(f"its elements nest deeper than {MAX_XML_DEPTH} levels (nvidia-smi's nest 7)")
            if self._elements > MAX_XML_ELEMENTS:
                raise UnsafeXml(f"it has more than {MAX_XML_ELEMENTS:,} elements (nvidia-smi's have about 600 a GPU)")
            if self._depth == 1:
                if element.tag != "nvidia_smi_log":
                    raise ElementTree.ParseError(f"the root element is <{element.tag}>, not <nvidia_smi_log>")
                self.result.started = True
            return
        self._depth -= 1
        if self._depth == 0:
            self._closed = True
        if self._depth != 1:
            return
        text = (element.text or "").strip()
        if element.tag == "driver_version":
            self.result.driver_version = text
        elif element.tag == "timestamp" and self.result.timestamp is None:
            self.result.timestamp = text
        elif element.tag == "cuda_version":
            self.result.cuda_version = text
        elif element.tag == "attached_gpus" and text.isdigit():
            self.result.attached_gpus = int(text)
        elif element.tag == "gpu":
            gpu = _flatten(element, _KEYS)
            if "PCI/Bus Id" not in gpu and element.get("id"):
                gpu["PCI/Bus Id"] = element.get("id", "")
            self.result.gpus.append(gpu)
            self.result.mig_devices.append([_flatten(mig, _MIG_KEYS) for mig in element.iter("mig_device")])
            processes = element.find("processes")
            self.result.processes.append(
                [] if processes is None else [_flatten(p, {"pid": "pid", "process_name": "process_name",
                                                           "used_memory": "used_memory"})
                                              for p in processes.iter("process_info")])
        element.clear()  # a closed top-level element is read; drop its subtree to keep memory flat

    def finish(self) -> SmiXml:
        if self._parser is not None and not self.result.error and not self._closed:
            try:
                self._parser.close()
                for event, element in self._parser.read_events():
                    self._event(event, element)
            except ElementTree.ParseError as error:
                self.result.error = f"nvidia-smi -q -x XML is truncated or malformed: {error}"
            except UnsafeXml as error:  # pragma: no cover - close() feeds nothing new
                self.result.error = str(error)
        if self.result.started and not self.result.error and self._depth != 0:
            self.result.error = "nvidia-smi -q -x XML is truncated: <nvidia_smi_log> never closes"
        return self.result
