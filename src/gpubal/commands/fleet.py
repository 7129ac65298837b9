"""`gpubal fleet` without the command line: many hosts' reports, aggregated."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

from .. import outputs
from ..sources import InputError, read_text, say


def run_fleet(inputs: List[str], output_format: Optional[str], output: Sequence[Path], stale_after: str,
              expect_hosts: Optional[Path], fail_on: str, jobs: Optional[int]) -> int:
    from ..fleet.aggregate import FleetBuilder, parse_duration, read_expected_hosts
    from ..fleet.sources import SourceError, default_jobs, read_all

    targets = outputs.targets(list(output), output_format, outputs.FLEET_FORMAT_BY_EXTENSION, "terminal")
    try:
        stale_seconds = parse_duration(stale_after)
    except ValueError as error:
        raise InputError(f"--stale-after: {error}")
    expected = read_expected_hosts(read_text(expect_hosts, "host list")) if expect_hosts is not None else None
    builder = FleetBuilder()
    try:
        for item in read_all(inputs, jobs=jobs or default_jobs()):
            builder.add(item)
    except SourceError as error:
        raise InputError(str(error))
    if builder.inputs_read == 0:
        raise InputError("no report found in " + ", ".join(inputs))
    report = builder.finish(stale_seconds, expected)
    outputs.render_to(outputs.FLEET_RENDERERS, targets, report)
    for item in report.unreadable[:5]:
        say(f"unreadable: {item.source}: {item.reason}")
    flagged = any(outputs.at_least(group.severity, fail_on) for group in report.findings)
    if fail_on == "never" or not (flagged or report.missing or report.unreadable):
        return outputs.EXIT_OK
    return outputs.EXIT_FINDINGS
