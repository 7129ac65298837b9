"""Cross-checks of the NVLink answers, because NVML can answer wrongly.

On a 2 x H200 NVSwitch host NVML answered NOT_SUPPORTED for links that were up whenever NVLink state was
asked while another NVLink query of the same GPU was in flight (bench/results/nvml-concurrency-h200x2.json).
gpubal no longer asks that way, but another program on the host (a monitoring agent, a second gpubal) can
still do it. So before a link count is believed, three things are checked:

- a link answered "not supported" while a higher-numbered link of the same GPU exists: a GPU's links are
  numbered from 0, so a gap is doubtful;
- a GPU model whose link count is known showing some of its links but not all;
- the two GPUs of a pair counting different numbers of links between them (direct, or to the NVSwitch
  fabric they share).

A doubtful GPU's link states are asked again, alone, twice. When the two fresh answers agree, they are the
fact (its source says it was re-asked, and why); when they disagree, the fact is Unavailable(inconsistent)
with every answer in its detail, and the rules that need it say "not evaluated".
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, List, Optional

from ...model import Gpu, Known, NvLink, Reason, Unavailable
from ..probes.nvml import DEVICE_QUERY_SOURCES, NVLINK_MAX_LINKS, NvmlAdapter
from .gpus import link_absent, nvlinks_from_states

# NVLinks per GPU, by the name NVML gives. Hopper SXM parts have 18 fourth-generation links (900 GB/s):
# https://developer.nvidia.com/blog/nvidia-hopper-architecture-in-depth/ ; the H200 SXM likewise
# ("18x 4th Gen NVLink, 900GB/s", NVIDIA's MLPerf system description:
# https://raw.githubusercontent.com/mlcommons/inference_results_v4.1/main/closed/NVIDIA/systems/H200-SXM-141GBx8_TRT_MaxQ.json),
# and 18 is what NVML answered on the real 2 x H200 host (tests/fixtures/nvml/h200x2-live.json).
KNOWN_LINK_COUNTS = {
    "NVIDIA H100 80GB HBM3": 18,
    "NVIDIA H200": 18,
}

REASKS = 2
REASK_PAUSE_S = 0.02  # lets whatever else was asking the GPU finish


def verify_nvlinks(nvml: NvmlAdapter, gpus: List[Gpu], sleep: Callable[[float], None] = time.sleep) -> List[Gpu]:
    """The GPUs with doubtful NVLink answers asked again; call it when no other NVML query is in flight."""
    doubts = {gpu.index: _doubts(gpu, gpus) for gpu in gpus}
    checked = []
    for gpu in gpus:
        why = doubts[gpu.index]
        checked.append(_reask(nvml, gpu, "; ".join(why), sleep) if why else gpu)
    return checked


def _links(gpu: Gpu) -> Optional[List[NvLink]]:
    return gpu.nvlinks.value if isinstance(gpu.nvlinks, Known) else None


def _doubts(gpu: Gpu, gpus: List[Gpu]) -> List[str]:
    links = _links(gpu)
    if links is None:
        return []
    why = _own_doubts(gpu, [link.link for link in links])
    for other in gpus:
        if other.index == gpu.index or _links(other) is None:
            continue
        mine, theirs = _toward(gpu, other), _toward(other, gpu)
        if mine is not None and theirs is not None and mine != theirs:
            why.append(f"GPU {gpu.index} counts {mine} active links toward GPU {other.index}, "
                       f"GPU {other.index} counts {theirs} back")
    return why


def _own_doubts(gpu: Gpu, present: List[int]) -> List[str]:
    """What is doubtful in one GPU's answer on its own: gaps in the numbering, or fewer links than its model has."""
    why = []
    if present:
        gaps = [number for number in range(max(present)) if number not in present]
        if gaps:
            why.append(f"links {_numbers(gaps)} answered 'not supported' while link {max(present)} exists")
    name = gpu.name.value if isinstance(gpu.name, Known) else None
    expected = KNOWN_LINK_COUNTS.get(name or "")
    # No link at all is how NVML answers where the links are not exposed (one SXM GPU passed through to a VM,
    # as on the lent 1 x H200): consistent, so not doubted. Some links but not all is what concurrency gave.
    if expected and 0 < len(present) < expected:
        why.append(f"an {name} has {expected} NVLinks, NVML answered for {len(present)}")
    return why


def _toward(gpu: Gpu, other: Gpu) -> Optional[int]:
    """Active links from `gpu` that reach `other`: direct ones naming its bus id, else the NVSwitch ones."""
    links = _links(gpu)
    if links is None or not isinstance(other.pci_bus_id, Known):
        return None
    target = _normal_bus(other.pci_bus_id.value)
    active = [link for link in links if isinstance(link.active, Known) and link.active.value]
    direct = [link for link in active if _remote(link) == target]
    if direct:
        return len(direct)
    switched = [link for link in active if isinstance(link.remote_device_type, Known)
                and link.remote_device_type.value == "nvswitch"]
    return len(switched) if switched else None


def _remote(link: NvLink) -> str:
    return _normal_bus(link.remote_pci_bus_id.value) if isinstance(link.remote_pci_bus_id, Known) else ""


def _normal_bus(bus_id: Any) -> str:
    try:
        domain, rest = str(bus_id).split(":", 1)
        return f"{int(domain, 16):08x}:{rest.lower()}"
    except ValueError:
        return ""


def _reask(nvml: NvmlAdapter, gpu: Gpu, why: str, sleep: Callable[[float], None]) -> Gpu:
    answers: List[List[Any]] = []
    for _ in range(REASKS):
        sleep(REASK_PAUSE_S)
        answers.append([nvml.device(gpu.index, "nvlink_state", link) for link in range(NVLINK_MAX_LINKS)])
    first = _describe_links(gpu)
    fresh = [_describe_states(states) for states in answers]
    asked = f"first {first}, then " + ", then ".join(fresh) + " when asked again alone"
    doubt = ""
    if len({_key(states) for states in answers}) != 1:
        doubt = "the answers differ"
    else:
        present = [link for link, state in enumerate(answers[-1]) if not isinstance(state, Unavailable)]
        lost = sorted({link.link for link in _links(gpu) or []} - set(present))
        still = _own_doubts(gpu, present)
        if lost:
            doubt = f"links {_numbers(lost)} answered before and 'not supported' when asked again"
        elif still:
            doubt = "still " + "; ".join(still)
    if doubt:
        detail = f"NVML's NVLink answers are doubtful ({why}): {asked}; {doubt}, so they are not judged"
        doubtful = Unavailable(Reason.INCONSISTENT, DEVICE_QUERY_SOURCES["nvlink_state"], detail)
        return dataclasses.replace(gpu, nvlinks=doubtful)
    note = f"; asked again alone because {why}: {asked}"
    return dataclasses.replace(gpu, nvlinks=nvlinks_from_states(nvml, gpu.index, answers[-1], note))


def _key(states: List[Any]) -> tuple:
    return tuple(("?", state.reason.value) if isinstance(state, Unavailable) else ("=", repr(state)) for state in states)


def _describe_states(states: List[Any]) -> str:
    up = [link for link, state in enumerate(states) if not isinstance(state, Unavailable) and state == 1]
    down = [link for link, state in enumerate(states) if not isinstance(state, Unavailable) and state != 1]
    absent = [link for link, state in enumerate(states) if link_absent(state)]
    failed = [link for link, state in enumerate(states) if isinstance(state, Unavailable) and not link_absent(state)]
    return _summary(up, down, absent, failed)


def _describe_links(gpu: Gpu) -> str:
    links = _links(gpu) or []
    up = [link.link for link in links if isinstance(link.active, Known) and link.active.value]
    down = [link.link for link in links if isinstance(link.active, Known) and not link.active.value]
    present = {link.link for link in links}
    absent = [number for number in range(NVLINK_MAX_LINKS) if number not in present]
    return _summary(up, down, absent, [])


def _summary(up: List[int], down: List[int], absent: List[int], failed: List[int]) -> str:
    parts = [f"{len(up)} up"]
    if down:
        parts.append(f"{_numbers(down)} down")
    if absent and up:
        parts.append(f"{_numbers(absent)} not supported")
    if failed:
        parts.append(f"{_numbers(failed)} failed")
    return "(" + ", ".join(parts) + ")"


def _numbers(numbers: List[int]) -> str:
    """[0, 13, 14, 15] -> '0, 13-15'"""
    ranges: List[str] = []
    start = previous = None
    for number in sorted(numbers) + [None]:  # type: ignore[list-item]
        if start is not None and (number is None or number != previous + 1):
            ranges.append(str(start) if start == previous else f"{start}-{previous}")
            start = None
        if number is not None and start is None:
            start = number
        previous = number
    return ", ".join(ranges)
