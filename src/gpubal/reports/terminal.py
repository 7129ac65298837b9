"""The terminal report, drawn with rich. On a TTY it has colour; elsewhere (or with NO_COLOR) it is
plain, stable text that diffs well and pastes into an issue."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .. import __version__
from ..doctor.model import Known, Report, Unavailable
from . import summary as s
from .style import LINK_STYLE, SEVERITY_LABEL, SEVERITY_STYLE


def render_terminal(report: Report, console: Console) -> None:
    _header(report, console)
    _gpus(report, console)
    _topology(report, console)
    _findings(report, console)
    _passed(report, console)
    _not_evaluated(report, console)
    verdict = s.verdict(report)
    style = "bold red" if verdict.errors else "yellow" if verdict.warnings else "bold green"
    console.print(Text(f"Verdict: {verdict.headline}", style=style))


def _header(report: Report, console: Console) -> None:
    snapshot = report.snapshot
    host, driver = snapshot.host, snapshot.driver
    matrix = report.matrix_version or "not used by these rules"
    made_by = "" if snapshot.gpubal_version == __version__ else f" by gpubal {snapshot.gpubal_version}"
    console.print(Text(f"gpubal {__version__} doctor", style="bold"),
                  f"· snapshot {snapshot.collected_at} ({snapshot.origin}{made_by}) · compatibility matrix: {matrix}",
                  highlight=False)
    console.print(f"Host     {s.show(host.hostname)} · {s.show(host.os_release)} · kernel {s.show(host.kernel_release)}")
    numa = host.numa_nodes
    numa_text = (", ".join(f"node {n.node_id}: CPUs {n.cpu_list}" for n in numa.value)
                 if isinstance(numa, Known) else s.show(numa))
    console.print(f"CPU      {s.show(host.cpu_model)} · {s.show(host.cpu_count)} CPUs · NUMA {numa_text}")
    console.print(f"Platform virtualization {s.show(host.virtualization)} · container {s.show(host.container)}")
    if isinstance(driver.nvml_status, Unavailable):
        console.print(Text(f"Driver   NVML unavailable: {driver.nvml_status.describe()}", style="bold red"))
    else:
        flavor = driver.kernel_module_flavor
        module = f"{s.show(driver.kernel_module_version)}" + (f" ({flavor.value})" if isinstance(flavor, Known) else "")
        console.print(f"Driver   {s.show(driver.version)} · kernel module {module} · NVML {s.show(driver.nvml_version)}"
                      f" · CUDA (driver API) {s.show(driver.cuda_driver_version)}")
        console.print(f"         nvidia_uvm loaded {s.show(driver.uvm_module_loaded)} · /dev/nvidia-uvm "
                      f"{s.show(driver.uvm_device_present)} · nvidia-persistenced running {s.show(driver.persistenced_running)}")
    console.print()


def _gpus(report: Report, console: Console) -> None:
    gpus = report.snapshot.gpus
    if isinstance(gpus, Unavailable):
        console.print(f"GPUs: unknown — {gpus.describe()}\n")
        return
    if not gpus.value:
        console.print("GPUs: none\n")
        return
    table = Table(title=f"GPUs ({len(gpus.value)})", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("#", "Name", "Arch (CC)", "Memory", "PCIe", "NVLink", "Fabric", "MIG", "Persist", "NUMA", "Bus id"):
        table.add_column(column, overflow="fold")
    for gpu in gpus.value:
        arch = f"{s.show(gpu.architecture)} ({s.show(gpu.compute_capability)})"
        numa = gpu.numa_node
        table.add_row(
            str(gpu.index), s.show(gpu.name), arch, s.gib(gpu.memory_total_bytes), s.pcie_summary(gpu),
            s.nvlink_summary(gpu), s.fabric_summary(gpu), s.mig_summary(gpu), s.show(gpu.persistence_mode),
            str(numa.value) if isinstance(numa, Known) else s.show(numa), s.show(gpu.pci_bus_id),
        )
    console.print(table)


def _topology(report: Report, console: Console) -> None:
    rows = s.topology_rows(report)
    if rows is None or len(rows) < 3:
        return
    note = s.nvlink_route_note(report)
    table = Table(title="Topology (as nvidia-smi topo -m)" + (f" · {note}" if note else ""),
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for heading in rows[0]:
        table.add_column(heading)
    for row in rows[1:]:
        table.add_row(*[_link_cell(cell) for cell in row])
    console.print(table)
    console.print("  NV# = NVLinks between the pair · PIX/PXB = PCIe switch · PHB = host bridge · "
                  "NODE = same NUMA node · SYS = across sockets\n")


def _link_cell(cell: str) -> Any:
    key = "NV" if cell.startswith("NV") and cell[2:].isdigit() else cell
    return Text(cell, style=LINK_STYLE[key]) if key in LINK_STYLE else cell


def _findings(report: Report, console: Console) -> None:
    findings = report.findings()
    verdict = s.verdict(report)
    console.print(Text(f"Findings: {verdict.errors} errors, {verdict.warnings} warnings, {verdict.infos} info",
                       style="bold"))
    if not findings:
        console.print("  none\n")
        return
    for finding in findings:
        label = Text(f"  {SEVERITY_LABEL[finding.severity]:<8}", style=SEVERITY_STYLE[finding.severity])
        label.append(f"{finding.rule_id}  ", style="bold")
        label.append(finding.subject)
        console.print(label)
        console.print(f"    {finding.message}", highlight=False)
        evidence = ", ".join(f"{key}={value}" for key, value in finding.evidence.items())
        console.print(f"    evidence: {evidence}", highlight=False, style="dim")
        console.print(f"    fix: {finding.fix.summary}", highlight=False)
        for command in finding.fix.commands:
            console.print(f"      $ {command}", highlight=False, markup=False)
        if finding.fix.url:
            console.print(f"      docs: {finding.fix.url}", highlight=False)
    console.print()


def _passed(report: Report, console: Console) -> None:
    passed = s.passed_by_rule(report)
    console.print(Text(f"Passed: {sum(len(subjects) for _, subjects in passed)} checks", style="bold"))
    for rule_id, subjects in passed:
        console.print(f"  ok  {rule_id} ({', '.join(subjects)})", highlight=False)
    console.print()


def _not_evaluated(report: Report, console: Console) -> None:
    missing = s.not_evaluated(report)
    if not missing:
        return
    console.print(Text(f"Not evaluated: {len(missing)} checks (a fact they need could not be read)", style="bold"))
    for result in missing:
        console.print(f"  --  {result.rule_id} ({result.subject}): {result.missing_fact} is {result.missing_reason}",
                      highlight=False)
    console.print()
