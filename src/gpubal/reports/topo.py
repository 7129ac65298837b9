"""`gpubal topo`: the topology and the placement advice, for a terminal (rich) and as JSON."""

from __future__ import annotations

import json
from typing import Dict, List

from rich.console import Console
from rich.text import Text

from .. import __version__
from ..snapshot_file import to_jsonable
from ..placement.advice import Layout, TopoAdvice
from .style import LINK_STYLE
from .tables import uncut_table
from .visible import visible
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


def render_topo_terminal(advice: TopoAdvice, console: Console) -> None:
    topology = advice.topology
    _line(console, Text.assemble(("gpubal topo", "bold"), f" {__version__}: {len(topology.gpus)} GPU"
                                 f"{'s' if len(topology.gpus) != 1 else ''} to place"))
    if topology.gpus:
        _print_gpus(advice, console)
    console.print()
    _line(console, Text("Topology", style="bold"))
    nvlink_unknown = sorted({tuple(sorted(pair)) for pair, link in topology.links.items() if link.nvlink_route == "unknown"})
    unknown_note = ("NVLink unknown between " + ", ".join(f"GPU {a}-GPU {b}" for a, b in nvlink_unknown)
                    if nvlink_unknown else "")
    cliques = _sets(topology.nvlink_cliques) or ("none known" if nvlink_unknown else "none (no two GPUs share NVLink)")
    _line(console, "  NVLink cliques: " + "; ".join(part for part in (cliques, unknown_note) if part))
    _line(console, "  PCIe switch groups (PIX/PXB): " + (_sets(topology.pcie_switch_groups) or "none"))
    _line(console, "  NUMA domains: " + ("; ".join(
        f"node {node}: GPU {', '.join(map(str, gpus))} (CPUs {cpus or 'unknown'})"
        for node, gpus, cpus in topology.numa_domains) or "unknown"))
    for note in _notes_for_people(advice):
        _line(console, Text.assemble("  ", ("note", "yellow"), f": {visible(note)}"))
    for layout in advice.layouts:
        _print_layout(layout, console)
    console.print()
    _line(console, Text.assemble(("GPU order", "bold"), ": " + visible(advice.cuda_order_note)))


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


def _print_gpus(advice: TopoAdvice, console: Console) -> None:
    topology = advice.topology
    indices = [gpu.index for gpu in topology.gpus]
    headings = [""] + [f"GPU{index}" for index in indices] + ["memory", "NUMA", "local CPUs"]
    rows = []
    for gpu in topology.gpus:
        cells = ["X" if other == gpu.index else topology.link(gpu.index, other).label for other in indices]
        rows.append([f"GPU{gpu.index}", *cells, _gib(gpu.memory_total_bytes),
                     str(gpu.numa_node) if gpu.numa_node >= 0 else "none", gpu.cpu_list or "unknown"])
    table = uncut_table(headings, rows, cell=_link_cell, width=console.width, bordered=False)
    console.print(table)
    for gpu in topology.gpus:
        _line(console, f"  GPU{gpu.index}: {gpu.uuid}  {gpu.name}  PCI {gpu.pci_bus_id or 'unknown'}")


def _link_cell(label: str) -> Text:
    style = LINK_STYLE.get("NV" if label.startswith("NV") and label[2:].isdigit() else label, "")
    return Text(visible(label), style=style)


def _line(console: Console, text: "str | Text") -> None:
    """A line to copy and paste: never wrapped, never read as markup or emoji (GPU names, bus ids and
    notes come from the host), control characters shown as escapes whatever console it is given."""
    if isinstance(text, str):
        text = Text(visible(text))
    console.print(text, soft_wrap=True, markup=False, highlight=False, emoji=False)


def _print_layout(layout: Layout, console: Console) -> None:
    console.print()
    count = len(layout.groups)
    _line(console, Text.assemble((f"Groups of {layout.group_size}", "bold"),
                                 f" ({count} group{'s' if count != 1 else ''})"))
    for note in layout.notes:
        _line(console, f"  {note}")
    for group in layout.groups:
        gpus = ", ".join(map(str, group.gpus))
        _line(console, Text.assemble("  ", (f"group {group.number}", "bold"), f": GPU {gpus}  link {group.link}  "
                                     f"NUMA {group.numa_node if group.numa_node >= 0 else '-'}"))
        for reason in group.reasons:
            _line(console, f"    why: {reason}")
        for warning in group.warnings:
            _line(console, Text.assemble("    ", ("but", "yellow"), f": {visible(warning)}"))
        _line(console, f"    CUDA_VISIBLE_DEVICES={group.cuda_visible_devices}")
        _line(console, f"    or: CUDA_DEVICE_ORDER=PCI_BUS_ID CUDA_VISIBLE_DEVICES={group.cuda_visible_devices_by_index}")
        if group.cpu_binding:
            _line(console, f"    bind the serving process: {group.cpu_binding} <command>")
        _line(console, f"    ollama: {group.ollama_command}")
        if count > 1:
            _line(console, f"    systemd drop-in /etc/systemd/system/ollama@{group.number}.service.d/gpus.conf:")
            for line in group.systemd_drop_in:
                _line(console, f"      {line}")
        if group.vllm_command:
            _line(console, f"    vLLM: {group.vllm_command}")
            _line(console, f"    SGLang: {group.sglang_command}")
    if count > 1:
        _line(console, "  Serve with one Ollama per group: copy ollama.service to ollama@.service, add the drop-ins "
                       "above, then `systemctl daemon-reload && systemctl enable --now "
                       + " ".join(f"ollama@{g.number}" for g in layout.groups) + "`; put a load balancer in front:")
        for line in layout.load_balancer:
            _line(console, f"    {line}")
    if count == 1 and layout.group_size > 1:
        _line(console, f"  Or one Ollama server spread over every GPU: {layout.spread_command}")
