"""The Prometheus text exposition format, for node_exporter's textfile collector: one writer for every
gpubal command that exports metrics (doctor, balance), and the atomic write the collector needs.

Names follow Prometheus's conventions (https://prometheus.io/docs/practices/naming/): a `gpubal_` prefix,
base units in the name (`_seconds`, `_bytes`, `_hertz`, `_watts`; `_ratio` for 0..1 instead of percent),
`_info` for metadata carried in labels with the value 1, and no `_total`, `_count`, `_sum` or `_bucket`
suffix, which belong to counters, summaries and histograms: everything gpubal writes is a gauge of what
it saw on this run. A value that could not be read is an absent series, never a made-up zero.
Writing the file (atomically, for the collector) is gpubal.output_file's job: renderers stay pure.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Dict, List, Tuple, Union

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_RESERVED_SUFFIXES = ("_total", "_count", "_sum", "_bucket", "_created")

Number = Union[int, float, bool]


@dataclass
class Gauge:
    name: str
    help: str
    samples: List[Tuple[Dict[str, str], Number]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # a wrong name is a bug in gpubal: fail the tests, not the scrape
        if not _NAME.fullmatch(self.name) or not self.name.startswith("gpubal_") or self.name.endswith(_RESERVED_SUFFIXES):
            raise ValueError(f"not a gpubal gauge name: {self.name}")

    def add(self, value: Number, **labels: str) -> "Gauge":
        for name in labels:
            if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
                raise ValueError(f"not a label name: {name}")
        self.samples.append((labels, value))
        return self


def label_value(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def number(value: Number) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isnan(value):
            raise ValueError("NaN is not a gpubal metric value")  # unknown is an absent series
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value)
    return str(int(value))


def render(gauges: List[Gauge]) -> str:
    """The exposition text: each family's HELP and TYPE once, then its samples; families without a sample
    are left out."""
    lines: List[str] = []
    seen = set()
    for gauge in gauges:
        if not gauge.samples:
            continue
        if gauge.name in seen:
            raise ValueError(f"metric family {gauge.name} written twice")
        seen.add(gauge.name)
        lines += [f"# HELP {gauge.name} {_help(gauge.help)}", f"# TYPE {gauge.name} gauge"]
        for labels, value in gauge.samples:
            label_text = ",".join(f'{name}="{label_value(text)}"' for name, text in labels.items())
            lines.append(f"{gauge.name}{{{label_text}}} {number(value)}" if labels else f"{gauge.name} {number(value)}")
    return "\n".join(lines) + "\n"


# --- gpubal doctor ---------------------------------------------------------------------------------------


def doctor_gauges(report) -> List[Gauge]:
    """What `gpubal doctor --prometheus` exports: every finding raised now, one series per (rule, subject,
    severity); the run's time and counts; and the facts fleets graph (driver, GPU count, NVLinks up)."""
    from datetime import datetime, timezone

    from .. import __version__
    from ..model import Known, Outcome

    snapshot = report.snapshot
    gauges: List[Gauge] = []
    gauges.append(Gauge("gpubal_info", "gpubal's version and the compatibility matrix it judged with.").add(
        1, version=__version__, matrix_version=report.matrix_version))
    try:
        moment = datetime.fromisoformat(snapshot.collected_at.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        gauges.append(Gauge("gpubal_last_run_timestamp_seconds",
                            "When gpubal doctor collected these facts, in seconds since the Unix epoch.").add(
            moment.timestamp()))
    except ValueError:
        pass
    raised: Dict[Tuple[str, str, str], int] = {}
    for finding in report.findings():
        key = (finding.rule_id, finding.subject, finding.severity.value)
        raised[key] = raised.get(key, 0) + 1
    finding_gauge = Gauge("gpubal_doctor_finding",
                          "A finding raised on this run, by rule, subject and severity (the number of such findings).")
    for (rule, subject, severity), count in sorted(raised.items()):
        finding_gauge.add(count, rule=rule, subject=subject, severity=severity)
    gauges.append(finding_gauge)
    severities = Gauge("gpubal_doctor_findings", "Findings raised on this run, by severity.")
    for severity in ("error", "warning", "info"):
        severities.add(sum(count for (_, _, s), count in raised.items() if s == severity), severity=severity)
    gauges.append(severities)
    outcomes = Gauge("gpubal_doctor_rule_outcomes",
                     "Rule outcomes on this run: passed, finding, not_evaluated (a fact was missing), "
                     "not_applicable, crashed.")
    for outcome in Outcome:
        outcomes.add(sum(1 for result in report.results if result.outcome is outcome), outcome=outcome.value)
    gauges.append(outcomes)

    driver = snapshot.driver
    if isinstance(driver.version, Known):
        labels = {"version": driver.version.value}
        for name in ("cuda_driver_version", "kernel_module_version", "kernel_module_flavor"):
            fact = getattr(driver, name)
            if isinstance(fact, Known):
                labels[name] = str(fact.value)
        gauges.append(Gauge("gpubal_driver_info", "The NVIDIA driver: user-space version, the CUDA it "
                                                  "supports, the kernel module's version and flavor.").add(1, **labels))
    if isinstance(snapshot.gpus, Known):
        gpus = snapshot.gpus.value
        gauges.append(Gauge("gpubal_gpus", "GPUs the driver lists.").add(len(gpus)))
        info = Gauge("gpubal_gpu_info", "Each GPU's model, UUID and PCI address, to join with other metrics.")
        links_up = Gauge("gpubal_gpu_nvlinks_active", "NVLinks of the GPU that are up.")
        links = Gauge("gpubal_gpu_nvlinks", "NVLinks the GPU has (up or not), as NVML reports them.")
        width = Gauge("gpubal_gpu_pcie_link_width_lanes", "PCIe lanes the GPU's link runs at now.")
        width_max = Gauge("gpubal_gpu_pcie_link_width_max_lanes", "PCIe lanes the GPU's link can reach.")
        for gpu in gpus:
            labels = {"gpu": str(gpu.index)}
            if isinstance(gpu.uuid, Known):
                labels["uuid"] = gpu.uuid.value
            details = dict(labels)
            for name in ("name", "pci_bus_id"):
                fact = getattr(gpu, name)
                if isinstance(fact, Known):
                    details[name] = str(fact.value)
            info.add(1, **details)
            if isinstance(gpu.nvlinks, Known):
                links.add(len(gpu.nvlinks.value), **labels)
                links_up.add(sum(1 for link in gpu.nvlinks.value
                                 if isinstance(link.active, Known) and link.active.value), **labels)
            if isinstance(gpu.pcie_link_width_current, Known):
                width.add(gpu.pcie_link_width_current.value, **labels)
            if isinstance(gpu.pcie_link_width_max, Known):
                width_max.add(gpu.pcie_link_width_max.value, **labels)
        gauges += [info, links, links_up, width, width_max]
    return gauges


def render_doctor_prometheus(report) -> str:
    return render(doctor_gauges(report))
