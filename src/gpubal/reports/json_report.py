"""The JSON report: the verdict, every (rule, subject) outcome, the findings, and the whole Snapshot,
so that `gpubal doctor --snapshot report.json` reads it back."""

from __future__ import annotations

import json

from .. import __version__
from ..model import Report
from ..snapshot_file import to_jsonable
from .summary import verdict


# The report document's own version (the snapshot inside has its own schema_version). Bump it when a
# field is removed or changes meaning; docs/schema/report.schema.json is generated from the model.
REPORT_SCHEMA_VERSION = 1


def render_json(report: Report) -> str:
    summary = verdict(report)
    document = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "gpubal_version": __version__,
        "matrix_version": report.matrix_version,
        **({"policy": report.policy} if report.policy else {}),
        "verdict": {"headline": summary.headline, **to_jsonable(summary)},
        "topology_class": to_jsonable(report.topology_class),
        "findings": to_jsonable(report.findings()),
        "results": to_jsonable(list(report.results)),
        "snapshot": to_jsonable(report.snapshot),
    }
    return json.dumps(document, indent=1) + "\n"
