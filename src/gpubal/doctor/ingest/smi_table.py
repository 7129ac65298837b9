"""`nvidia-smi` (the default table) into facts: driver and CUDA versions, and per GPU its name, bus id,
persistence mode, memory, compute mode and MIG mode. Old (`|===+===|`, `Disp.A`) and new (580, box with
`+---+`) layouts share the same cells; a GPU's first row starts with its index."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

from .common import Observation, Parser, clean

SECTION = "nvidia-smi"
_HEADER = re.compile(r"NVIDIA-SMI\s+(\S+)\s+Driver Version:\s*(\S+)(?:\s+CUDA Version:\s*(\S+))?")
_ROW1 = re.compile(r"^\|\s*(\d+)\s+(.+?)\s+(On|Off|N/A)\s*\|\s*([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])"
                   r"\s+(\S+)\s*\|")
_ROW2 = re.compile(r"^\|.*\|\s*(\d+)MiB\s*/\s*(\d+)MiB\s*\|\s*(\S+)\s+(.+?)\s*\|")
_ROW3 = re.compile(r"^\|\s*\|\s*\|\s*(Disabled|Enabled|N/A)\s*\|")
_COMPUTE_MODES = {"Default": "default", "E. Process": "exclusive_process", "Prohibited": "prohibited",
                  "E. Thread": "exclusive_thread"}


@dataclass
class SmiTable:
    smi_version: Optional[str] = None
    driver_version: Optional[str] = None
    cuda_version: Optional[str] = None
    gpus: List[Dict[str, str]] = field(default_factory=list)  # cells as printed: index, name, bus_id, ...
    no_processes: bool = False
    format_name: str = "nvidia-smi"

    @property
    def found(self) -> bool:
        return self.driver_version is not None or bool(self.gpus)

    @property
    def problems(self) -> List[str]:
        return []

    def observations(self) -> Iterable[Observation]:
        if self.driver_version:
            yield ("driver", "version"), self.driver_version, SECTION
        if self.cuda_version and self.cuda_version != "N/A":
            yield ("driver", "cuda_driver_version"), self.cuda_version, SECTION
        if self.gpus:
            yield ("driver", "device_count"), len(self.gpus), SECTION
        for gpu in self.gpus:
            index = int(gpu["index"])
            yield ("gpu", index, "present"), True, SECTION
            if not gpu["name"].endswith("..."):  # old tables cut long names
                yield ("gpu", index, "name"), gpu["name"], SECTION
            yield ("gpu", index, "pci_bus_id"), gpu["bus_id"].upper(), SECTION
            if gpu["persistence"] in ("On", "Off"):
                yield ("gpu", index, "persistence_mode"), gpu["persistence"] == "On", SECTION
            if "memory_total_mib" in gpu:
                yield ("gpu", index, "memory_total_bytes"), int(gpu["memory_total_mib"]) << 20, SECTION
                yield ("gpu", index, "memory_used_bytes"), int(gpu["memory_used_mib"]) << 20, SECTION
            mode = _COMPUTE_MODES.get(gpu.get("compute_mode", ""))
            if mode:
                yield ("gpu", index, "compute_mode"), mode, SECTION
            if gpu.get("mig") in ("Enabled", "Disabled"):
                yield ("gpu", index, "mig_enabled_current"), gpu["mig"] == "Enabled", SECTION


class SmiTableParser(Parser):
    name = "nvidia-smi"

    def __init__(self) -> None:
        self.result = SmiTable()
        self._current: Optional[Dict[str, str]] = None
        self._row = 0

    def feed(self, raw: str) -> None:
        line = clean(raw).strip()
        if not line:
            return
        if "NVIDIA-SMI" in line:
            match = _HEADER.search(line)
            if match:
                self.result.smi_version, self.result.driver_version = match.group(1), match.group(2)
                self.result.cuda_version = match.group(3)
            return
        if not line.startswith("|"):
            self._current = None
            return
        match = _ROW1.match(line)
        if match:
            self._current = {"index": match.group(1), "name": match.group(2), "persistence": match.group(3),
                             "bus_id": match.group(4), "display_active": match.group(5)}
            self.result.gpus.append(self._current)
            self._row = 1
            return
        if "No running processes found" in line:
            self.result.no_processes = True
            return
        if self._current is None:
            return
        self._row += 1
        if self._row == 2:
            match = _ROW2.match(line)
            if match:
                self._current.update(memory_used_mib=match.group(1), memory_total_mib=match.group(2),
                                     utilization=match.group(3), compute_mode=match.group(4))
        elif self._row == 3:
            match = _ROW3.match(line)
            if match:
                self._current["mig"] = match.group(1)

    def finish(self) -> SmiTable:
        return self.result
