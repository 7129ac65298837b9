"""`nvidia-smi nvlink -s` into facts: per GPU, each NVLink's speed or `<inactive>`.

A paste may elide GPUs (`....`) or UUIDs (`...`): only the GPUs printed become facts. A GPU whose block
the user cut (an elision line such as `...`, `....` or `…` between its header and the next GPU) has a
partial link list: its `nvlinks` fact is Unavailable(not_in_input) with the links that were shown in the
detail, so that no rule judges a cut list as the GPU's links (a GPU with 2 of its 18 links shown is not
a GPU with 16 links down). nvidia-smi prints every link of a GPU, up or `<inactive>`, so a GPU that shows
fewer link lines than another GPU of the same model was cut too (a paste that ends inside its block), and
is partial in the same way."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List

from ...model import Known, NvLink, Reason, Unavailable
from .common import ELISION, Observation, Parser, clean, command_line, unquote

SECTION = "nvidia-smi nvlink -s"
_GPU = re.compile(r"^GPU (\d+): (.+?) \(UUID: ([^)]{0,100})\)\s*$")
_LINK = re.compile(r"^Link (\d+): (.*\S|.)\s*$")


@dataclass
class NvlinkStatus:
    gpus: Dict[int, Dict[str, object]] = field(default_factory=dict)  # index -> name, uuid, links {n: text}
    format_name: str = "nvidia-smi nvlink -s"

    @property
    def found(self) -> bool:
        return any(gpu["links"] for gpu in self.gpus.values())

    @property
    def problems(self) -> List[str]:
        return []

    def cut(self, index: int) -> str:
        """Why GPU `index`'s link list is partial, or "" when it looks whole."""
        gpu = self.gpus[index]
        if gpu.get("elided"):
            return f"the paste cuts GPU {index}'s NVLink list ({gpu['elided']!r})"
        most = max(len(other["links"]) for other in self.gpus.values()  # type: ignore[arg-type]
                   if other["name"] == gpu["name"])
        if len(gpu["links"]) < most:  # type: ignore[arg-type]
            return (f"GPU {index} shows {len(gpu['links'])} link lines where another {gpu['name']} shows {most}; "  # type: ignore[arg-type]
                    "nvidia-smi prints every link, up or <inactive>, so the paste was cut")
        return ""

    def observations(self) -> Iterable[Observation]:
        for index, gpu in self.gpus.items():
            links: Dict[int, str] = gpu["links"]  # type: ignore[assignment]
            if not links:
                continue
            yield ("gpu", index, "present"), True, SECTION
            yield ("gpu", index, "name"), gpu["name"], SECTION
            why = self.cut(index)
            if why:
                shown = ", ".join(f"link {n}: {text}" for n, text in sorted(links.items()))
                yield ("gpu", index, "nvlinks"), Unavailable(
                    Reason.NOT_IN_INPUT, SECTION, f"partial: {why}; shown only {shown}"), SECTION
                continue
            missing = lambda what: Unavailable(Reason.NOT_IN_INPUT, SECTION, f"nvlink -s does not show the {what}")
            yield ("gpu", index, "nvlinks"), [
                NvLink(gpu_index=index, link=link, active=Known(text != "<inactive>", SECTION),
                       version=missing("NVLink version"), remote_pci_bus_id=missing("remote end"),
                       remote_device_type=missing("remote end"))
                for link, text in sorted(links.items())], SECTION


class NvlinkStatusParser(Parser):
    name = "nvidia-smi nvlink -s"

    def __init__(self) -> None:
        self.result = NvlinkStatus()
        self._current: object = None

    def feed(self, raw: str) -> None:
        line = unquote(clean(raw)).strip()
        if line.startswith("GPU "):
            match = _GPU.match(line)
            if match:
                index = int(match.group(1))
                self._current = self.result.gpus.setdefault(
                    index, {"name": match.group(2), "uuid": match.group(3), "links": {}})
                return
        if line.startswith("Link ") and isinstance(self._current, dict):
            match = _LINK.match(line)
            if match and ("/s" in match.group(2) or match.group(2) == "<inactive>"):
                self._current["links"][int(match.group(1))] = match.group(2)
            return
        if isinstance(self._current, dict) and ELISION().match(line):
            self._current.setdefault("elided", line)  # the rest of this GPU's block was cut by the user
            return
        if line and not line.startswith("Link ") and not ELISION().match(line):
            self._current = None
        if line and command_line(line) is not None:
            self._current = None

    def finish(self) -> NvlinkStatus:
        return self.result
