"""`nvidia-smi` (the default table) into facts: driver and CUDA versions, and per GPU its name, bus id,
persistence mode, memory, compute mode and MIG mode. Old (`|===+===|`, `Disp.A`) and new (580, box with
`+---+`) layouts share the same cells; a GPU's first row starts with its index. R610 renamed the header's
`Driver Version` to `KMD Version` and `CUDA Version` to `CUDA UMD Version`: the same two facts.

`CUDA Version: N/A` is a fact, not a gap: nvidia-smi found no usable libcuda where it ran (typically a
container started without the `compute` driver capability). It becomes `driver.cuda_driver_version` =
Unavailable(not_found) whose detail starts with `CUDA Version: N/A`, which rules can tell apart from a paste
that simply does not show the version (not_in_input).

When NVML does not start, nvidia-smi prints only the error (`Failed to initialize NVML: Driver/library version
mismatch`, `NVML library version: 570.124`, or "NVIDIA-SMI has failed because it couldn't communicate with the
NVIDIA driver"); that becomes `driver.nvml_status`, in the words a live collection would use, so the rules
that judge a live host judge the paste. Names that nvidia-smi cut to fit its column (`Tesla V100-SXM2...`,
`NVIDIA GeForce RTX 3080 ...`) are kept as printed; their source says they were cut."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

from ...model import Reason, Unavailable
from .common import ELISION, Observation, Parser, clean, command_line, unquote

SECTION = "nvidia-smi"
TRUNCATED_SECTION = "nvidia-smi (name cut short by nvidia-smi to fit its column)"
# `**CUDA Version: N/A**`: a reporter's markdown bold around the part they point at
_HEADER = re.compile(r"NVIDIA-SMI\s+(\S+)\s+(?:Driver|KMD) Version:\s*(\S+)(?:\s+\**CUDA (?:UMD )?Version:\s*([^\s*]+))?")
# the line nvidia-smi prints above its table: `Mon Nov 30 21:58:25 2026`
TIMESTAMP = re.compile(r"^\s*(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ((?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} "
                       r"\d\d:\d\d:\d\d \d{4})\s*$")
_NVML_FAILED = re.compile(r"^Failed to initialize NVML: (.+?)\s*$")
_NVML_LIBRARY = re.compile(r"^NVML library version: (\d+\.\d+(?:\.\d+)?)\s*$")
_NO_DRIVER = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver"
_NO_DRIVER_LINE = re.compile(r"NVIDIA-SMI has failed because it couldn.t communicate with the NVIDIA driver")  # ’ ‘ too
# nvidia-smi's message -> (reason, NVML's return name), as the live collector words the same failure
_NVML_ERRORS = {"Driver/library version mismatch": (Reason.ERROR, "LIB_RM_VERSION_MISMATCH"),
                "Unknown Error": (Reason.ERROR, "UNKNOWN"),
                "Insufficient Permissions": (Reason.NO_PERMISSION, "NO_PERMISSION")}
_ROW1 = re.compile(r"^\|\s*(\d+)\s+(\S(?:.*?\S)?)\s+(On|Off|N/A)\s*\|\s*([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])"
                   r"\s+(\S+)\s*\|")
_ROW2 = re.compile(r"^\|.*\|\s*(\d+)MiB\s*/\s*(\d+)MiB\s*\|\s*(\S+)\s+(\S(?:[^|]*?\S)?)\s*\|")
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
    timestamp: Optional[str] = None  # as printed above the table
    nvml_error: Optional[str] = None  # the message, when nvidia-smi printed only that NVML did not start
    nvml_library_version: Optional[str] = None  # `NVML library version: 570.124`, printed with a mismatch
    format_name: str = "nvidia-smi"
    gpu_list_cut: Optional[str] = None  # why the GPU list shown is not all the GPUs (a cut, a gap in indexes)

    @property
    def found(self) -> bool:
        return self.driver_version is not None or bool(self.gpus) or self.nvml_error is not None

    @property
    def problems(self) -> List[str]:
        return []

    def observations(self) -> Iterable[Observation]:
        date = dump_date(self.timestamp) if self.timestamp else None
        if date:
            yield ("dump", "date"), date, SECTION
        if self.nvml_error is not None:
            yield from self._nvml_failure()
        if self.driver_version:
            yield ("driver", "version"), self.driver_version, SECTION
            yield ("driver", "nvml_status"), "ok", SECTION
        if self.cuda_version == "N/A":
            yield ("driver", "cuda_driver_version"), Unavailable(
                Reason.NOT_FOUND, SECTION, "CUDA Version: N/A: nvidia-smi found no usable libcuda.so (the driver's "
                "CUDA library) where it ran, so CUDA programs there cannot use the GPUs"), SECTION
        elif self.cuda_version:
            yield ("driver", "cuda_driver_version"), self.cuda_version, SECTION
        if self.gpus:  # from a cut list, the GPUs shown are judged but how many the host has is not known
            cut = self._cut()
            count = len(self.gpus) if cut is None else Unavailable(Reason.NOT_IN_INPUT, SECTION, cut)
            yield ("driver", "device_count"), count, SECTION
        for gpu in self.gpus:
            index = int(gpu["index"])
            yield ("gpu", index, "present"), True, SECTION
            if gpu["name"].endswith("..."):  # cut to fit the column: kept as printed, the source says so
                yield ("gpu", index, "name"), gpu["name"], TRUNCATED_SECTION
            else:
                yield ("gpu", index, "name"), gpu["name"], SECTION
            yield ("gpu", index, "pci_bus_id"), gpu["bus_id"].upper(), SECTION
            if gpu["persistence"] in ("On", "Off"):
                yield ("gpu", index, "persistence_mode"), gpu["persistence"] == "On", SECTION
            if gpu["display_active"] in ("On", "Off"):  # `Disp.A`; N/A (a headless board) stays unknown
                yield ("gpu", index, "display_active"), gpu["display_active"] == "On", SECTION
            if "memory_total_mib" in gpu:
                yield ("gpu", index, "memory_total_bytes"), int(gpu["memory_total_mib"]) << 20, SECTION
                yield ("gpu", index, "memory_used_bytes"), int(gpu["memory_used_mib"]) << 20, SECTION
            mode = _COMPUTE_MODES.get(gpu.get("compute_mode", ""))
            if mode:
                yield ("gpu", index, "compute_mode"), mode, SECTION
            if gpu.get("mig") in ("Enabled", "Disabled"):
                yield ("gpu", index, "mig_enabled_current"), gpu["mig"] == "Enabled", SECTION


    def _cut(self) -> Optional[str]:
        if self.gpu_list_cut:
            return f"the paste cuts the GPU list ({self.gpu_list_cut!r} after GPU {self.gpus[-1]['index']})"
        shown = [int(gpu["index"]) for gpu in self.gpus]
        if shown != list(range(shown[0], shown[0] + len(shown))) or shown[0] != 0:
            return f"the paste shows GPUs {', '.join(map(str, shown))}: the others were not pasted"
        return None

    def _nvml_failure(self) -> Iterable[Observation]:
        message = self.nvml_error or ""
        if message == _NO_DRIVER:
            status = Unavailable(Reason.NOT_FOUND, SECTION, f"{message} (NVML_ERROR_DRIVER_NOT_LOADED)")
        else:
            reason, name = _NVML_ERRORS.get(message, (Reason.ERROR, ""))
            detail = f"Failed to initialize NVML: {message}" + (f" (NVML_ERROR_{name})" if name else "")
            if self.nvml_library_version:
                detail += f"; NVML library version: {self.nvml_library_version}"
            status = Unavailable(reason, SECTION, detail)
        yield ("driver", "nvml_status"), status, SECTION
        if self.nvml_library_version and not self.driver_version:
            # the user-space driver's version as nvidia-smi prints it beside a mismatch (major.minor)
            yield ("driver", "version"), self.nvml_library_version, SECTION


def dump_date(printed: str) -> Optional[str]:
    """`Nov 30 21:58:25 2026` (nvidia-smi's local time, zone unknown) -> `2026-11-30T21:58:25`; None for a
    date that does not exist (a mangled paste)."""
    try:
        return datetime.datetime.strptime(" ".join(printed.split()), "%b %d %H:%M:%S %Y").isoformat()
    except ValueError:
        return None


class SmiTableParser(Parser):
    name = "nvidia-smi"

    def __init__(self) -> None:
        self.result = SmiTable()
        self._current: Optional[Dict[str, str]] = None
        self._row = 0
        self._in_processes = False

    def feed(self, raw: str) -> None:
        line = unquote(clean(raw)).strip()
        if not line:
            return
        if "NVIDIA-SMI" in line:
            match = _HEADER.search(line)
            if match:
                self.result.smi_version, self.result.driver_version = match.group(1), match.group(2)
                self.result.cuda_version = match.group(3)
            elif _NO_DRIVER_LINE.match(line):
                self.result.nvml_error = _NO_DRIVER
            return
        if not line.startswith("|"):
            self._current = None
            if ELISION().match(line) and self.result.gpus and not self._in_processes:
                self.result.gpu_list_cut = self.result.gpu_list_cut or line
            self._outside_table(line)
            return
        if "Processes:" in line:
            self._in_processes = True
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

    def _outside_table(self, line: str) -> None:
        if line[:3] in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"):
            match = TIMESTAMP.match(line)
            if match and self.result.timestamp is None:
                self.result.timestamp = match.group(1)
        elif line.startswith("Failed to initialize NVML: "):
            match = _NVML_FAILED.match(line)
            if match:
                self.result.nvml_error = match.group(1)
        elif line.startswith("NVML library version: "):
            match = _NVML_LIBRARY.match(line)
            if match:
                self.result.nvml_library_version = match.group(1)
        elif command_line(line) is not None:
            self._current = None

    def finish(self) -> SmiTable:
        return self.result
