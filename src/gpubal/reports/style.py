"""Colours and labels in one place, so every renderer says the same thing the same way."""

from ..model import Outcome, Severity

SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
SEVERITY_LABEL = {Severity.ERROR: "ERROR", Severity.WARNING: "WARNING", Severity.INFO: "INFO"}
OUTCOME_LABEL = {
    Outcome.PASSED: "passed", Outcome.FINDING: "finding", Outcome.NOT_EVALUATED: "not evaluated",
    Outcome.NOT_APPLICABLE: "does not apply", Outcome.CRASHED: "crashed",
}
LINK_STYLE = {"NV": "bold green", "PIX": "green", "PXB": "green", "PHB": "yellow", "NODE": "yellow", "SYS": "red"}
