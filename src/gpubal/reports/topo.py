"""`gpubal topo`: the topology and the placement advice, for a terminal (a Page: plain text, or drawn by
rich in colour) and as JSON."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

from .. import __version__
from ..snapshot_file import to_jsonable
from ..placement.advice import Layout, TopoAdvice
from .style import LINK_STYLE
from .page import Page
from . import words


def _gib(size: int) -> str:
    return f"{size / 2**30:.0f} GiB" if size else "unknown"


def render_topo_json(advice: TopoAdvice) -> str:
    topology = advice.topology
    document = {
        "schema_version": 1,
        "gpubal_version": __version__,
        "gpus": to_jsonable(list(topology.gpus)),
        "excluded": [{"gpu": index, "why": why} for index, why in topology.excluded],
        "links": [to_jsonable(link) for (a, b), link in sorted(topology.links.items()) if a < b],
        "nvlink_cliques": [list(c) for c in topology.nvlink_cliques],
        "pcie_switch_groups": [list(g) for g in topology.pcie_switch_groups],
        "numa_domains": [{"node": node, "gpus": list(gpus), "cpu_list": cpus}
                         for node, gpus, cpus in topology.numa_domains],
        "cuda_order_note": advice.cuda_order_note,
        "notes": list(advice.notes),
        "layouts": to_jsonable(list(advice.layouts)),
    }
    return json.dumps(document, indent=1) + "\n"


def render_topo_terminal(advice: TopoAdvice, console: Any) -> None:
    """The advice drawn on a rich console."""
    topo_page(advice).draw(console)


def topo_page(advice: TopoAdvice) -> Page:
    """Lines to copy and paste: never wrapped, never read as markup or emoji (GPU names, bus ids and notes
    come from the host), control characters shown as escapes."""
    topology = advice.topology
    page = Page()
    page.line([("gpubal topo", "bold"), f" {__version__}: {len(topology.gpus)} GPU"
                                       f"{'s' if len(topology.gpus) != 1 else ''} to place"])
    if topology.gpus:
        _print_gpus(advice, page)
    page.blank()
    page.line("Topology", base="bold")
    nvlink_unknown = sorted({tuple(sorted(pair)) for pair, link in topology.links.items() if link.nvlink_route == "unknown"})
    unknown_note = ("NVLink unknown between " + ", ".join(f"GPU {a}-GPU {b}" for a, b in nvlink_unknown)
                    if nvlink_unknown else "")
    cliques = _sets(topology.nvlink_cliques) or ("none known" if nvlink_unknown else "none (no two GPUs share NVLink)")
    page.line("  NVLink cliques: " + "; ".join(part for part in (cliques, unknown_note) if part))
    page.line("  PCIe switch groups (PIX/PXB): " + (_sets(topology.pcie_switch_groups) or "none"))
    page.line("  NUMA domains: " + ("; ".join(
        f"node {node}: GPU {', '.join(map(str, gpus))} (CPUs {cpus or 'unknown'})"
        for node, gpus, cpus in topology.numa_domains) or "unknown"))
    for note in _notes_for_people(advice):
        page.line(["  ", ("note", "yellow"), f": {note}"])
    for layout in advice.layouts:
        _print_layout(layout, page)
    page.blank()
    page.line([("GPU order", "bold"), ": " + advice.cuda_order_note])
    return page


def _notes_for_people(advice: TopoAdvice) -> List[str]:
    """The advice's notes as a person reads them: GPUs left out for one reason are one note, the reason in
    words (JSON keeps one entry per GPU, with the code), and a paste without UUIDs says what to add."""
    left_out = {f"GPU {index} is left out: {why}." for index, why in advice.topology.excluded}
    by_reason: Dict[str, List[int]] = {}
    for index, why in advice.topology.excluded:
        by_reason.setdefault(why, []).append(index)
    notes = []
    for why, indices in by_reason.items():
        said = words.described(why)
        if len(indices) == 1:
            notes.append(f"GPU {indices[0]} is left out: {said}.")
        else:
            notes.append(f"GPUs {', '.join(map(str, indices))} are left out, each because {said}.")
    if any(why.startswith("its UUID is unknown: not_in_input") for why in by_reason):
        notes.append("nvidia-smi -L (or nvidia-smi -q) names each GPU's UUID: paste it with the topology.")
    return notes + [note for note in advice.notes if note not in left_out]


def _sets(groups) -> str:
    return "; ".join("{" + ", ".join(f"GPU {i}" for i in group) + "}" for group in groups)


def _print_gpus(advice: TopoAdvice, page: Page) -> None:
    topology = advice.topology
    indices = [gpu.index for gpu in topology.gpus]
    headings = [""] + [f"GPU{index}" for index in indices] + ["memory", "NUMA", "local CPUs"]
    rows = []
    for gpu in topology.gpus:
        cells = ["X" if other == gpu.index else topology.link(gpu.index, other).label for other in indices]
        rows.append([f"GPU{gpu.index}", *cells, _gib(gpu.memory_total_bytes),
                     str(gpu.numa_node) if gpu.numa_node >= 0 else "none", gpu.cpu_list or "unknown"])
    page.table(headings, [[_link_cell(cell) for cell in row] for row in rows], bordered=False)
    for gpu in topology.gpus:
        page.line(f"  GPU{gpu.index}: {gpu.uuid}  {gpu.name}  PCI {gpu.pci_bus_id or 'unknown'}")


def _link_cell(label: str) -> Tuple[str, str]:
    return label, LINK_STYLE.get("NV" if label.startswith("NV") and label[2:].isdigit() else label, "")


def _print_layout(layout: Layout, page: Page) -> None:
    page.blank()
    count = len(layout.groups)
    page.line([(f"Groups of {layout.group_size}", "bold"), f" ({count} group{'s' if count != 1 else ''})"])
    for note in layout.notes:
        page.line(f"  {note}")
    for group in layout.groups:
        gpus = ", ".join(map(str, group.gpus))
        page.line(["  ", (f"group {group.number}", "bold"), f": GPU {gpus}  link {group.link}  "
                   f"NUMA {group.numa_node if group.numa_node >= 0 else '-'}"])
        for reason in group.reasons:
            page.line(f"    why: {reason}")
        for warning in group.warnings:
            page.line(["    ", ("but", "yellow"), f": {warning}"])
        page.line(f"    CUDA_VISIBLE_DEVICES={group.cuda_visible_devices}")
        page.line(f"    or: CUDA_DEVICE_ORDER=PCI_BUS_ID CUDA_VISIBLE_DEVICES={group.cuda_visible_devices_by_index}")
        if group.cpu_binding:
            page.line(f"    bind the serving process: {group.cpu_binding} <command>")
        page.line(f"    ollama: {group.ollama_command}")
        if count > 1:
            page.line(f"    systemd drop-in /etc/systemd/system/ollama@{group.number}.service.d/gpus.conf:")
            for line in group.systemd_drop_in:
                page.line(f"      {line}")
        if group.vllm_command:
            page.line(f"    vLLM: {group.vllm_command}")
            page.line(f"    SGLang: {group.sglang_command}")
    if count > 1:
        page.line("  Serve with one Ollama per group: copy ollama.service to ollama@.service, add the drop-ins "
                       "above, then `systemctl daemon-reload && systemctl enable --now "
                       + " ".join(f"ollama@{g.number}" for g in layout.groups) + "`; put a load balancer in front:")
        for line in layout.load_balancer:
            page.line(f"    {line}")
    if count == 1 and layout.group_size > 1:
        page.line(f"  Or one Ollama server spread over every GPU: {layout.spread_command}")
