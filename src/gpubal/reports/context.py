"""What the Markdown and HTML templates show, computed once from the Report so both say the same thing.

Templates only lay the context out: every count, label, colour class and grouping is decided here (or
in summary.py, which the terminal report shares)."""

from __future__ import annotations

import json
from dataclasses import field
from typing import Any, Dict, List, Optional, Tuple

from .. import __version__
from ..model import Finding, Known, Report, Severity, Unavailable, record
from ..snapshot_file import to_jsonable
from . import summary as s
from . import words
from .facts import FactRow, fact_rows
from .style import SEVERITY_LABEL

# The comment that marks the embedded snapshot in a Markdown report (an HTML report holds it in the
# <script id="gpubal-snapshot"> of its template); gpubal.snapshot_file.snapshot_from_text looks for both.
SNAPSHOT_MARKER = "<!-- gpubal-snapshot v1: the JSON block below is this report's snapshot; gpubal reads it back -->"

NO_MATRIX = "none (these rules do not use it)"


def areas(report: Report) -> Dict[str, str]:
    """Each rule id's area (`pcie`, `nvlink`, `policy`, ...), as the engine stamped it on the results."""
    return {result.rule_id: result.area for result in report.results if result.area}


def area_of(areas: Dict[str, str], rule_id: str) -> str:
    return areas.get(rule_id, "other")


def embedded_json(value: Any) -> str:
    """JSON that is safe inside an HTML <script> element and a Markdown code fence: <, >, & and the
    backtick are written as \\u escapes, so no `</script>`, `<!--` or ``` can end the block early.
    json.loads reads it back unchanged."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char in "<>&`\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


@record
class FindingView:
    finding: Finding
    area: str
    label: str  # ERROR, WARNING, INFO
    anchor: str  # a stable id for links within the page


@record
class GroupRow:
    """One finding of a group: its subject, message and evidence, keys without the subject's own prefix
    (the row names the subject: `gpu:3.persistence_mode` is `persistence_mode` in the row of gpu:3)."""

    subject: str
    message: str
    evidence: Tuple[Tuple[str, Any], ...]
    commands: Tuple[str, ...]  # this subject's own commands, between the group's shared ones


@record
class FindingGroup:
    """Findings of one rule and severity with the same fix summary and docs (summary.grouped_findings),
    shown as one entry in Markdown and HTML. Nothing is dropped: every subject, message and evidence value
    has its row; a command every subject's fix has at the same place (`sudo dmesg | grep ...` after each
    GPU's `nvidia-smi -q -i N`) is shown once, and the commands that differ are shown per subject, in the
    order the fix gives them: commands_first, then each subject's own, then commands_last."""

    first: Finding  # rule id, severity, fix summary and docs are the same for the whole group
    area: str
    label: str  # ERROR, WARNING, INFO
    anchor: str  # a stable id for links within the page
    rows: Tuple[GroupRow, ...]
    subjects_count: str  # `8 GPUs` where a heading would name too many to read, else "" (then it names each)
    message: str  # the message every finding gives, or "" when they differ (then each row has its own)
    overview: str  # one line for the findings table: the message, or the first one and how many more
    evidence_keys: Tuple[str, ...]  # the columns when every row has the same keys, else () and one cell each
    commands_first: Tuple[str, ...]  # the commands every subject's fix starts with
    commands_last: Tuple[str, ...]  # the commands every subject's fix ends with (after its own)

    @property
    def same_commands(self) -> bool:
        """Every subject's fix has the same commands: they are printed once, with no subject named."""
        return not any(row.commands for row in self.rows)

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def any_evidence(self) -> bool:
        return any(row.evidence for row in self.rows)


def _row_evidence(finding: Finding) -> Tuple[Tuple[str, Any], ...]:
    """The evidence with the finding's own subject cut from the front of its keys, unless two keys would
    then read the same (then every key stays whole)."""
    prefix = finding.subject + "."
    cut = tuple((key[len(prefix):] if key.startswith(prefix) and len(key) > len(prefix) else key, value)
                for key, value in finding.evidence.items())
    if len({key for key, _ in cut}) < len(cut):
        return tuple(finding.evidence.items())
    return cut


def _finding_group(findings: List[Finding], number: int, area: Dict[str, str]) -> FindingGroup:
    first = findings[0]
    commands_first, own, commands_last = s.split_commands(findings)
    rows = tuple(GroupRow(f.subject, f.message, _row_evidence(f), commands) for f, (_, commands) in zip(findings, own))
    messages = {row.message for row in rows}
    shapes = {tuple(key for key, _ in row.evidence) for row in rows}
    message = first.message if len(messages) == 1 else ""
    more = len(findings) - 1
    subjects = [f.subject for f in findings]
    overview = message or f"{first.message} (and {more} more like it, each below)"
    return FindingGroup(first, area_of(area, first.rule_id), SEVERITY_LABEL[first.severity], f"finding-{number}", rows,
                        s.subjects_text(subjects) if len(subjects) > 4 else "", message, overview,
                        next(iter(shapes)) if len(shapes) == 1 else (),
                        commands_first, commands_last)


@record
class Cell:
    text: str
    css: str  # link class: nv, pix, phb, node, sys, self, unknown
    problems: Tuple[str, ...] = ()  # ids of rules with a finding on this pair


@record
class TopologyRow:
    gpu: str
    cells: Tuple[Cell, ...]
    cpu_affinity: str
    numa: str
    numa_css: str  # numa-0, numa-1, ... numa-none
    problems: Tuple[str, ...]  # ids of nvlink/pcie/topology rules with a finding on this GPU


@record
class Topology:
    header: Tuple[str, ...]
    rows: Tuple[TopologyRow, ...]
    note: str


@record
class ReportContext:
    gpubal_version: str
    matrix_version: str
    snapshot_gpubal_version: str
    collected_at: str
    origin: str
    policy: str
    redacted: bool
    verdict: s.Verdict
    verdict_css: str  # error, warning, ok
    hostname: str
    host_lines: Tuple[Tuple[str, str], ...]
    gpu_summary: str
    gpu_rows: Tuple[Tuple[str, ...], ...]
    gpu_headings: Tuple[str, ...]
    findings: Tuple[FindingView, ...]
    groups: Tuple[FindingGroup, ...]  # the findings again, one entry per group (a group of one is one finding)
    areas: Tuple[str, ...]
    topology: Optional[Topology]
    passed: Tuple[Tuple[str, str], ...]  # (rule id, subjects)
    not_applicable: Tuple[Tuple[str, str, str], ...]  # (rule id, its subjects or "" for the host, why)
    missing: Tuple[s.MissingFact, ...]
    facts: Tuple[FactRow, ...] = field(default=())
    snapshot_json: str = ""
    processes: Optional[s.ProcessTable] = None


def _link_css(text: str) -> str:
    if text == "X":
        return "self"
    if text.startswith("NV") and text[2:].isdigit():
        return "nv"
    return {"PIX": "pix", "PXB": "pix", "PHB": "phb", "NODE": "node", "SYS": "sys"}.get(text, "unknown")


def _topology(report: Report, findings: List[Finding]) -> Optional[Topology]:
    rows = s.topology_rows(report)
    if rows is None or len(rows) < 3:  # one GPU has no pairs to draw
        return None
    area = areas(report)
    pair_problems: Dict[Tuple[int, int], List[str]] = {}
    gpu_problems: Dict[int, List[str]] = {}
    for finding in findings:
        subject = finding.subject
        if subject.startswith("gpu:") and "-gpu:" in subject:
            a, b = (int(part.split(":")[1]) for part in subject.split("-", 1))
            for key in ((a, b), (b, a)):
                pair_problems.setdefault(key, []).append(finding.rule_id)
        elif subject.startswith("gpu:") and subject[4:].isdigit() and area_of(area, finding.rule_id) in (
                "nvlink", "pcie", "topology"):
            gpu_problems.setdefault(int(subject[4:]), []).append(finding.rule_id)
    gpus = report.snapshot.gpus.value  # topology_rows returned rows, so the GPUs are known
    out = []
    for gpu, row in zip(gpus, rows[1:]):
        cells = []
        for other, text in zip(gpus, row[1:-2]):
            problems = tuple(sorted(set(pair_problems.get((gpu.index, other.index), []))))
            cells.append(Cell(text, _link_css(text), problems))
        numa = row[-1]
        out.append(TopologyRow(row[0], tuple(cells), row[-2], numa,
                               f"numa-{numa}" if numa.isdigit() else "numa-none",
                               tuple(sorted(set(gpu_problems.get(gpu.index, []))))))
    return Topology(tuple(rows[0]), tuple(out), s.nvlink_route_note(report))


def _gpu_table(report: Report) -> Tuple[str, Tuple[str, ...], Tuple[Tuple[str, ...], ...]]:
    gpus = report.snapshot.gpus
    headings = ("#", "Model", "Bus id", "PCIe", "NVLink", "Fabric", "MIG", "Persist", "NUMA")
    if isinstance(gpus, Unavailable):
        return f"unknown — {words.phrase(gpus)}", headings, ()
    if not gpus.value:
        return "none", headings, ()
    models = sorted({s.gpu_model(gpu) for gpu in gpus.value})
    text = f"{len(gpus.value)} × {models[0]}" if len(models) == 1 else f"{len(gpus.value)} GPUs, {len(models)} models"
    rows = tuple((str(gpu.index), s.show(gpu.name), s.bus_id(gpu), s.pcie_summary(gpu), s.nvlink_summary(gpu),
                  s.fabric_summary(gpu), s.mig_summary(gpu), s.show(gpu.persistence_mode), s.numa_text(gpu.numa_node))
                 for gpu in gpus.value)
    return text, headings, rows


def _host_lines(report: Report) -> Tuple[Tuple[str, str], ...]:
    host, driver = report.snapshot.host, report.snapshot.driver
    numa = host.numa_nodes
    numa_text = ("; ".join(f"node {n.node_id}: CPUs {n.cpu_list}" for n in numa.value)
                 if isinstance(numa, Known) else s.show(numa))
    if isinstance(driver.nvml_status, Unavailable):
        driver_text = f"NVML unavailable: {words.phrase(driver.nvml_status)}"
    else:
        driver_text = (f"{s.show(driver.version)} · kernel module {s.show(driver.kernel_module_version)} · "
                       f"NVML {s.show(driver.nvml_version)} · CUDA (driver API) {s.show(driver.cuda_driver_version)}")
    lines = (
        ("Host", f"{s.show(host.hostname)} · {s.show(host.os_release)} · kernel {s.show(host.kernel_release)}"),
        ("CPU", f"{s.show(host.cpu_model)} · {s.show(host.cpu_count)} CPUs · NUMA {numa_text}"),
        ("Platform", f"virtualization {s.show(host.virtualization)} · container {s.show(host.container)}"),
        ("Driver", driver_text),
    )
    if report.topology_class is not None:
        evidence = "; ".join(words.described(line) for line in report.topology_class.evidence)
        lines += (("Topology", f"{report.topology_class.text()} ({evidence})"),)
    return lines


def build_context(report: Report, redacted: bool, collapse_links: bool = False,
                  with_facts: bool = True) -> ReportContext:
    findings = report.findings()
    area = areas(report)
    views = tuple(FindingView(f, area_of(area, f.rule_id), SEVERITY_LABEL[f.severity],
                              f"finding-{number}") for number, f in enumerate(findings, 1))
    verdict = s.verdict(report)
    not_applicable = tuple((rule_id, "" if subjects == ["host"] else ", ".join(subjects), why)
                           for rule_id, subjects, why in s.not_applicable_by_rule(report))
    gpu_summary, gpu_headings, gpu_rows = _gpu_table(report)
    return ReportContext(
        gpubal_version=__version__,
        matrix_version=report.matrix_version or NO_MATRIX,
        snapshot_gpubal_version=report.snapshot.gpubal_version,
        collected_at=report.snapshot.collected_at,
        origin=report.snapshot.origin,
        policy=getattr(report, "policy", ""),
        redacted=redacted,
        verdict=verdict,
        verdict_css="error" if verdict.errors else "warning" if verdict.warnings else "ok",
        hostname=s.show(report.snapshot.host.hostname),
        host_lines=_host_lines(report),
        gpu_summary=gpu_summary,
        gpu_headings=gpu_headings,
        gpu_rows=gpu_rows,
        findings=views,
        groups=tuple(_finding_group(group, number, area) for number, group
                     in enumerate(s.grouped_findings(report), 1)),
        areas=tuple(sorted({view.area for view in views})),
        topology=_topology(report, findings),
        passed=tuple((rule_id, s.subjects_text(subjects)) for rule_id, subjects in s.passed_by_rule(report)),
        not_applicable=not_applicable,
        missing=tuple(s.missing_facts(report)),
        facts=tuple(fact_rows(report.snapshot, collapse_links)) if with_facts else (),
        snapshot_json=embedded_json(to_jsonable(report.snapshot)) if with_facts else "",
        processes=s.process_table(report),
    )


def severities() -> Tuple[Tuple[str, str], ...]:
    return tuple((severity.value, SEVERITY_LABEL[severity]) for severity in Severity)
