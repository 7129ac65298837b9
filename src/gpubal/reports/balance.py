"""`gpubal balance` reports: terminal (rich), JSON, Markdown, HTML (one self-contained file) and the
Prometheus text format that node_exporter's textfile collector reads. Pure functions of a BalanceReport."""

from __future__ import annotations

import html
import json
from typing import Any, List, Tuple

from rich.console import Console
from rich.text import Text

from .. import __version__
from ..model.balance import BalanceReport, GpuStats
from ..model import Fact, Known, Reason, Unavailable
from ..snapshot_file import to_jsonable
from . import words
from .style import SEVERITY_LABEL, SEVERITY_STYLE
from .tables import uncut_table
from .visible import visible


def _plain(obj: Any) -> Any:
    """JSON without wrappers: a known fact is its value, a missing one says why."""
    if isinstance(obj, Known):
        return _plain(obj.value)
    if isinstance(obj, Unavailable):
        return {"unavailable": obj.reason.value, "source": obj.source, "detail": obj.detail}
    if isinstance(obj, dict):
        return {str(key): _plain(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(item) for item in obj]
    if hasattr(obj, "__dataclass_fields__"):
        return {name: _plain(getattr(obj, name)) for name in obj.__dataclass_fields__}
    return to_jsonable(obj)


def render_balance_json(report: BalanceReport) -> str:
    document = {"schema_version": 1, "gpubal_version": __version__, "kind": "balance", **_plain(report)}
    return json.dumps(document, indent=1) + "\n"


def _num(fact: Fact[Any], unit: str = "", digits: int = 0) -> str:
    if isinstance(fact, Known):
        return f"{fact.value:.{digits}f}{unit}"
    return words.short(fact) if fact.reason is Reason.NOT_SUPPORTED else f"unknown ({words.short(fact)})"


def _overlap_line(report: BalanceReport) -> str:
    """How many GPUs work at once, when it was measured; nothing at all when it was not (a sentence built
    around "unknown" says nothing a person can use)."""
    imbalance = report.imbalance
    if not isinstance(imbalance.concurrency, Known):
        return ""
    text = f"{imbalance.concurrency.value:.2f} GPUs busy at once on average"
    if isinstance(imbalance.overlap_share, Known):
        text += f"; two or more busy in {imbalance.overlap_share.value:.0%} of active samples"
    return text


def _gib(fact: Fact[Any]) -> str:
    return f"{fact.value / 2**30:.1f} GiB" if isinstance(fact, Known) else _num(fact)


def headline(report: BalanceReport) -> str:
    imbalance = report.imbalance
    if report.nvml_failure is not None:
        return f"no samples: NVML did not start ({words.phrase(report.nvml_failure)})"
    if not report.gpus:
        return "no GPU to sample"
    text = f"imbalance {_num(imbalance.stddev_points, ' points', 1)} (std dev of mean utilization)"
    if isinstance(imbalance.max_over_mean, Known):
        text += f", max/mean {imbalance.max_over_mean.value:.2f}"
    if imbalance.idle_gpus:
        text += f", idle: GPU {', '.join(map(str, imbalance.idle_gpus))}"
    return text


def _window(report: BalanceReport) -> str:
    ended = " (ended early by Ctrl-C)" if report.interrupted else ""
    return (f"{report.sample_count} samples every {report.interval_s * 1000:.0f} ms over {report.duration_s:.1f} s"
            f"{ended}; sampler CPU {report.sampler_cpu_ms_per_sample:.2f} ms per sample = "
            f"{report.sampler_cpu_share_of_one_core:.2%} of one core (the first sample: "
            f"{report.sampler_cpu_ms_first_sample:.2f} ms)")


def _gbps(fact: Fact[Any]) -> str:
    if isinstance(fact, Known):
        return f"{fact.value / 1e9:.2f}"
    return "n/a" if fact.reason.value == "not_supported" else "?"


def _bare(fact: Fact[Any], digits: int = 0, scale: float = 1.0) -> str:
    return f"{fact.value * scale:.{digits}f}" if isinstance(fact, Known) else "?"


def gpu_rows(report: BalanceReport) -> Tuple[List[str], List[List[str]]]:
    """One row per GPU; units in the header, `?` where a figure is unknown (the JSON says why)."""
    header = ["GPU", "util mean %", "peak %", "busy share", "mem used GiB", "peak GiB", "power W", "SM MHz",
              "PCIe tx/rx GB/s", "NVLink tx/rx GB/s"]
    rows = []
    for gpu in report.gpus:
        rows.append([
            str(gpu.index), _bare(gpu.utilization_mean_percent, 1), _bare(gpu.utilization_peak_percent),
            _bare(gpu.busy_sample_share, 2), _bare(gpu.memory_used_mean_bytes, 1, 1 / 2**30),
            _bare(gpu.memory_used_peak_bytes, 1, 1 / 2**30), _bare(gpu.power_mean_watts),
            _bare(gpu.sm_clock_mean_mhz),
            f"{_gbps(gpu.pcie_tx_bytes_per_s)}/{_gbps(gpu.pcie_rx_bytes_per_s)}",
            f"{_gbps(gpu.nvlink_tx_bytes_per_s)}/{_gbps(gpu.nvlink_rx_bytes_per_s)}",
        ])
    return header, rows


def _gpu_names(report: BalanceReport) -> str:
    return "; ".join(f"GPU {gpu.index}: {gpu.name.value if isinstance(gpu.name, Known) else '?'} "
                     f"({_gib(gpu.memory_total_bytes)})" for gpu in report.gpus)


def process_rows(report: BalanceReport) -> Tuple[List[str], List[List[str]]]:
    header = ["GPU", "pid", "name", "memory (peak)", "present", "CUDA_VISIBLE_DEVICES"]
    rows = [[str(p.gpu), str(p.pid), p.name.value if isinstance(p.name, Known) else _num(p.name),
             _gib(p.memory_peak_bytes), f"{p.sample_share:.0%}",
             p.cuda_visible_devices.value if isinstance(p.cuda_visible_devices, Known) else "-"]
            for p in report.processes]
    return header, rows


def _ollama_line(report: BalanceReport) -> str:
    models = report.ollama_models
    if isinstance(report.ollama_url, Unavailable):
        return f"Ollama: not asked ({report.ollama_url.detail or words.phrase(report.ollama_url)})"
    if isinstance(models, Unavailable):
        return f"Ollama: no answer from {report.ollama_url.value}: {words.phrase(models)}"
    if not models.value:
        return f"Ollama ({models.source}): no model loaded"
    loaded = "; ".join(f"{m.name}: {m.size_vram_bytes / 2**30:.1f} of {m.size_bytes / 2**30:.1f} GiB on GPUs"
                       for m in models.value)
    return f"Ollama ({models.source}): {loaded}"


def _say(console: Console, text: "str | Text") -> None:
    """One line: process and model names come from the host, so nothing is read as markup or emoji and
    control characters show as escapes, whatever console the caller passes."""
    console.print(Text(visible(text)) if isinstance(text, str) else text,
                  soft_wrap=True, markup=False, emoji=False, highlight=False)


def render_balance_terminal(report: BalanceReport, console: Console) -> None:
    _say(console, Text.assemble(("gpubal balance", "bold"), f" {__version__}: {visible(headline(report))}"))
    _say(console, _window(report))
    if report.gpus:
        _say(console, _gpu_names(report))
        header, rows = gpu_rows(report)
        console.print(uncut_table(header, rows, width=console.width, bordered=False))
        overlap = _overlap_line(report)
        if overlap:
            _say(console, overlap)
    if report.processes:
        console.print()
        header, rows = process_rows(report)
        _say(console, "Processes on GPUs")
        console.print(uncut_table(header, rows, width=console.width, bordered=False))
    _say(console, _ollama_line(report))
    console.print()
    if not report.diagnoses and report.sample_count:
        _say(console, Text("No balance problem found.", style="green"))
    for finding in report.diagnoses:
        _say(console, Text.assemble((SEVERITY_LABEL[finding.severity], SEVERITY_STYLE[finding.severity]),
                                    f" {finding.rule_id} ({visible(finding.subject)})"))
        _say(console, f"  {finding.message}")
        _say(console, f"  fix: {finding.fix.summary}")
        for command in finding.fix.commands:
            _say(console, f"    $ {command}")
        if finding.fix.url:
            _say(console, f"  see {finding.fix.url}")


def render_balance_markdown(report: BalanceReport) -> str:
    """Every text from the host (process and model names, messages that quote them) is Markdown prose
    escaped character by character, as in the doctor's report: `<img src=...>` or `[x](y)` shows as written."""
    from .markdown import md_fence, md_text

    lines = [f"# gpubal balance {__version__}", "", f"**{md_text(headline(report))}**", "", md_text(_window(report)),
             "", md_text(_gpu_names(report)), ""]
    if report.gpus:
        lines += _md_table(*gpu_rows(report)) + [""]
    if report.processes:
        lines += ["## Processes on GPUs", ""] + _md_table(*process_rows(report)) + [""]
    lines += [md_text(_ollama_line(report)), "", "## Diagnoses", ""]
    if not report.sample_count:
        lines.append("Nothing was sampled.")
    elif not report.diagnoses:
        lines.append("No balance problem found.")
    for finding in report.diagnoses:
        lines += [f"### {SEVERITY_LABEL[finding.severity]} `{finding.rule_id}` ({md_text(finding.subject)})", "",
                  md_text(finding.message), "", f"**Fix:** {md_text(finding.fix.summary)}", ""]
        if finding.fix.commands:
            lines += [md_fence(finding.fix.commands), ""]
        if finding.fix.url:
            lines += [f"See <{finding.fix.url}>", ""]
    return visible("\n".join(lines).rstrip() + "\n")


def _md_table(header: List[str], rows: List[List[str]]) -> List[str]:
    from .markdown import md_text

    return (["| " + " | ".join(map(md_text, header)) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(map(md_text, row)) + " |" for row in rows])


def render_balance_html(report: BalanceReport) -> str:
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>gpubal balance {e(__version__)}</title>",
             "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}"
             "td{white-space:pre-wrap}"  # host text (process names) keeps its runs of spaces
             ".error{color:#b00}.warning{color:#a60}.info{color:#06a}pre{background:#f4f4f4;padding:.5em}</style>",
             "</head><body>", f"<h1>gpubal balance {e(__version__)}</h1>",
             f"<p><strong>{e(headline(report))}</strong></p>", f"<p>{e(_window(report))}</p>",
             f"<p>{e(_gpu_names(report))}</p>"]
    for title, (header, rows) in (("GPUs", gpu_rows(report)), ("Processes on GPUs", process_rows(report))):
        if rows:
            parts.append(f"<h2>{title}</h2><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
            parts.append("</table>")
    parts += [f"<p>{e(_ollama_line(report))}</p>", "<h2>Diagnoses</h2>"]
    if not report.sample_count:
        parts.append("<p>Nothing was sampled.</p>")
    elif not report.diagnoses:
        parts.append("<p>No balance problem found.</p>")
    for finding in report.diagnoses:
        severity = finding.severity.value
        parts += [f'<h3 class="{severity}">{e(SEVERITY_LABEL[finding.severity])} <code>{e(finding.rule_id)}</code> '
                  f"({e(finding.subject)})</h3>", f"<p>{e(finding.message)}</p>",
                  f"<p><strong>Fix:</strong> {e(finding.fix.summary)}</p>"]
        if finding.fix.commands:
            parts.append("<pre>" + e("\n".join(finding.fix.commands)) + "</pre>")
        if finding.fix.url:
            parts.append(f'<p>See <a href="{e(finding.fix.url)}">{e(finding.fix.url)}</a></p>')
    parts.append("</body></html>")
    return visible("\n".join(parts) + "\n")


# --- Prometheus text format (node_exporter --collector.textfile.directory) ------------------------------


# (name, help, value from a GpuStats, scale to the base unit): Prometheus names carry base units, so
# percentages are written as 0..1 ratios and MHz as hertz (https://prometheus.io/docs/practices/naming/)
_GPU_GAUGES = (
    ("gpubal_gpu_utilization_mean_ratio", "Mean GPU utilization over the sampling window (0 to 1).",
     lambda g: g.utilization_mean_percent, 0.01),
    ("gpubal_gpu_utilization_peak_ratio", "Peak GPU utilization over the sampling window (0 to 1).",
     lambda g: g.utilization_peak_percent, 0.01),
    ("gpubal_gpu_memory_used_peak_bytes", "Peak GPU memory used over the sampling window.",
     lambda g: g.memory_used_peak_bytes, 1),
    ("gpubal_gpu_memory_total_bytes", "GPU memory size.", lambda g: g.memory_total_bytes, 1),
    ("gpubal_gpu_power_mean_watts", "Mean power draw over the sampling window.", lambda g: g.power_mean_watts, 1),
    ("gpubal_gpu_sm_clock_mean_hertz", "Mean SM clock over the sampling window.", lambda g: g.sm_clock_mean_mhz,
     1_000_000),
    ("gpubal_gpu_pcie_tx_bytes_per_second", "PCIe transmit rate over the sampling window.",
     lambda g: g.pcie_tx_bytes_per_s, 1),
    ("gpubal_gpu_pcie_rx_bytes_per_second", "PCIe receive rate over the sampling window.",
     lambda g: g.pcie_rx_bytes_per_s, 1),
    ("gpubal_gpu_nvlink_tx_bytes_per_second", "NVLink transmit rate over the sampling window.",
     lambda g: g.nvlink_tx_bytes_per_s, 1),
    ("gpubal_gpu_nvlink_rx_bytes_per_second", "NVLink receive rate over the sampling window.",
     lambda g: g.nvlink_rx_bytes_per_s, 1),
)


def _scaled(value: Any, scale: float) -> Any:
    if scale < 1:  # divide, so 98.5 % is 0.985 and not 0.9850000000000001
        return value / round(1 / scale)
    return value if scale == 1 else value * scale


def render_balance_prometheus(report: BalanceReport) -> str:
    from .prometheus import Gauge, render

    gauges = []
    for name, help_text, pick, scale in _GPU_GAUGES:
        gauge = Gauge(name, help_text)
        for gpu in report.gpus:
            fact = pick(gpu)
            if isinstance(fact, Known):  # an absent series, never a made-up zero
                gauge.add(_scaled(fact.value, scale), **_gpu_label_map(gpu))
        gauges.append(gauge)
    idle = Gauge("gpubal_gpu_idle", "Whether the GPU was idle (mean utilization below 5 %).")
    for gpu in report.gpus:
        idle.add(1 if gpu.idle else 0, **_gpu_label_map(gpu))
    gauges.append(idle)
    imbalance = report.imbalance
    for name, help_text, fact, scale in (
            ("gpubal_gpu_imbalance_stddev_ratio",
             "Standard deviation of the GPUs' mean utilization (0 to 1; 0.2 is 20 percentage points).",
             imbalance.stddev_points, 0.01),
            ("gpubal_gpu_imbalance_max_over_mean_ratio", "Busiest GPU's mean utilization over the average.",
             imbalance.max_over_mean, 1),
            ("gpubal_gpu_concurrency", "GPUs busy at once on average, in active samples.", imbalance.concurrency, 1)):
        if isinstance(fact, Known):
            gauges.append(Gauge(name, help_text).add(_scaled(fact.value, scale)))
    gauges.append(Gauge("gpubal_gpus_idle", "GPUs idle over the sampling window.").add(len(imbalance.idle_gpus)))
    gauges.append(Gauge("gpubal_balance_samples", "Samples taken.").add(report.sample_count))
    diagnoses = Gauge("gpubal_balance_diagnoses", "Balance problems found, by id.")
    for rule_id in sorted({finding.rule_id for finding in report.diagnoses}):
        diagnoses.add(sum(1 for f in report.diagnoses if f.rule_id == rule_id), id=rule_id)
    gauges.append(diagnoses)
    return render(gauges)


def _gpu_label_map(gpu: GpuStats) -> dict:
    labels = {"gpu": str(gpu.index)}
    if isinstance(gpu.uuid, Known):
        labels["uuid"] = gpu.uuid.value
    return labels
