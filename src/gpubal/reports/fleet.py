"""Renderers for `gpubal fleet`: terminal, Markdown, one self-contained HTML page, and JSON. Pure functions
of the FleetReport. Host lists are long in a fleet: the text formats name the first few hosts and count
the rest; JSON names every host."""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from typing import Any, Dict, List, Sequence, Tuple

from .. import __version__
from ..fleet.aggregate import VERDICT_TEXT, VERDICTS, Drift, FleetReport, HostRow, duration_text

NAMED_HOSTS = 8  # hosts named in one line of text before the rest are counted
WORST_HOSTS = 20  # rows of the worst-hosts table in terminal and Markdown
HTML_HOSTS = 500  # rows of the HTML host table (the JSON lists every host)
_SEVERITY_WORD = {"error": "ERROR", "warning": "WARNING", "info": "INFO"}


def host_list(hosts: Sequence[str], limit: int = NAMED_HOSTS) -> str:
    if len(hosts) <= limit:
        return ", ".join(hosts)
    return ", ".join(hosts[:limit]) + f" and {len(hosts) - limit} more"


def plural(count: int, one: str, many: str = "") -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def headline(fleet: FleetReport) -> str:
    total = len(fleet.hosts)
    parts = [f"{plural(len(fleet.by_verdict[v]), 'host')} {label}" for v, label in
             (("error", "with errors"), ("warning", "with warnings")) if fleet.by_verdict[v]]
    drifting = sum(1 for row in fleet.hosts if row.drift)
    if drifting:
        parts.append(f"{plural(drifting, 'host')} drifting from their model's majority")
    if fleet.stale:
        parts.append(f"{len(fleet.stale)} stale")
    if fleet.missing:
        parts.append(f"{len(fleet.missing)} missing")
    if fleet.unreadable:
        parts.append(f"{plural(len(fleet.unreadable), 'input')} unreadable")
    head = f"{plural(total, 'host')}"
    return head + (": " + ", ".join(parts) if parts else ": no problems found")


def host_problems(row: HostRow) -> str:
    """What is wrong with a host, in one line: counts, its rules, drift, staleness."""
    bits = []
    if row.errors:
        bits.append(plural(row.errors, "error"))
    if row.warnings:
        bits.append(plural(row.warnings, "warning"))
    if row.rules:
        bits.append(", ".join(row.rules[:4]) + (f" (+{len(row.rules) - 4})" if len(row.rules) > 4 else ""))
    if row.drift:
        bits.append("drift: " + ", ".join(row.drift))
    if row.stale and row.age_seconds is not None:
        bits.append(f"stale ({duration_text(row.age_seconds)} old)")
    return "; ".join(bits) if bits else "—"


def drift_lines(drift: Drift) -> List[str]:
    lines = []
    if drift.majority is not None:
        lines.append(f"majority ({plural(len(drift.majority.hosts), 'host')}): {drift.majority.value}")
    else:
        lines.append("no majority (a tie)")
    for group in drift.outliers:
        lines.append(f"{plural(len(group.hosts), 'host')} ({host_list(group.hosts)}): {group.value}")
    for group in drift.unknown:
        lines.append(f"could not be read on {plural(len(group.hosts), 'host')} ({host_list(group.hosts)}): {group.value}")
    return lines


def worst_hosts(fleet: FleetReport, limit: int) -> List[HostRow]:
    return [row for row in fleet.hosts if row.verdict in ("error", "warning") or row.drift or row.stale][:limit]


# --- JSON ----------------------------------------------------------------------------------------------


_FIELD_NAMES: Dict[type, Tuple[str, ...]] = {}
_SCALARS = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """What dataclasses.asdict gives, as JSON sees it, without asdict's deep copy of every value: over
    10,000 hosts' rows that copy was most of the time taken to write the report."""
    names = _FIELD_NAMES.get(type(value))
    if names is None and is_dataclass(value):
        names = _FIELD_NAMES[type(value)] = tuple(field.name for field in fields(value))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, (tuple, list)):
        return [item if type(item) in _SCALARS else _plain(item) for item in value]  # host lists run long
    return value


def render_fleet_json(fleet: FleetReport) -> str:
    document: Dict[str, Any] = {
        "gpubal_version": __version__,
        "headline": headline(fleet),
        "hosts_total": len(fleet.hosts),
        "inputs_read": fleet.inputs_read,
        "newest_collected_at": fleet.newest_collected_at,
        "stale_after_seconds": fleet.stale_after_seconds,
        "by_verdict": {verdict: list(fleet.by_verdict[verdict]) for verdict in VERDICTS},
        "models": [_plain(model) for model in fleet.models],
        "findings": [_plain(group) for group in fleet.findings],
        "drift": [_plain(drift) for drift in fleet.drift],
        "agreements": [_plain(agreement) for agreement in fleet.agreements],
        "stale": [{"host": row.host, "collected_at": row.collected_at, "age_seconds": row.age_seconds}
                  for row in fleet.stale],
        "missing": list(fleet.missing),
        "unreadable": [_plain(item) for item in fleet.unreadable],
        "duplicates": [{"host": host, "replaced_source": source} for host, source in fleet.duplicates],
        "hosts": [_plain(row) for row in fleet.hosts],
    }
    return json.dumps(document, indent=1) + "\n"


# --- terminal ------------------------------------------------------------------------------------------


def render_fleet_terminal(fleet: FleetReport, console: Any) -> None:
    from rich.table import Table
    from rich.text import Text

    style = {"error": "bold red", "warning": "yellow", "partly-checked": "cyan", "healthy": "green", "info": "cyan"}
    console.print(Text(f"gpubal fleet {__version__}", style="bold"))
    console.print(Text(headline(fleet)))
    if fleet.newest_collected_at:
        console.print(Text(f"newest report {fleet.newest_collected_at}; stale after "
                           f"{duration_text(fleet.stale_after_seconds)}", style="dim"))
    console.print()
    console.print(Text("Hosts by verdict", style="bold"))
    for verdict in VERDICTS:
        hosts = fleet.by_verdict[verdict]
        if hosts:
            line = Text(f"  {len(hosts):>6}  ")
            line.append(VERDICT_TEXT[verdict], style=style[verdict])
            line.append(f"  {host_list(hosts)}")
            console.print(line)
    console.print(Text("  GPU models: " + "; ".join(f"{m.gpu_model} ({plural(m.hosts, 'host')})" for m in fleet.models)))

    worst = worst_hosts(fleet, WORST_HOSTS)
    if worst:
        console.print()
        table = Table(title=None, show_edge=False, pad_edge=False, expand=False)
        table.add_column("worst hosts")
        table.add_column("verdict")
        table.add_column("problems", overflow="fold")
        for row in worst:
            table.add_row(Text(row.host), Text(row.verdict, style=style[row.verdict]), Text(host_problems(row)))
        console.print(table)
        rest = sum(1 for row in fleet.hosts if row.verdict in ("error", "warning") or row.drift or row.stale) - len(worst)
        if rest > 0:
            console.print(Text(f"  and {rest} more hosts with problems (--format json lists every host)", style="dim"))

    if fleet.findings:
        console.print()
        console.print(Text("Findings", style="bold"))
        for group in fleet.findings:
            line = Text("  ")
            line.append(f"{_SEVERITY_WORD[group.severity]:<8}", style=style[group.severity])
            line.append(f" {group.rule_id}  on {plural(len(group.hosts), 'host')}: {host_list(group.hosts)}")
            console.print(line)

    console.print()
    console.print(Text("Drift within a GPU model", style="bold"))
    if not fleet.drift:
        console.print(Text("  none: hosts of each GPU model agree on every compared fact"))
    for drift in fleet.drift:
        console.print(Text(f"  {drift.label} ({drift.gpu_model})", style="bold"))
        for line in drift_lines(drift):
            console.print(Text(f"    {line}"))

    for title, rows in (("Stale reports", [f"{r.host}: collected {r.collected_at}, "
                                           f"{duration_text(r.age_seconds or 0)} before the newest" for r in fleet.stale]),
                        ("Missing hosts (expected, no report)", [host_list(fleet.missing, 50)] if fleet.missing else []),
                        ("Unreadable inputs", [f"{u.source}: {u.reason}" for u in fleet.unreadable]),
                        ("Replaced by a newer report of the same host",
                         [f"{host}: {source}" for host, source in fleet.duplicates])):
        if rows:
            console.print()
            console.print(Text(title, style="bold"))
            for line in rows[:WORST_HOSTS]:
                console.print(Text(f"  {line}"))
            if len(rows) > WORST_HOSTS:
                console.print(Text(f"  and {len(rows) - WORST_HOSTS} more", style="dim"))


# --- Markdown ------------------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Host strings are prose that renders as written, never markup (the doctor's Markdown rules)."""
    from .markdown import md_text

    return md_text(text)


def render_fleet_markdown(fleet: FleetReport) -> str:
    lines = [f"# gpubal fleet {__version__}", "", f"**{_md(headline(fleet))}**", ""]
    if fleet.newest_collected_at:
        lines += [f"Newest report {_md(fleet.newest_collected_at)}; a report is stale after "
                  f"{duration_text(fleet.stale_after_seconds)}.", ""]
    lines += ["## Hosts by verdict", "", "| verdict | hosts | |", "|---|---:|---|"]
    for verdict in VERDICTS:
        hosts = fleet.by_verdict[verdict]
        lines.append(f"| {VERDICT_TEXT[verdict]} | {len(hosts)} | {_md(host_list(hosts))} |")
    lines += ["", "GPU models: " + "; ".join(f"{_md(m.gpu_model)} ({plural(m.hosts, 'host')})" for m in fleet.models), ""]
    worst = worst_hosts(fleet, WORST_HOSTS)
    if worst:
        lines += ["## Worst hosts", "", "| host | verdict | problems |", "|---|---|---|"]
        lines += [f"| {_md(row.host)} | {row.verdict} | {_md(host_problems(row))} |" for row in worst]
        lines.append("")
    if fleet.findings:
        lines += ["## Findings", "", "| severity | rule | hosts | which |", "|---|---|---:|---|"]
        lines += [f"| {group.severity} | `{group.rule_id}` | {len(group.hosts)} | {_md(host_list(group.hosts))} |"
                  for group in fleet.findings]
        lines.append("")
    lines += ["## Drift within a GPU model", ""]
    if not fleet.drift:
        lines += ["None: hosts of each GPU model agree on every compared fact.", ""]
    for drift in fleet.drift:
        lines.append(f"- **{_md(drift.label)}** ({_md(drift.gpu_model)})")
        lines += [f"  - {_md(line)}" for line in drift_lines(drift)]
    if fleet.drift:
        lines.append("")
    for title, rows in (("Stale reports", [f"{_md(r.host)}: collected {_md(r.collected_at)}, "
                                           f"{duration_text(r.age_seconds or 0)} before the newest" for r in fleet.stale]),
                        ("Missing hosts", [_md(name) for name in fleet.missing]),
                        ("Unreadable inputs", [f"{_md(u.source)}: {_md(u.reason)}" for u in fleet.unreadable])):
        if rows:
            lines += [f"## {title}", ""] + [f"- {row}" for row in rows[:50]]
            if len(rows) > 50:
                lines.append(f"- and {len(rows) - 50} more")
            lines.append("")
    return "\n".join(lines)


# --- HTML ----------------------------------------------------------------------------------------------


def render_fleet_html(fleet: FleetReport) -> str:
    from .html import _environment, _sha256, _static

    css = _static("fleet.css")
    # no script at all: only this page's own stylesheet may apply, and nothing may be fetched
    csp = f"default-src 'none'; style-src '{_sha256(css)}'; base-uri 'none'; form-action 'none'"
    return _environment().get_template("fleet.html.j2").render(
        fleet=fleet, version=__version__, headline=headline(fleet), verdicts=VERDICTS, verdict_text=VERDICT_TEXT,
        host_list=host_list, plural=plural, host_problems=host_problems, drift_lines=drift_lines,
        duration_text=duration_text, shown_hosts=worst_hosts(fleet, HTML_HOSTS), problem_count=len(worst_hosts(fleet, len(fleet.hosts))), csp=csp,
        css=css)
