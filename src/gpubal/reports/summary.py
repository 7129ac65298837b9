"""What every report says about the host, computed once from the Report so renderers agree."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ..model import (Fact, Finding, Gpu, GpuPair, GpuProcess, Known, Outcome, Reason, Report, RuleResult, Severity,
                     Unavailable, record)
from . import words
from .style import OUTCOME_LABEL


def show(fact: Fact[Any], unit: str = "") -> str:
    """A fact as text: its value, or why it is missing (never a bare N/A)."""
    if isinstance(fact, Known):
        value = fact.value
        if isinstance(value, bool):
            return "yes" if value else "no"
        return f"{value}{unit}"
    return words.short(fact) if fact.reason is Reason.NOT_SUPPORTED else f"unknown ({words.short(fact)})"


def gib(fact: Fact[int]) -> str:
    return f"{fact.value / 2**30:.1f} GiB" if isinstance(fact, Known) else show(fact)


def link_label(pair: GpuPair) -> str:
    """The word `nvidia-smi topo -m` would print for the pair: NV# when NVLink joins them, else the PCIe path."""
    if isinstance(pair.nvlink_count, Known) and pair.nvlink_count.value > 0:
        return f"NV{pair.nvlink_count.value}"
    if isinstance(pair.pcie_path, Known):
        return pair.pcie_path.value
    return "?"


def nvlink_summary(gpu: Gpu) -> str:
    if isinstance(gpu.nvlinks, Unavailable):
        return show(gpu.nvlinks)
    links = gpu.nvlinks.value
    if not links:
        return "none"
    active = sum(1 for link in links if isinstance(link.active, Known) and link.active.value)
    return f"{active}/{len(links)} up"


def pcie_summary(gpu: Gpu) -> str:
    """The link as it runs now, `Gen5 x16`; the most it can reach follows only when the link runs below it."""
    gen, width = gpu.pcie_link_gen_current, gpu.pcie_link_width_current
    gen_max, width_max = gpu.pcie_link_gen_max, gpu.pcie_link_width_max
    if not isinstance(gen, Known) or not isinstance(width, Known):
        return show(gen if not isinstance(gen, Known) else width)
    text = f"Gen{gen.value} x{width.value}"
    if isinstance(gen_max, Known) and isinstance(width_max, Known) and (
            gen.value < gen_max.value or width.value < width_max.value):
        text += f" (max Gen{gen_max.value} x{width_max.value})"
    return text


def mig_summary(gpu: Gpu) -> str:
    current, pending = gpu.mig_enabled_current, gpu.mig_enabled_pending
    if not isinstance(current, Known):
        return show(current)
    text = "on" if current.value else "off"
    if isinstance(pending, Known) and pending.value != current.value:
        text += f" (pending {'on' if pending.value else 'off'})"
    if current.value and isinstance(gpu.mig_instances, Known):
        text += f", {len(gpu.mig_instances.value)} devices"
    return text


def fabric_summary(gpu: Gpu) -> str:
    """NVSwitch fabric registration in a word: ok, none (no fabric), not started, in progress, or the error."""
    state, status = gpu.fabric_state, gpu.fabric_status
    if not isinstance(state, Known):
        return show(state)
    if state.value == "completed":
        if not isinstance(status, Known):
            return f"completed, status {show(status)}"
        return "ok" if status.value == "success" else f"error ({status.value})"
    if state.value == "not_supported":
        return "none"
    return state.value.replace("_", " ")


def bus_id(gpu: Gpu) -> str:
    """The PCI address as sysfs and lspci -D write it: NVML's 8-digit domain cut to 4 when it fits."""
    fact = gpu.pci_bus_id
    if not isinstance(fact, Known):
        return show(fact)
    domain, _, rest = fact.value.partition(":")
    if rest and len(domain) == 8 and domain.startswith("0000"):
        domain = domain[4:]
    return f"{domain}:{rest}".lower() if rest else fact.value


def numa_text(fact: Fact[int]) -> str:
    """A NUMA node number, `none` when the firmware names none (-1)."""
    if isinstance(fact, Known):
        return str(fact.value) if fact.value >= 0 else "none"
    return show(fact)


def gpu_model(gpu: Gpu) -> str:
    """Name, architecture, compute capability and memory: what makes two GPUs the same model."""
    return (f"{show(gpu.name)} · {show(gpu.architecture)}, compute capability {show(gpu.compute_capability)}"
            f" · {gib(gpu.memory_total_bytes)}")


@record
class Verdict:
    errors: int
    warnings: int
    infos: int
    passed: int
    not_evaluated: int
    not_applicable: int
    crashed: int

    @property
    def headline(self) -> str:
        if self.errors:
            return f"{self.errors} error{'s' if self.errors != 1 else ''}: this host will not work as intended"
        if self.warnings:
            return f"{self.warnings} warning{'s' if self.warnings != 1 else ''}: degraded or at risk"
        if self.not_evaluated:
            return "no problems found in what could be checked"
        return "healthy: every check passed"


def verdict(report: Report) -> Verdict:
    findings = report.findings()
    outcomes = [result.outcome for result in report.results]
    return Verdict(
        errors=sum(1 for f in findings if f.severity is Severity.ERROR),
        warnings=sum(1 for f in findings if f.severity is Severity.WARNING),
        infos=sum(1 for f in findings if f.severity is Severity.INFO),
        passed=outcomes.count(Outcome.PASSED),
        not_evaluated=outcomes.count(Outcome.NOT_EVALUATED),
        not_applicable=outcomes.count(Outcome.NOT_APPLICABLE),
        crashed=outcomes.count(Outcome.CRASHED),
    )


def grouped_findings(report: Report) -> List[List[Finding]]:
    """Findings in report order, those of one rule and severity with the same fix summary and docs side by
    side in one group: eight GPUs with persistence mode off are one problem with one fix, not eight
    screens. Their commands may differ (`-i 3` for GPU 3): split_commands says which are whose."""
    def key(finding: Finding) -> Tuple[Any, ...]:
        return finding.rule_id, finding.severity, finding.fix.summary, finding.fix.url

    groups: List[List[Finding]] = []
    for finding in report.findings():
        if groups and key(groups[-1][0]) == key(finding):
            groups[-1].append(finding)
        else:
            groups.append([finding])
    return groups


def split_commands(group: List[Finding]) -> Tuple[Tuple[str, ...], List[Tuple[str, Tuple[str, ...]]],
                                                 Tuple[str, ...]]:
    """A group's fix commands as (those every finding's fix starts with, each subject's own that follow,
    those every fix ends with): what is the same for all is said once, in the place the fix says it
    (`sudo dmesg | grep ...` after each GPU's own `nvidia-smi -q -i N`). The same commands throughout:
    all of them first, none per subject."""
    lists = [finding.fix.commands for finding in group]
    if len(set(lists)) == 1:
        return lists[0], [(finding.subject, ()) for finding in group], ()
    first = 0
    while all(len(commands) > first for commands in lists) and len({c[first] for c in lists}) == 1:
        first += 1
    last = 0
    while all(len(commands) > first + last for commands in lists) and len({c[-1 - last] for c in lists}) == 1:
        last += 1
    own = [(finding.subject, finding.fix.commands[first:len(finding.fix.commands) - last]) for finding in group]
    return lists[0][:first], own, lists[0][len(lists[0]) - last:]


def passed_by_rule(report: Report) -> List[Tuple[str, List[str]]]:
    grouped: Dict[str, List[str]] = {}
    for result in report.results:
        if result.outcome is Outcome.PASSED:
            grouped.setdefault(result.rule_id, []).append(result.subject)
    return sorted(grouped.items())


def not_applicable_by_rule(report: Report) -> List[Tuple[str, List[str], str]]:
    """(rule id, subjects, why in words) for the checks that do not apply, one entry per rule and reason:
    a rule ignored with --ignore on 8 GPUs is one line, not eight."""
    grouped: Dict[Tuple[str, str], List[str]] = {}
    for result in report.results:
        if result.outcome is Outcome.NOT_APPLICABLE:
            grouped.setdefault((result.rule_id, words.described(result.missing_reason) or OUTCOME_LABEL[Outcome.NOT_APPLICABLE]),
                               []).append(result.subject)
    return [(rule_id, subjects, why) for (rule_id, why), subjects in grouped.items()]


def not_evaluated(report: Report) -> List[RuleResult]:
    return [r for r in report.results if r.outcome is Outcome.NOT_EVALUATED]


@record
class MissingFact:
    """One fact that could not be read, why, and the checks that needed it (`rule-id` or `rule-id (subject)`)."""

    fact: str
    reason: str
    checks: Tuple[str, ...]

    @property
    def checks_text(self) -> str:
        """The checks with one rule's subjects together: `ollama-gpu-unsupported (gpu:0, gpu:1)`, not the
        rule named once per GPU."""
        by_rule: Dict[str, List[str]] = {}
        for check in self.checks:
            rule_id, _, subject = check.partition(" (")
            by_rule.setdefault(rule_id, []).extend([subject.rstrip(")")] if subject else [])
        return ", ".join(f"{rule_id} ({', '.join(subjects)})" if subjects else rule_id
                         for rule_id, subjects in by_rule.items())


def missing_facts(report: Report) -> List[MissingFact]:
    """Not-evaluated results grouped by the fact they missed and why; the fact most checks needed first."""
    grouped: Dict[Tuple[str, str], List[str]] = {}
    for result in not_evaluated(report):
        check = result.rule_id if result.subject == "host" else f"{result.rule_id} ({result.subject})"
        grouped.setdefault((result.missing_fact, result.missing_reason), []).append(check)
    groups = [MissingFact(fact, words.described(reason), tuple(checks)) for (fact, reason), checks in grouped.items()]
    return sorted(groups, key=lambda group: (-len(group.checks), group.fact, group.reason))


def topology_rows(report: Report) -> Optional[List[List[str]]]:
    """The `nvidia-smi topo -m` matrix: header, then one row per GPU with its CPU list and NUMA node."""
    gpus, pairs = report.snapshot.gpus, report.snapshot.pairs
    if not isinstance(gpus, Known) or not isinstance(pairs, Known) or not gpus.value:
        return None
    labels = {}
    for pair in pairs.value:
        labels[(pair.gpu_a, pair.gpu_b)] = labels[(pair.gpu_b, pair.gpu_a)] = link_label(pair)
    indices = [gpu.index for gpu in gpus.value]
    rows = [[""] + [f"GPU{i}" for i in indices] + ["CPU Affinity", "NUMA Affinity"]]
    for gpu in gpus.value:
        cells = ["X" if other == gpu.index else labels.get((gpu.index, other), "?") for other in indices]
        rows.append([f"GPU{gpu.index}"] + cells + [show(gpu.cpu_affinity), numa_text(gpu.numa_node)])
    return rows


def nvlink_route_note(report: Report) -> str:
    pairs = report.snapshot.pairs
    if not isinstance(pairs, Known):
        return ""
    routes = {pair.nvlink_route.value for pair in pairs.value if isinstance(pair.nvlink_route, Known)}
    if "nvswitch" in routes:
        return "NVLink through NVSwitch"
    if "direct" in routes:
        return "NVLink direct (bridge or mesh)"
    return ""


def subjects_text(subjects: List[str]) -> str:
    """A few subjects by name; many by count (`8 GPUs`, `28 GPU pairs`), so one line stays one line."""
    if len(subjects) <= 4:
        return ", ".join(subjects)
    pairs = sum(1 for subject in subjects if subject.startswith("gpu:") and "-gpu:" in subject)
    gpus = sum(1 for subject in subjects if subject.startswith("gpu:") and "-gpu:" not in subject)
    others = len(subjects) - pairs - gpus
    counts = [(gpus, "GPU", "GPUs"), (pairs, "GPU pair", "GPU pairs"), (others, "other", "others")]
    return ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in counts if n)


# --- processes -----------------------------------------------------------------------------------------

PROCESS_HEADINGS = ("PID", "Program", "User", "GPUs", "GPU NUMA", "CPUs", "Mem nodes", "CUDA_VISIBLE_DEVICES",
                    "CUDA sees")


@record
class ProcessTable:
    """The processes that use GPUs and the model servers: one row each, then each one's longer facts."""

    note: str  # why there is no table ("unknown — ..."), or "" when rows follow
    headings: Tuple[str, ...]
    rows: Tuple[Tuple[str, ...], ...]
    details: Tuple[Tuple[str, Tuple[Tuple[str, str], ...]], ...]  # (PID, ((label, text), ...)) per process


def _numbers(fact: Fact[List[int]]) -> str:
    if not isinstance(fact, Known):
        return show(fact)
    return ",".join(str(number) for number in fact.value) or "none"


def _selection(fact: Fact[Dict[str, str]]) -> str:
    if not isinstance(fact, Known):
        return show(fact)
    value = fact.value.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return "unset"
    return value if value else '"" (none)'  # set but empty: CUDA sees no GPU


def process_table(report: Report) -> Optional[ProcessTable]:
    """None when the snapshot has no word on processes at all (pasted text, an older snapshot)."""
    processes = report.snapshot.processes
    if isinstance(processes, Unavailable):
        if processes.reason is Reason.NOT_IN_INPUT:
            return None
        return ProcessTable(f"unknown — {words.phrase(processes)}", PROCESS_HEADINGS, (), ())
    if not processes.value:
        return ProcessTable("none: no process holds a GPU and no model server (Ollama, vLLM, SGLang, llama.cpp) runs",
                            PROCESS_HEADINGS, (), ())
    rows, details = [], []
    for process in processes.value:
        hidden = process.command_line
        if isinstance(hidden, Unavailable) and all(fact == hidden for fact in (process.program, process.user,
                                                                              process.cpus_allowed)):
            # a PID NVML gave that /proc here does not show: one reason, said once
            rows.append((str(process.pid), "not visible", "", _numbers(process.gpus_held),
                         _numbers(process.gpu_numa_nodes), "", "", "", ""))
            details.append((str(process.pid), (("found by", process.found_by), ("why", words.phrase(hidden)))))
            continue
        rows.append((str(process.pid), show(process.program), show(process.user), _numbers(process.gpus_held),
                     _numbers(process.gpu_numa_nodes), show(process.cpus_allowed), show(process.memory_nodes_allowed),
                     _selection(process.gpu_environment), _sees(report, process)))
        environment = process.gpu_environment
        environment_text = (" ".join(f"{name}={value}" for name, value in sorted(environment.value.items())) or "none"
                            if isinstance(environment, Known) else show(environment))
        libraries = process.gpu_libraries
        libraries_text = (", ".join(libraries.value) or "none" if isinstance(libraries, Known) else show(libraries))
        details.append((str(process.pid), (
            ("found by", process.found_by),
            ("command", show(process.command_line)),
            ("GPU environment", environment_text),
            ("CUDA sees", _sees_in_full(report, process)),
            ("cgroup", f"{show(process.cgroup)} (container: {show(process.container)})"),
            ("CUDA libraries mapped", libraries_text),
        ) + _model_line(process)))
    return ProcessTable("", PROCESS_HEADINGS, tuple(rows), tuple(details))


def _sees(report: Report, process: GpuProcess) -> str:
    from ..common.visibility import process_visibility  # here: a host with no GPU process never loads it

    seen = process_visibility(report.snapshot, process)
    if isinstance(seen, Unavailable):
        return show(seen)
    text = ",".join(map(str, seen.gpus)) or "none"
    return text if seen.index_order_known else f"{text} (if PCI order)"


def _sees_in_full(report: Report, process: GpuProcess) -> str:
    from ..common.visibility import process_visibility

    seen = process_visibility(report.snapshot, process)
    if isinstance(seen, Unavailable):
        return show(seen)
    uuids = {gpu.index: show(gpu.uuid) for gpu in report.snapshot.gpu_list()}
    text = ", ".join(f"GPU {index} ({uuids.get(index, '?')})" for index in seen.gpus) or "no GPU"
    notes = [seen.setting]
    if seen.container_gpus is not None:
        notes.append(f"the container has GPU {','.join(map(str, seen.container_gpus)) or 'none'} "
                     f"(NVIDIA_VISIBLE_DEVICES)")
    if seen.invalid_entry is not None:
        ignored = f"; {','.join(seen.ignored_entries)} ignored" if seen.ignored_entries else ""
        notes.append(f"the list ends at {seen.invalid_entry!r}, which names no GPU here{ignored}")
    if not seen.index_order_known:
        notes.append("indexes count in CUDA's fastest-first order, which gpubal cannot know on mixed models "
                     "(CUDA_DEVICE_ORDER=PCI_BUS_ID makes it nvidia-smi's)")
    return f"{text} — {'; '.join(notes)}"


def _model_line(process: GpuProcess) -> Tuple[Tuple[str, str], ...]:
    """For a vLLM or SGLang server: the attention heads its model's config.json gives."""
    if not (isinstance(process.program, Known) and process.program.value in ("vllm", "sglang")):
        return ()
    config = process.model_config
    if isinstance(config, Unavailable):
        return (("model heads", show(config)),)
    heads = ", ".join(f"{name} {value}" for name, value in config.value.items())
    return (("model heads", f"{heads} ({config.source})"),)
