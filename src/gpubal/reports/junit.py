"""The JUnit XML report, for the test dashboards of CI systems (GitLab's test report, Jenkins, the
GitHub Actions JUnit reporters).

One <testcase> per (rule, subject), grouped in one <testsuite> per area, so a dashboard lists every
check that ran, passes included:

- passed                 → a plain testcase
- error finding          → <failure type="error">
- warning finding        → <failure type="warning">: a dashboard shows it failed, and the type says how
                           badly. JUnit has no "warning" outcome that GitLab, Jenkins or the GitHub
                           reporters read, and a property or system-out would hide it among the passes.
                           Whether the pipeline fails is `--fail-on`'s job (the exit code), not this file's.
- info finding           → a passing testcase; the advice is in its <system-out>
- crashed rule           → <error type="crashed">: a bug in gpubal, not a problem of the host
- not evaluated          → <skipped message="FACT is REASON">
- does not apply         → <skipped message="does not apply: WHY">

Attributes follow the schema those tools read (Jenkins' junit-10.xsd, which a test validates every
output against): each testsuite carries tests, failures, errors, skipped and time; testsuites carries
tests, failures, errors and time (that schema allows no `skipped` there); the counts add up.
"""

from __future__ import annotations

import datetime
from typing import Dict, List, Tuple
from xml.sax.saxutils import escape, quoteattr

from .. import __version__
from ..model import Finding, Outcome, Report, RuleResult, Severity
from .context import NO_MATRIX
from ..common.redact import redact_report
from .summary import show, verdict
from .visible import visible


def _attrs(**values: object) -> str:
    return "".join(f" {name}={quoteattr(_xml_text(str(value)))}" for name, value in values.items())


def _xml_text(text: str) -> str:
    """XML 1.0 cannot hold most control characters, even escaped; a log line may carry them, so they are
    shown as \\u escapes, as in every other format."""
    return "".join(ch if ord(ch) not in (0xFFFE, 0xFFFF) else "\ufffd" for ch in visible(text))


def _finding_text(finding: Finding) -> str:
    lines = [f"{finding.severity.value.upper()} {finding.rule_id} {finding.subject}", finding.message]
    if finding.evidence:
        lines.append("evidence: " + ", ".join(f"{key}={value}" for key, value in finding.evidence.items()))
    lines.append(f"fix: {finding.fix.summary}")
    lines += [f"  $ {command}" for command in finding.fix.commands]
    if finding.fix.url:
        lines.append(f"  docs: {finding.fix.url}")
    return "\n".join(lines)


def _testcase(result: RuleResult, area: str) -> Tuple[str, str]:
    """The <testcase> element and its kind: passed, failure, error or skipped."""
    head = f"<testcase{_attrs(name=f'{result.rule_id} [{result.subject}]', classname=f'gpubal.{area}.{result.rule_id}', time='0')}"
    findings = sorted(result.findings, key=lambda f: -f.severity.rank)
    body = "\n\n".join(_finding_text(f) for f in findings)
    if result.missing_fact and result.outcome is Outcome.FINDING:
        body += f"\n\nnot checked further: {result.missing_fact} is {result.missing_reason}"
    if result.outcome is Outcome.CRASHED:
        message = findings[0].message if findings else "the rule crashed"
        return f"{head}>\n      <error{_attrs(type='crashed', message=message)}>{escape(_xml_text(body))}</error>\n    </testcase>", "error"
    if result.outcome is Outcome.NOT_EVALUATED:
        message = f"not evaluated: {result.missing_fact} is {result.missing_reason}"
        return f"{head}>\n      <skipped{_attrs(message=message)}/>\n    </testcase>", "skipped"
    if result.outcome is Outcome.NOT_APPLICABLE:
        message = f"does not apply: {result.missing_reason}" if result.missing_reason else "does not apply"
        return f"{head}>\n      <skipped{_attrs(message=message)}/>\n    </testcase>", "skipped"
    failing = [f for f in findings if f.severity is not Severity.INFO]
    if failing:
        worst = failing[0]
        message = worst.message if len(failing) == 1 else f"{worst.message} (and {len(failing) - 1} more)"
        return (f"{head}>\n      <failure{_attrs(type=worst.severity.value, message=message)}>"
                f"{escape(_xml_text(body))}</failure>\n    </testcase>"), "failure"
    if findings:  # info only: advice, the check passed
        return f"{head}>\n      <system-out>{escape(_xml_text(body))}</system-out>\n    </testcase>", "passed"
    return f"{head}/>", "passed"


def _timestamp(collected_at: str) -> str:
    """The Ant schema's timestamp: ISO 8601 without a time zone (UTC is implied)."""
    try:
        moment = datetime.datetime.fromisoformat(collected_at.replace("Z", "+00:00"))
    except ValueError:
        return "1970-01-01T00:00:00"
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat()


def render_junit(report: Report, redact: bool = False) -> str:
    shown = redact_report(report, redact)
    hostname = show(shown.snapshot.host.hostname)
    matrix = shown.matrix_version or NO_MATRIX
    by_area: Dict[str, List[Tuple[str, str]]] = {}
    for result in shown.results:
        area = result.area or "other"
        by_area.setdefault(area, []).append(_testcase(result, area))
    timestamp = _timestamp(shown.snapshot.collected_at)
    properties = [("gpubal.version", __version__), ("gpubal.matrix_version", matrix),
                  ("gpubal.verdict", verdict(shown).headline), ("host.hostname", hostname),
                  ("snapshot.collected_at", shown.snapshot.collected_at), ("snapshot.origin", shown.snapshot.origin)]
    if shown.policy:
        properties.append(("gpubal.policy", shown.policy))
    suites, totals = [], {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for number, (area, cases) in enumerate(sorted(by_area.items())):
        kinds = [kind for _, kind in cases]
        counts = {"tests": len(cases), "failures": kinds.count("failure"), "errors": kinds.count("error"),
                  "skipped": kinds.count("skipped")}
        for key, value in counts.items():
            totals[key] += value
        props = "".join(f"\n      <property{_attrs(name=name, value=value)}/>" for name, value in properties)
        suites.append(
            f"  <testsuite{_attrs(name=f'gpubal.{area}', **counts, time='0', timestamp=timestamp, hostname=hostname, id=number, package='gpubal')}>\n"
            f"    <properties>{props}\n    </properties>\n"
            + "".join(f"    {case}\n" for case, _ in cases)
            + "    <system-out/>\n    <system-err/>\n  </testsuite>\n")
    name = f"gpubal {__version__} doctor (compatibility matrix {matrix})"
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<testsuites{_attrs(name=name, tests=totals['tests'], failures=totals['failures'], errors=totals['errors'], time='0')}>\n" + "".join(suites) + "</testsuites>\n")
