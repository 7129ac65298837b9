"""`nvidia-smi -L` into facts: each GPU's index, name and UUID, and the MIG devices listed under it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List

from .common import Observation, Parser, clean, unquote

SECTION = "nvidia-smi -L"
_GPU = re.compile(r"^GPU (\d+): (.+?) \(UUID: ([^)\s]+)\)\s*$")
# "  MIG 1g.10gb     Device  0: (UUID: MIG-...)" (R470+); older: "  MIG 1g.5gb Device 0: (UUID: MIG-GPU-.../1/0)"
_MIG = re.compile(r"^\s+MIG (\S+)\s+Device\s+(\d+): \(UUID: ([^)\s]+)\)\s*$")


@dataclass
class SmiList:
    gpus: List[Dict[str, object]] = field(default_factory=list)  # index, name, uuid, mig_devices
    format_name: str = "nvidia-smi -L"

    @property
    def found(self) -> bool:
        return bool(self.gpus)

    @property
    def problems(self) -> List[str]:
        return []

    def observations(self) -> Iterable[Observation]:
        if self.gpus:
            yield ("driver", "device_count"), len(self.gpus), SECTION
        for gpu in self.gpus:
            index = gpu["index"]
            yield ("gpu", index, "present"), True, SECTION
            yield ("gpu", index, "name"), gpu["name"], SECTION
            if str(gpu["uuid"]).startswith("GPU-") and len(str(gpu["uuid"])) > 12:  # not a redacted "GPU-..."
                yield ("gpu", index, "uuid"), gpu["uuid"], SECTION
            if gpu["mig_devices"]:
                # listed MIG devices prove MIG is on; their absence proves nothing (on, without instances)
                yield ("gpu", index, "mig_enabled_current"), True, SECTION


class SmiListParser(Parser):
    name = "nvidia-smi -L"

    def __init__(self) -> None:
        self.result = SmiList()

    def feed(self, raw: str) -> None:
        line = unquote(clean(raw))
        if line.startswith("GPU "):
            match = _GPU.match(line.strip())
            if match:
                index = int(match.group(1))
                if any(gpu["index"] == index for gpu in self.result.gpus):
                    return  # the same GPU printed again (nvlink -s, a second paste): not a new GPU
                self.result.gpus.append({"index": index, "name": match.group(2), "uuid": match.group(3),
                                         "mig_devices": []})
            return
        if "MIG" in line and self.result.gpus:
            match = _MIG.match(line)
            if match:
                self.result.gpus[-1]["mig_devices"].append(  # type: ignore[union-attr]
                    {"device": int(match.group(2)), "profile": match.group(1), "uuid": match.group(3)})

    def finish(self) -> SmiList:
        return self.result
