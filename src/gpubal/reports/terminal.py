"""The terminal report, drawn with rich. On a TTY it has colour; elsewhere (or with NO_COLOR) it is
plain, stable text that diffs well and pastes into an issue.

Lines that carry free text (evidence, reasons, commands) are printed with soft_wrap: in a file or a pipe
they stay one line each instead of being cut at the console width, and a terminal wraps them itself.
Tables are kept narrow enough for 8 GPUs at 100 columns; narrower consoles get them split, never cut."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from .. import __version__
from ..model import Gpu, Reason, Report, Unavailable
from . import summary as s
from . import words
from .style import LINK_STYLE, SEVERITY_LABEL, SEVERITY_STYLE
from .tables import uncut_table
from .visible import has_control, visible


def render_terminal(report: Report, console: Console, verbose: bool = False) -> None:
    """Findings come before what passed; passed checks are one line unless `verbose` (-v) lists them."""
    _header(report, console)
    _findings(report, console, verbose)
    _gpus(report, console)
    _topology(report, console)
    _processes(report, console)
    _passed(report, console, verbose)
    _not_evaluated(report, console)
    _not_applicable(report, console, verbose)
    verdict = s.verdict(report)
    style = "bold red" if verdict.errors else "yellow" if verdict.warnings else "bold green"
    _line(console, Text(f"Verdict: {verdict.headline}", style=style))


def _line(console: Console, text: Any, style: str = "") -> None:
    """One line of free text: never cut at the console width, never read as markup or emoji, control
    characters shown as escapes (whatever console the caller passes)."""
    console.print(_shown(text), style=style or None, soft_wrap=True, highlight=False, markup=False, emoji=False)


def _shown(text: Any) -> Text:
    """Host text as a rich Text of its visible characters (a styled Text keeps its style; one that holds
    a control character, only its base style)."""
    if isinstance(text, Text):
        return Text(visible(text.plain), style=text.style) if has_control(text.plain) else text
    return Text(visible(str(text)))


def _edged(text: str) -> str:
    """A value that begins or ends with a space or tab, in double quotes: the console drops the spaces at
    a line's end (rich's padding), and a value's own would otherwise vanish with them or read as none."""
    return f'"{text}"' if text != text.strip(" \t") else text


def _plural(count: int, one: str, many: str = "") -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _header(report: Report, console: Console) -> None:
    snapshot = report.snapshot
    host, driver = snapshot.host, snapshot.driver
    matrix = report.matrix_version or "none (these rules do not use it)"
    made_by = "" if snapshot.gpubal_version == __version__ else f", made by gpubal {snapshot.gpubal_version}"
    title = Text(f"gpubal {__version__} doctor", style="bold")
    title.append(f" · compatibility matrix {matrix}")
    _line(console, title)
    _line(console, f"Snapshot {snapshot.collected_at} ({snapshot.origin}{made_by})")
    if report.policy:
        _line(console, f"Policy   {report.policy}")
    _line(console, f"Host     {s.show(host.hostname)} · {s.show(host.os_release)} · kernel {s.show(host.kernel_release)}")
    numa = host.numa_nodes
    numa_text = ("; ".join(f"node {n.node_id}: CPUs {n.cpu_list}" for n in numa.value)
                 if not isinstance(numa, Unavailable) else s.show(numa))
    _line(console, f"CPU      {s.show(host.cpu_model)} · {s.show(host.cpu_count)} CPUs · NUMA {numa_text}")
    _line(console, f"Platform virtualization {s.show(host.virtualization)} · container {s.show(host.container)}")
    status = driver.nvml_status
    if isinstance(status, Unavailable) and status.reason is not Reason.NOT_IN_INPUT:
        _line(console, Text(f"Driver   NVML unavailable: {words.phrase(status)}", style="bold red"))
    else:
        flavor = driver.kernel_module_flavor
        module = s.show(driver.kernel_module_version) + (
            "" if isinstance(flavor, Unavailable) else f" ({flavor.value})")
        _line(console, f"Driver   {s.show(driver.version)} · kernel module {module} · NVML {s.show(driver.nvml_version)}"
                       f" · CUDA (driver API) {s.show(driver.cuda_driver_version)}")
        _line(console, f"         nvidia_uvm loaded {s.show(driver.uvm_module_loaded)} · /dev/nvidia-uvm "
                       f"{s.show(driver.uvm_device_present)} · nvidia-persistenced running "
                       f"{s.show(driver.persistenced_running)}")
    if report.topology_class is not None:
        _line(console, Text(f"Topology {report.topology_class.text()}", style="bold"))
        for line in report.topology_class.evidence:
            _line(console, f"         {words.described(line)}")
    console.print()


def _unreachable(gpu: Gpu) -> Optional[Unavailable]:
    """The one reason every fact of this GPU is unknown (a lost GPU), or None when some fact is known."""
    facts = (gpu.name, gpu.pci_bus_id, gpu.memory_total_bytes, gpu.pcie_link_gen_current, gpu.nvlinks,
             gpu.fabric_state, gpu.mig_enabled_current, gpu.persistence_mode, gpu.numa_node)
    if all(isinstance(fact, Unavailable) for fact in facts) and len({fact.reason for fact in facts}) == 1:
        return facts[0]  # type: ignore[return-value]
    return None


def _gpus(report: Report, console: Console) -> None:
    gpus = report.snapshot.gpus
    if isinstance(gpus, Unavailable):
        _line(console, Text(f"GPUs: unknown — {words.phrase(gpus)}", style="bold"))
        console.print()
        return
    if not gpus.value:
        _line(console, Text("GPUs: none", style="bold"))
        console.print()
        return
    unreachable = [(gpu, _unreachable(gpu)) for gpu in gpus.value if _unreachable(gpu) is not None]
    listed = [gpu for gpu in gpus.value if _unreachable(gpu) is None]
    models: Dict[str, List[int]] = {}
    for gpu in listed:
        models.setdefault(s.gpu_model(gpu), []).append(gpu.index)
    if len(models) == 1 and not unreachable:  # the usual host: the model is said once, above the table
        _line(console, Text(f"GPUs: {len(listed)} × {next(iter(models))}", style="bold"))
    else:  # mixed models (or GPUs that do not answer): which GPU is which model, then the table
        _line(console, Text(f"GPUs: {len(gpus.value)}", style="bold"))
        for model, indices in models.items():
            _line(console, f"  {'GPU' if len(indices) == 1 else 'GPUs'} {', '.join(map(str, indices))}: {model}")
    if listed:
        headings = ["#", "Bus id", "PCIe", "NVLink", "Fabric", "MIG", "Persist", "NUMA"]
        rows = [[str(gpu.index), s.bus_id(gpu), s.pcie_summary(gpu), s.nvlink_summary(gpu), s.fabric_summary(gpu),
                 s.mig_summary(gpu), s.show(gpu.persistence_mode), s.numa_text(gpu.numa_node)] for gpu in listed]
        console.print(uncut_table(headings, rows, width=console.width))
    for gpu, reason in unreachable:
        _line(console, f"GPU {gpu.index}: every fact unknown — {words.phrase(reason)}")
    console.print()


def _topology(report: Report, console: Console) -> None:
    rows = s.topology_rows(report)
    if rows is None or len(rows) < 3:
        return
    note = s.nvlink_route_note(report)
    _line(console, Text("Topology (as nvidia-smi topo -m)" + (f" · {note}" if note else ""), style="bold"))
    console.print(uncut_table(rows[0], rows[1:], cell=_link_cell, width=console.width))
    _line(console, "  NV# = NVLinks between the pair · PIX/PXB = through PCIe switches · PHB = through a host bridge")
    _line(console, "  NODE = within one NUMA node · SYS = across NUMA nodes (the inter-socket link)")
    console.print()


def _processes(report: Report, console: Console) -> None:
    """One block per process, each fact on its own line: host strings (command lines, user and program
    names) can be long or look like markup, and a table would cut or wrap them to fit."""
    table = s.process_table(report)
    if table is None:
        return
    if table.note:
        _line(console, Text(f"Processes: {table.note}", style="bold"))
        console.print()
        return
    _line(console, Text("Processes using GPUs, and model servers", style="bold"))
    for row, (_pid, details) in zip(table.rows, table.details):
        cells = dict(zip(table.headings, row))
        if cells["Program"] == "not visible":
            _line(console, f"  PID {cells['PID']}  not visible · GPUs {cells['GPUs']} (NUMA {cells['GPU NUMA']})")
        else:
            _line(console, f"  PID {cells['PID']}  {cells['Program']} · user {cells['User']} · GPUs {cells['GPUs']} "
                           f"(NUMA {cells['GPU NUMA']}) · CPUs {cells['CPUs']} · memory nodes {cells['Mem nodes']}")
        for label, text in details:
            _line(console, f"    {label}: {text}")
    console.print()


def _link_cell(cell: str) -> Any:
    key = "NV" if cell.startswith("NV") and cell[2:].isdigit() else cell
    return Text(cell, style=LINK_STYLE.get(key, ""))


def _findings(report: Report, console: Console, verbose: bool = False) -> None:
    findings = report.findings()
    verdict = s.verdict(report)
    _line(console, Text(f"Findings: {_plural(verdict.errors, 'error')}, {_plural(verdict.warnings, 'warning')}, "
                        f"{verdict.infos} info", style="bold"))
    if not findings:
        _line(console, "  none")
        console.print()
        return
    groups = [[finding] for finding in findings] if verbose else s.grouped_findings(report)
    for group in groups:
        finding = group[0]
        label = Text(f"  {SEVERITY_LABEL[finding.severity]:<8}", style=SEVERITY_STYLE[finding.severity])
        label.append(f"{finding.rule_id}  ", style="bold")
        label.append(", ".join(one.subject for one in group))
        _line(console, label)
        _line(console, f"    {finding.message}")
        evidence = ", ".join(f"{key}={_edged(words.value(value))}" for key, value in finding.evidence.items())
        _line(console, f"    evidence: {evidence}", style="dim")
        if len(group) > 1:
            _line(console, f"    (the same on the other {len(group) - 1}, with their own evidence: -v shows each)")
        _line(console, f"    fix: {finding.fix.summary}")
        first, own, last = s.split_commands(group)
        for command in first:
            _line(console, f"      $ {command}")
        for subject, commands in own:  # a command that names its GPU, marked with a shell comment
            for command in commands:
                _line(console, f"      $ {command}  # {subject}")
        for command in last:
            _line(console, f"      $ {command}")
        if finding.fix.url:
            _line(console, f"      docs: {finding.fix.url}")
    console.print()


def _passed(report: Report, console: Console, verbose: bool = False) -> None:
    passed = s.passed_by_rule(report)
    count = sum(len(subjects) for _, subjects in passed)
    if not verbose:
        hint = f" of {_plural(len(passed), 'rule')} (-v lists them)" if passed else ""
        _line(console, Text(f"Passed: {_plural(count, 'check')}{hint}", style="bold"))
        console.print()
        return
    _line(console, Text(f"Passed: {_plural(count, 'check')}", style="bold"))
    for rule_id, subjects in passed:
        _line(console, f"  ok  {rule_id} ({s.subjects_text(subjects)})")
    console.print()


def _not_evaluated(report: Report, console: Console) -> None:
    groups = s.missing_facts(report)
    if not groups:
        return
    total = sum(len(group.checks) for group in groups)
    _line(console, Text(f"Not evaluated: {_plural(total, 'check')} (a fact they need could not be read)",
                        style="bold"))
    for group in groups:
        _line(console, f"  --  {group.fact}: {group.reason}")
        # The list of checks is wrapped between ids (never inside one), under a hanging indent.
        checks = _shown(f"needed by {_plural(len(group.checks), 'check')}: {group.checks_text}")
        console.print(Padding(checks, (0, 0, 0, 6), expand=False), highlight=False)
    console.print()


def _not_applicable(report: Report, console: Console, verbose: bool = False) -> None:
    """Checks that do not apply here (a rule --ignore'd, skipped by site policy, vLLM not installed): one
    line, listed with -v, so an ignored rule still leaves a trace."""
    groups = s.not_applicable_by_rule(report)
    if not groups:
        return
    count = sum(len(subjects) for _, subjects, _ in groups)
    rules = len({rule_id for rule_id, _, _ in groups})
    if not verbose:
        _line(console, Text(f"Does not apply: {_plural(count, 'check')} of {_plural(rules, 'rule')} (-v lists them)",
                            style="bold"))
        console.print()
        return
    _line(console, Text(f"Does not apply: {_plural(count, 'check')}", style="bold"))
    for rule_id, subjects, why in groups:
        _line(console, f"  ..  {rule_id} ({s.subjects_text(subjects)}): {why}")
    console.print()
