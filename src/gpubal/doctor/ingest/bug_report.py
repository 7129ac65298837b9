"""nvidia-bug-report.log (plain or .gz) and /proc/driver/nvidia/version.

A bug report is a long concatenation of command outputs and files. The registry runs the nvidia-smi,
topology and NVLink parsers over the same stream; this parser adds what only the report has: the kernel
module's version line (`NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04 ...`) and
`uname -a`. The same `NVRM version` line is what `cat /proc/driver/nvidia/version` prints on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, List, Optional

from .common import Observation, Parser, clean

_NVRM = re.compile(r"NVRM version: NVIDIA (.{0,200}?)Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)")
_UNAME = re.compile(r"^Linux \S+ (\d+\.\d+\S*) #")
_BUG_REPORT = ("nvidia-bug-report.sh", "Start of NVIDIA bug report log file")


@dataclass
class BugReport:
    is_bug_report: bool = False
    kernel_module_version: Optional[str] = None
    kernel_module_flavor: Optional[str] = None
    kernel_release: Optional[str] = None
    format_name: str = "nvidia-bug-report.log"

    @property
    def found(self) -> bool:
        return self.is_bug_report or self.kernel_module_version is not None

    @property
    def problems(self) -> List[str]:
        return []

    def observations(self) -> Iterable[Observation]:
        section = "nvidia-bug-report" if self.is_bug_report else "/proc/driver/nvidia/version"
        if self.kernel_module_version:
            yield ("driver", "kernel_module_version"), self.kernel_module_version, section
            yield ("driver", "kernel_module_flavor"), self.kernel_module_flavor, section
        if self.kernel_release:
            yield ("host", "kernel_release"), self.kernel_release, section


class BugReportParser(Parser):
    name = "nvidia-bug-report.log"

    def __init__(self) -> None:
        self.result = BugReport()

    def feed(self, raw: str) -> None:
        if "NVRM" in raw:
            match = _NVRM.search(clean(raw))
            if match and self.result.kernel_module_version is None:
                self.result.kernel_module_version = match.group(2)
                self.result.kernel_module_flavor = "open" if "Open" in match.group(1) else "proprietary"
            return
        if raw.startswith("Linux "):
            match = _UNAME.match(raw)
            if match and self.result.kernel_release is None:
                self.result.kernel_release = match.group(1)
            return
        if not self.result.is_bug_report and any(marker in raw for marker in _BUG_REPORT):
            self.result.is_bug_report = True

    def finish(self) -> BugReport:
        return self.result
