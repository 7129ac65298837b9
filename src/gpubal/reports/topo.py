"""`gpubal topo`: the topology and the placement advice, for a terminal (rich) and as JSON."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from .. import __version__
from ..doctor.model import to_jsonable
from ..placement.advice import Layout, TopoAdvice
from .style import LINK_STYLE


def _gib(size: int) -> str:
    return f"{size / 2**30:.0f} GiB" if size else "unknown"


def render_topo_json(advice: TopoAdvice) -> str:
    topology = advice.topology
    document = {
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
    console.print(f"[bold]gpubal topo[/bold] {__version__}: {len(topology.gpus)} GPU"
                  f"{'s' if len(topology.gpus) != 1 else ''} to place")
    if topology.gpus:
        _print_gpus(advice, console)
    console.print()
    console.print("[bold]Topology[/bold]")
    console.print("  NVLink cliques: " + (_sets(topology.nvlink_cliques) or "none (no two GPUs share NVLink)"))
    console.print("  PCIe switch groups (PIX/PXB): " + (_sets(topology.pcie_switch_groups) or "none"))
    console.print("  NUMA domains: " + ("; ".join(
        f"node {node}: GPU {', '.join(map(str, gpus))} (CPUs {cpus or 'unknown'})"
        for node, gpus, cpus in topology.numa_domains) or "unknown"), soft_wrap=True)
    for note in advice.notes:
        console.print(f"  [yellow]note[/yellow]: {note}", soft_wrap=True)
    for layout in advice.layouts:
        _print_layout(layout, console)
    console.print()
    console.print("[bold]GPU order[/bold]: " + advice.cuda_order_note, soft_wrap=True)


def _sets(groups) -> str:
    return "; ".join("{" + ", ".join(f"GPU {i}" for i in group) + "}" for group in groups)


def _print_gpus(advice: TopoAdvice, console: Console) -> None:
    topology = advice.topology
    indices = [gpu.index for gpu in topology.gpus]
    table = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 1))
    table.add_column("")
    for index in indices:
        table.add_column(f"GPU{index}")
    for column in ("memory", "NUMA", "local CPUs"):
        table.add_column(column)
    for gpu in topology.gpus:
        cells = []
        for other in indices:
            if other == gpu.index:
                cells.append("X")
            else:
                label = topology.link(gpu.index, other).label
                style = LINK_STYLE.get("NV" if label.startswith("NV") else label, "")
                cells.append(f"[{style}]{label}[/{style}]" if style else label)
        table.add_row(f"GPU{gpu.index}", *cells, _gib(gpu.memory_total_bytes),
                      str(gpu.numa_node) if gpu.numa_node >= 0 else "none", gpu.cpu_list or "unknown")
    console.print(table)
    for gpu in topology.gpus:
        _line(console, f"  GPU{gpu.index}: {gpu.uuid}  {gpu.name}  PCI {gpu.pci_bus_id or 'unknown'}")


def _line(console: Console, text: str) -> None:
    """A line to copy and paste: never wrapped, never read as markup."""
    console.print(text, soft_wrap=True, markup=False, highlight=False)


def _print_layout(layout: Layout, console: Console) -> None:
    console.print()
    count = len(layout.groups)
    console.print(f"[bold]Groups of {layout.group_size}[/bold] ({count} group{'s' if count != 1 else ''})")
    for note in layout.notes:
        console.print(f"  {note}", soft_wrap=True)
    for group in layout.groups:
        gpus = ", ".join(map(str, group.gpus))
        console.print(f"  [bold]group {group.number}[/bold]: GPU {gpus}  link {group.link}  "
                      f"NUMA {group.numa_node if group.numa_node >= 0 else '-'}")
        for reason in group.reasons:
            console.print(f"    why: {reason}", soft_wrap=True)
        for warning in group.warnings:
            console.print(f"    [yellow]but[/yellow]: {warning}", soft_wrap=True)
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
        console.print("  Serve with one Ollama per group: copy ollama.service to ollama@.service, add the drop-ins "
                      "above, then `systemctl daemon-reload && systemctl enable --now "
                      + " ".join(f"ollama@{g.number}" for g in layout.groups) + "`; put a load balancer in front:",
                      soft_wrap=True)
        for line in layout.load_balancer:
            _line(console, f"    {line}")
    if count == 1 and layout.group_size > 1:
        _line(console, f"  Or one Ollama server spread over every GPU: {layout.spread_command}")
