"""Many hosts' digests -> one fleet report: hosts by verdict, each finding with the hosts that have it,
drift among hosts of one GPU model, stale and missing hosts, the worst hosts first.

The builder keeps one small digest per host (its findings and drift values, with equal texts shared
between hosts), never a report: memory grows by about 0.4 KB per host (tracemalloc, 8-GPU hosts).
Everything here is a pure function of the digests and the options; the newest report, not the clock,
decides what is stale, so the same reports give the same fleet report tomorrow.
"""

from __future__ import annotations

import re
from dataclasses import field
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from ..model import record
from .digest import DRIFT_FACTS, HostDigest, Unknown
from .sources import Unreadable

VERDICTS = ("error", "warning", "partly-checked", "healthy")
VERDICT_TEXT = {
    "error": "errors: will not work as intended",
    "warning": "warnings: degraded or at risk",
    "partly-checked": "no problems in what could be checked",
    "healthy": "healthy: every check passed",
}
_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
DEFAULT_STALE_AFTER_S = 24 * 3600


def natural_key(name: str) -> Tuple[Any, ...]:
    """node2 before node10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


@record
class HostRow:
    host: str
    source: str
    verdict: str
    errors: int
    warnings: int
    infos: int
    not_evaluated: int
    gpu_model: str
    collected_at: str
    age_seconds: Optional[float]  # behind the newest report; None when its timestamp cannot be read
    stale: bool
    drift: Tuple[str, ...]  # keys of the facts on which this host is an outlier
    rules: Tuple[str, ...]  # rule ids of its findings, worst first


@record
class FindingGroup:
    rule_id: str
    severity: str
    hosts: Tuple[str, ...]
    subjects: int  # findings over all those hosts (a rule may fire on several GPUs of one host)


@record
class ValueHosts:
    value: str
    hosts: Tuple[str, ...]


@record
class Drift:
    gpu_model: str
    fact: str  # DriftFact.key
    label: str
    hosts_compared: int  # hosts of this model on which the fact could be read
    majority: Optional[ValueHosts]  # None when no value is held by more hosts than every other (a tie)
    outliers: Tuple[ValueHosts, ...]  # every other value, most hosts first
    unknown: Tuple[ValueHosts, ...]  # hosts that could not read it, by reason


@record
class Agreement:
    gpu_model: str
    fact: str
    label: str
    value: str
    hosts: int
    unknown_hosts: int


@record
class ModelGroup:
    gpu_model: str
    hosts: int


@record
class FleetReport:
    hosts: Tuple[HostRow, ...]  # worst first
    by_verdict: Dict[str, Tuple[str, ...]]
    findings: Tuple[FindingGroup, ...]
    drift: Tuple[Drift, ...]
    agreements: Tuple[Agreement, ...]
    models: Tuple[ModelGroup, ...]
    stale: Tuple[HostRow, ...]
    missing: Tuple[str, ...]
    unreadable: Tuple[Unreadable, ...]
    duplicates: Tuple[Tuple[str, str], ...]  # (host, the older report's source) that a newer one replaced
    newest_collected_at: str
    stale_after_seconds: float
    inputs_read: int

    def worst_verdict(self) -> Optional[str]:
        for verdict in VERDICTS:
            if self.by_verdict.get(verdict):
                return verdict
        return None


class FleetBuilder:
    """Add digests one by one (the order does not matter), then `finish()`."""

    def __init__(self) -> None:
        self._hosts: Dict[str, HostDigest] = {}
        self._unreadable: List[Unreadable] = []
        self._duplicates: List[Tuple[str, str]] = []
        self._shared: Dict[Any, Any] = {}  # equal texts and tuples stored once for the whole fleet
        self.inputs_read = 0

    def _share(self, value: Any) -> Any:
        return self._shared.setdefault(value, value)

    def add(self, item: "HostDigest | Unreadable") -> None:
        self.inputs_read += 1
        if isinstance(item, Unreadable):
            self._unreadable.append(item)
            return
        digest = HostDigest(
            host=item.host, source=item.source, collected_at=self._share(item.collected_at),
            collected_epoch=item.collected_epoch, gpu_model=self._share(item.gpu_model),
            errors=item.errors, warnings=item.warnings, infos=item.infos, not_evaluated=item.not_evaluated,
            findings=self._share(tuple(self._share(finding) for finding in item.findings)),
            facts=self._share(tuple(self._share(value) for value in item.facts)),
        )
        earlier = self._hosts.get(digest.host)
        if earlier is not None:
            # the same host twice (a rerun, a copy): the newer report speaks for it
            newer, older = (digest, earlier) if (digest.collected_epoch or 0) >= (earlier.collected_epoch or 0) \
                else (earlier, digest)
            self._duplicates.append((older.host, older.source))
            digest = newer
        self._hosts[digest.host] = digest

    def finish(self, stale_after_seconds: float = DEFAULT_STALE_AFTER_S,
               expected_hosts: Optional[Iterable[str]] = None) -> FleetReport:
        digests = sorted(self._hosts.values(), key=lambda d: natural_key(d.host))
        epochs = [d.collected_epoch for d in digests if d.collected_epoch is not None]
        newest = max(epochs) if epochs else None
        drift, agreements, outliers_by_host = _drift(digests)
        rows = [_row(d, newest, stale_after_seconds, outliers_by_host.get(d.host, ())) for d in digests]
        rows.sort(key=_worst_first)
        by_verdict = {verdict: tuple(r.host for r in sorted((r for r in rows if r.verdict == verdict),
                                                            key=lambda r: natural_key(r.host)))
                      for verdict in VERDICTS}
        seen = set(self._hosts)
        missing = tuple(sorted({name for name in (expected_hosts or ()) if name not in seen}, key=natural_key))
        models: Dict[str, int] = {}
        for d in digests:
            models[d.gpu_model] = models.get(d.gpu_model, 0) + 1
        return FleetReport(
            hosts=tuple(rows),
            by_verdict=by_verdict,
            findings=_finding_groups(digests),
            drift=drift,
            agreements=agreements,
            models=tuple(ModelGroup(model, count) for model, count in
                         sorted(models.items(), key=lambda item: (-item[1], item[0]))),
            stale=tuple(sorted((r for r in rows if r.stale), key=lambda r: (-(r.age_seconds or 0), natural_key(r.host)))),
            missing=missing,
            unreadable=tuple(self._unreadable),
            duplicates=tuple(self._duplicates),
            newest_collected_at=_iso(newest) if newest is not None else "",
            stale_after_seconds=stale_after_seconds,
            inputs_read=self.inputs_read,
        )


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat()


def _row(d: HostDigest, newest: Optional[float], stale_after: float, drift: Sequence[str]) -> HostRow:
    age = newest - d.collected_epoch if newest is not None and d.collected_epoch is not None else None
    rules = tuple(dict.fromkeys(rule for rule, _, _ in sorted(d.findings, key=lambda f: (_SEVERITY_RANK[f[1]], f[0]))))
    return HostRow(host=d.host, source=d.source, verdict=d.verdict, errors=d.errors, warnings=d.warnings,
                   infos=d.infos, not_evaluated=d.not_evaluated, gpu_model=d.gpu_model, collected_at=d.collected_at,
                   age_seconds=age, stale=age is not None and age > stale_after, drift=tuple(drift), rules=rules)


def _worst_first(row: HostRow) -> Tuple[Any, ...]:
    return (VERDICTS.index(row.verdict), -row.errors, -row.warnings, -len(row.drift), not row.stale,
            -row.infos, natural_key(row.host))


def _finding_groups(digests: Sequence[HostDigest]) -> Tuple[FindingGroup, ...]:
    hosts: Dict[Tuple[str, str], List[str]] = {}
    subjects: Dict[Tuple[str, str], int] = {}
    for d in digests:  # already in natural host order
        seen: Set[Tuple[str, str]] = set()
        for rule_id, severity, _ in d.findings:
            key = (rule_id, severity)
            subjects[key] = subjects.get(key, 0) + 1
            if key not in seen:
                seen.add(key)
                hosts.setdefault(key, []).append(d.host)
    groups = [FindingGroup(rule_id, severity, tuple(names), subjects[(rule_id, severity)])
              for (rule_id, severity), names in hosts.items()]
    return tuple(sorted(groups, key=lambda g: (_SEVERITY_RANK[g.severity], -len(g.hosts), g.rule_id)))


def _drift(digests: Sequence[HostDigest]):
    by_model: Dict[str, List[HostDigest]] = {}
    for d in digests:
        by_model.setdefault(d.gpu_model, []).append(d)
    drifts: List[Drift] = []
    agreements: List[Agreement] = []
    outliers_by_host: Dict[str, List[str]] = {}
    for model in sorted(by_model):
        members = by_model[model]
        for position, fact in enumerate(DRIFT_FACTS):
            values: Dict[str, List[str]] = {}
            unknown: Dict[str, List[str]] = {}
            for d in members:
                value = d.facts[position]
                target = unknown if isinstance(value, Unknown) else values
                target.setdefault(str(value), []).append(d.host)
            unknown_groups = tuple(ValueHosts(reason, tuple(names)) for reason, names in
                                   sorted(unknown.items(), key=lambda item: (-len(item[1]), item[0])))
            if len(values) == 1:
                (value, names), = values.items()
                agreements.append(Agreement(model, fact.key, fact.label, value, len(names),
                                            sum(len(group.hosts) for group in unknown_groups)))
                continue
            if not values:
                continue
            ranked = sorted(values.items(), key=lambda item: (-len(item[1]), item[0]))
            tie = len(ranked[1][1]) == len(ranked[0][1])
            majority = None if tie else ValueHosts(ranked[0][0], tuple(ranked[0][1]))
            outliers = tuple(ValueHosts(value, tuple(names)) for value, names in (ranked if tie else ranked[1:]))
            for group in outliers:
                for name in group.hosts:
                    outliers_by_host.setdefault(name, []).append(fact.key)
            drifts.append(Drift(model, fact.key, fact.label, sum(len(names) for names in values.values()),
                                majority, outliers, unknown_groups))
    drifts.sort(key=lambda item: (-sum(len(group.hosts) for group in item.outliers), item.gpu_model, item.fact))
    return tuple(drifts), tuple(agreements), outliers_by_host


_DURATION = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d|w)?", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """`90m`, `6h`, `2d`, `1w`, or seconds; ValueError for anything else."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r} (write it like 90m, 6h, 2d or 3600)")
    return float(match.group("number")) * _UNIT_SECONDS[(match.group("unit") or "s").lower()]


def duration_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            value = seconds / size
            return f"{value:.0f}{unit}" if value >= 10 or value == int(value) else f"{value:.1f}{unit}"
    return f"{seconds:.0f}s"


def read_expected_hosts(text: str) -> List[str]:
    """One host name per line; blank lines and `#` comments are ignored."""
    names = []
    for line in text.splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.append(name)
    return names
