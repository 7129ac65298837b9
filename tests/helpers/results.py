"""Reading a Report in a test: the one result for a subject, its one finding, whether a fix is actionable."""

from __future__ import annotations

from typing import Dict

from gpubal.model import Finding, Fix, Outcome, RuleResult


def only_result(report, subject: str) -> RuleResult:
    """The one result a report holds for `subject` (each rule gives each subject exactly one)."""
    found = [result for result in report.results if result.subject == subject]
    assert len(found) == 1, f"expected one result for {subject}, got {found}"
    return found[0]


def single_finding(report, subject: str) -> Finding:
    """The one finding of the result for `subject`, which must be a finding."""
    result = only_result(report, subject)
    assert result.outcome is Outcome.FINDING, result
    assert len(result.findings) == 1, result.findings
    return result.findings[0]


def assert_actionable(fix: Fix) -> None:
    """A fix says what to do: a summary, at least one exact command and a documentation page."""
    assert fix.summary
    assert fix.commands and all(command.strip() for command in fix.commands)
    assert fix.url.startswith("https://")


def outcomes(report) -> Dict[str, Outcome]:
    return {result.subject: result.outcome for result in report.results}
