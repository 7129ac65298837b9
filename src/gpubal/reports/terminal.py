"""The terminal report: a Page (reports/page.py) drawn with rich on a colour terminal, or written as
plain, stable text that diffs well and pastes into an issue (a file, a pipe, NO_COLOR), without rich.

Lines that carry free text (evidence, reasons, commands) are printed whole: in a file or a pipe they stay
one line each instead of being cut at the console width, and a terminal wraps them itself. Tables are kept
narrow enough for 8 GPUs at 100 columns; narrower consoles get them split, never cut."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from .. import __version__
from ..model import Gpu, Reason, Report, Unavailable
from . import summary as s
from . import words
from .page import Page
from .style import LINK_STYLE, SEVERITY_LABEL, SEVERITY_STYLE


def render_terminal(report: Report, console: Any, verbose: bool = False) -> None:
    """The report drawn on a rich console."""
    terminal_page(report, verbose).draw(console)


def terminal_page(report: Report, verbose: bool = False) -> Page:
    """Findings come before what passed; passed checks are one line unless `verbose` (-v) lists them."""
    page = Page()
    _header(report, page)
    _findings(report, page, verbose)
    _gpus(report, page)
    _topology(report, page)
    _processes(report, page)
    _passed(report, page, verbose)
    _not_evaluated(report, page)
    _not_applicable(report, page, verbose)
    verdict = s.verdict(report)
    style = "bold red" if verdict.errors else "yellow" if verdict.warnings else "bold green"
    page.line(f"Verdict: {verdict.headline}", base=style)
    return page


def _edged(text: str) -> str:
    """A value that begins or ends with a space or tab, in double quotes: the console drops the spaces at
    a line's end (rich's padding), and a value's own would otherwise vanish with them or read as none."""
    return f'"{text}"' if text != text.strip(" \t") else text


def _plural(count: int, one: str, many: str = "") -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _header(report: Report, page: Page) -> None:
    snapshot = report.snapshot
    host, driver = snapshot.host, snapshot.driver
    matrix = report.matrix_version or "none (these rules do not use it)"
    made_by = "" if snapshot.gpubal_version == __version__ else f", made by gpubal {snapshot.gpubal_version}"
    page.line([f"gpubal {__version__} doctor", f" · compatibility matrix {matrix}"], base="bold")
    page.line(f"Snapshot {snapshot.collected_at} ({snapshot.origin}{made_by})")
    if report.policy:
        page.line(f"Policy   {report.policy}")
    page.line(f"Host     {s.show(host.hostname)} · {s.show(host.os_release)} · kernel {s.show(host.kernel_release)}")
    numa = host.numa_nodes
    numa_text = ("; ".join(f"node {n.node_id}: CPUs {n.cpu_list}" for n in numa.value)
                 if not isinstance(numa, Unavailable) else s.show(numa))
    page.line(f"CPU      {s.show(host.cpu_model)} · {s.show(host.cpu_count)} CPUs · NUMA {numa_text}")
    page.line(f"Platform virtualization {s.show(host.virtualization)} · container {s.show(host.container)}")
    status = driver.nvml_status
    if isinstance(status, Unavailable) and status.reason is not Reason.NOT_IN_INPUT:
        page.line(f"Driver   NVML unavailable: {words.phrase(status)}", base="bold red")
    else:
        flavor = driver.kernel_module_flavor
        module = s.show(driver.kernel_module_version) + (
            "" if isinstance(flavor, Unavailable) else f" ({flavor.value})")
        page.line(f"Driver   {s.show(driver.version)} · kernel module {module} · NVML {s.show(driver.nvml_version)}"
                  f" · CUDA (driver API) {s.show(driver.cuda_driver_version)}")
        page.line(f"         nvidia_uvm loaded {s.show(driver.uvm_module_loaded)} · /dev/nvidia-uvm "
                  f"{s.show(driver.uvm_device_present)} · nvidia-persistenced running "
                  f"{s.show(driver.persistenced_running)}")
    if report.topology_class is not None:
        page.line(f"Topology {report.topology_class.text()}", base="bold")
        for line in report.topology_class.evidence:
            page.line(f"         {words.described(line)}")
    page.blank()


def _unreachable(gpu: Gpu) -> Optional[Unavailable]:
    """The one reason every fact of this GPU is unknown (a lost GPU), or None when some fact is known."""
    facts = (gpu.name, gpu.pci_bus_id, gpu.memory_total_bytes, gpu.pcie_link_gen_current, gpu.nvlinks,
             gpu.fabric_state, gpu.mig_enabled_current, gpu.persistence_mode, gpu.numa_node)
    if all(isinstance(fact, Unavailable) for fact in facts) and len({fact.reason for fact in facts}) == 1:
        return facts[0]  # type: ignore[return-value]
    return None


def _gpus(report: Report, page: Page) -> None:
    gpus = report.snapshot.gpus
    if isinstance(gpus, Unavailable):
        page.line(f"GPUs: unknown — {words.phrase(gpus)}", base="bold")
        page.blank()
        return
    if not gpus.value:
        page.line("GPUs: none", base="bold")
        page.blank()
        return
    unreachable = [(gpu, _unreachable(gpu)) for gpu in gpus.value if _unreachable(gpu) is not None]
    listed = [gpu for gpu in gpus.value if _unreachable(gpu) is None]
    models: Dict[str, List[int]] = {}
    for gpu in listed:
        models.setdefault(s.gpu_model(gpu), []).append(gpu.index)
    if len(models) == 1 and not unreachable:  # the usual host: the model is said once, above the table
        page.line(f"GPUs: {len(listed)} × {next(iter(models))}", base="bold")
    else:  # mixed models (or GPUs that do not answer): which GPU is which model, then the table
        page.line(f"GPUs: {len(gpus.value)}", base="bold")
        for model, indices in models.items():
            page.line(f"  {'GPU' if len(indices) == 1 else 'GPUs'} {', '.join(map(str, indices))}: {model}")
    if listed:
        headings = ["#", "Bus id", "PCIe", "NVLink", "Fabric", "MIG", "Persist", "NUMA"]
        rows = [[str(gpu.index), s.bus_id(gpu), s.pcie_summary(gpu), s.nvlink_summary(gpu), s.fabric_summary(gpu),
                 s.mig_summary(gpu), s.show(gpu.persistence_mode), s.numa_text(gpu.numa_node)] for gpu in listed]
        page.table(headings, rows)
    for gpu, reason in unreachable:
        page.line(f"GPU {gpu.index}: every fact unknown — {words.phrase(reason)}")
    page.blank()


def _topology(report: Report, page: Page) -> None:
    rows = s.topology_rows(report)
    if rows is None or len(rows) < 3:
        return
    note = s.nvlink_route_note(report)
    page.line("Topology (as nvidia-smi topo -m)" + (f" · {note}" if note else ""), base="bold")
    page.table(rows[0], [[_link_cell(cell) for cell in row] for row in rows[1:]])
    page.line("  NV# = NVLinks between the pair · PIX/PXB = through PCIe switches · PHB = through a host bridge")
    page.line("  NODE = within one NUMA node · SYS = across NUMA nodes (the inter-socket link)")
    page.blank()


def _processes(report: Report, page: Page) -> None:
    """One block per process, each fact on its own line: host strings (command lines, user and program
    names) can be long or look like markup, and a table would cut or wrap them to fit."""
    table = s.process_table(report)
    if table is None:
        return
    if table.note:
        page.line(f"Processes: {table.note}", base="bold")
        page.blank()
        return
    page.line("Processes using GPUs, and model servers", base="bold")
    for row, (_pid, details) in zip(table.rows, table.details):
        cells = dict(zip(table.headings, row))
        if cells["Program"] == "not visible":
            page.line(f"  PID {cells['PID']}  not visible · GPUs {cells['GPUs']} (NUMA {cells['GPU NUMA']})")
        else:
            page.line(f"  PID {cells['PID']}  {cells['Program']} · user {cells['User']} · GPUs {cells['GPUs']} "
                      f"(NUMA {cells['GPU NUMA']}) · CPUs {cells['CPUs']} · memory nodes {cells['Mem nodes']}")
        for label, text in details:
            page.line(f"    {label}: {text}")
    page.blank()


def _link_cell(cell: str) -> Tuple[str, str]:
    key = "NV" if cell.startswith("NV") and cell[2:].isdigit() else cell
    return cell, LINK_STYLE.get(key, "")


def _findings(report: Report, page: Page, verbose: bool = False) -> None:
    findings = report.findings()
    verdict = s.verdict(report)
    page.line(f"Findings: {_plural(verdict.errors, 'error')}, {_plural(verdict.warnings, 'warning')}, "
              f"{verdict.infos} info", base="bold")
    if not findings:
        page.line("  none")
        page.blank()
        return
    groups = [[finding] for finding in findings] if verbose else s.grouped_findings(report)
    for group in groups:
        finding = group[0]
        page.line([f"  {SEVERITY_LABEL[finding.severity]:<8}", (f"{finding.rule_id}  ", "bold"),
                   ", ".join(one.subject for one in group)], base=SEVERITY_STYLE[finding.severity])
        page.line(f"    {finding.message}")
        evidence = ", ".join(f"{key}={_edged(words.value(value))}" for key, value in finding.evidence.items())
        page.line(f"    evidence: {evidence}", style="dim")
        if len(group) > 1:
            page.line(f"    (the same on the other {len(group) - 1}, with their own evidence: -v shows each)")
        page.line(f"    fix: {finding.fix.summary}")
        first, own, last = s.split_commands(group)
        for command in first:
            page.line(f"      $ {command}")
        for subject, commands in own:  # a command that names its GPU, marked with a shell comment
            for command in commands:
                page.line(f"      $ {command}  # {subject}")
        for command in last:
            page.line(f"      $ {command}")
        if finding.fix.url:
            page.line(f"      docs: {finding.fix.url}")
    page.blank()


def _passed(report: Report, page: Page, verbose: bool = False) -> None:
    passed = s.passed_by_rule(report)
    count = sum(len(subjects) for _, subjects in passed)
    if not verbose:
        hint = f" of {_plural(len(passed), 'rule')} (-v lists them)" if passed else ""
        page.line(f"Passed: {_plural(count, 'check')}{hint}", base="bold")
        page.blank()
        return
    page.line(f"Passed: {_plural(count, 'check')}", base="bold")
    for rule_id, subjects in passed:
        page.line(f"  ok  {rule_id} ({s.subjects_text(subjects)})")
    page.blank()


def _not_evaluated(report: Report, page: Page) -> None:
    groups = s.missing_facts(report)
    if not groups:
        return
    total = sum(len(group.checks) for group in groups)
    page.line(f"Not evaluated: {_plural(total, 'check')} (a fact they need could not be read)", base="bold")
    for group in groups:
        page.line(f"  --  {group.fact}: {group.reason}")
        # The list of checks is wrapped between ids (never inside one), under a hanging indent.
        page.paragraph(f"needed by {_plural(len(group.checks), 'check')}: {group.checks_text}", indent=6)
    page.blank()


def _not_applicable(report: Report, page: Page, verbose: bool = False) -> None:
    """Checks that do not apply here (a rule --ignore'd, skipped by site policy, vLLM not installed): one
    line, listed with -v, so an ignored rule still leaves a trace."""
    groups = s.not_applicable_by_rule(report)
    if not groups:
        return
    count = sum(len(subjects) for _, subjects, _ in groups)
    rules = len({rule_id for rule_id, _, _ in groups})
    if not verbose:
        page.line(f"Does not apply: {_plural(count, 'check')} of {_plural(rules, 'rule')} (-v lists them)",
                  base="bold")
        page.blank()
        return
    page.line(f"Does not apply: {_plural(count, 'check')}", base="bold")
    for rule_id, subjects, why in groups:
        page.line(f"  ..  {rule_id} ({s.subjects_text(subjects)}): {why}")
    page.blank()
