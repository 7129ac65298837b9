"""The whole verdict in one short line, for schedulers that keep one: node-problem-detector's condition
message (its custom plugins' stdout is cut at `max_output_length`, 80 bytes by default) and Slurm's drain
reason. Rule ids and subjects are named worst first; what does not fit is counted ("+3 more"), never cut
in the middle of a name, so automation can still read every id that is shown.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

from ..model import Finding, Report

PREFIX = "gpubal:"  # every line starts with it: Slurm automation matches drained nodes by it
SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}


def raised(report: Report, threshold: str, rules: Sequence[str] = ()) -> List[Finding]:
    """The findings at or above the threshold severity, only those of `rules` when given, worst first."""
    minimum = SEVERITY_RANK[threshold]
    chosen = set(rules)
    return [f for f in report.findings() if f.severity.rank >= minimum and (not chosen or f.rule_id in chosen)]


def _compact_subjects(subjects: List[str]) -> str:
    """gpu:0, gpu:3 -> gpu:0,3; host stays host; pairs and others are listed as they are."""
    gpus = [s[4:] for s in subjects if s.startswith("gpu:") and "-" not in s and "." not in s]
    others = [s for s in subjects if not (s.startswith("gpu:") and "-" not in s and "." not in s)]
    others = [s for s in others if s != "host"]
    pairs = [s for s in others if s.startswith("gpu:") and "-gpu:" in s]
    if len(pairs) > 2:  # a rule on many GPU pairs: the count, so the other rules still fit
        others = [s for s in others if s not in pairs] + [f"{len(pairs)} GPU pairs"]
    return " ".join((["gpu:" + ",".join(gpus)] if gpus else []) + others)


def items(findings: Sequence[Finding]) -> List[str]:
    """One item per rule: `rule-id gpu:0,3` (the host itself is not named)."""
    subjects: Dict[str, List[str]] = {}
    for finding in findings:
        subjects.setdefault(finding.rule_id, [])
        if finding.subject not in subjects[finding.rule_id]:
            subjects[finding.rule_id].append(finding.subject)
    result = []
    for rule_id, names in subjects.items():
        where = _compact_subjects(names)
        result.append(f"{rule_id} {where}" if where else rule_id)
    return result


def fit(head: str, parts: Sequence[str], max_bytes: int, separator: str = "; ") -> str:
    """head, then as many whole parts as fit in max_bytes (UTF-8), then `+N more` for the rest."""
    def size(text: str) -> int:
        return len(text.encode("utf-8"))

    line = head
    for position, part in enumerate(parts):
        candidate = line + (" " if position == 0 else separator) + part
        rest = len(parts) - position - 1
        if size(candidate + (f" +{rest} more" if rest else "")) <= max_bytes:
            line = candidate
            continue
        line += f" +{len(parts) - position} more"
        break
    if size(line) > max_bytes:  # only with a limit shorter than the head itself
        line = line.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")
    return line


def summary_line(report: Report, threshold: str, max_bytes: int, rules: Sequence[str] = ()) -> Tuple[bool, str]:
    """(problem?, the line). OK lines say how much was checked; problem lines name the rules and GPUs."""
    findings = raised(report, threshold, rules)
    if not findings:
        checked = sum(1 for result in report.results if result.outcome.value == "passed")
        return False, fit(f"{PREFIX} ok,", [f"{checked} checks passed"], max_bytes)
    worst = findings[0].severity.value
    count = len(findings)
    same = all(f.severity.value == worst for f in findings)
    noun = worst if count == 1 else f"{worst}s" if same else "findings"
    return True, fit(f"{PREFIX} {count} {noun}:", items(findings), max_bytes)
