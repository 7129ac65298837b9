"""Parsed dumps -> one partial Snapshot.

Every parser hands over observations: (path, value, section). Observations from all dumps of one host
are merged per path; when two dumps disagree on a value the fact becomes
`Unavailable(error, "<file a>: <section>; <file b>: <section>", "dumps disagree: ...")` and a `Conflict`
is returned for the CLI to print: nothing is silently overwritten, and the rules that need the fact are
not evaluated, with the disagreement as the reason. Every fact no dump contains is
`Unavailable(not_in_input, <files>)`. Parts are built from the model's own field lists, so a fact added
to the model later is simply "not in input" here until a parser learns it.
"""

from __future__ import annotations

import dataclasses
import datetime
import sys
import typing
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

from ... import __version__
from ...model import (SCHEMA_VERSION, Driver, Gpu, GpuPair, Host, Known, NvLink, Ollama, Reason, Snapshot, Stack, Unavailable,
                     record)
from .common import FactPath
from .ollama_log import GPU_SECTION as OLLAMA_GPU_SECTION


@record
class Conflict:
    path: str  # "gpu:0.name", "driver.version"
    values: Tuple[Tuple[str, Any], ...]  # (source, value) for each distinct value

    def describe(self) -> str:
        said = "; ".join(f"{source} says {value!r}" for source, value in self.values)
        return f"{self.path}: dumps disagree: {said}"


@dataclass
class DumpFacts:
    """The observations read from one file (or standard input), under the name the user gave it."""

    name: str
    observations: List[Tuple[FactPath, Any, str]]
    formats: List[str]


def _path_name(path: FactPath) -> str:
    if path[0] == "gpu":
        return f"gpu:{path[1]}.{path[2]}"
    if path[0] == "pair":
        return f"gpu:{path[1]}-gpu:{path[2]}.{path[3]}"
    return ".".join(str(part) for part in path)


def _merge(dumps: Sequence[DumpFacts]) -> Tuple[Dict[FactPath, Any], List[Conflict]]:
    seen: Dict[FactPath, List[Tuple[str, Any]]] = {}
    for dump in dumps:
        for path, value, section in dump.observations:
            seen.setdefault(path, []).append((f"{dump.name}: {section}", value))
    merged: Dict[FactPath, Any] = {}
    conflicts: List[Conflict] = []
    for path, found in seen.items():
        if path[-1] == "environment" and path[0] == "stack":
            merged[path] = _merge_environment(path, found, conflicts)
            continue
        if path == ("kernel", "xid_events"):  # each paste shows some Xid lines: all of them, once each
            events: List[Any] = []
            for _, value in found:
                events += [event for event in value if event not in events]
            merged[path] = Known(events, ", ".join(source for source, _ in found))
            continue
        if path == ("dump", "date"):  # dumps pasted days apart are judged as of the latest of them
            source, latest = max(found, key=lambda item: item[1])
            merged[path] = Known(latest, source)
            continue
        values = [(source, value) for source, value in found if not isinstance(value, Unavailable)]
        if not values:
            # a dump that says the fact cannot be had (`CUDA Version: N/A`, NVML failed) and none that has it
            source, first = found[0]
            merged[path] = Unavailable(first.reason, source, first.detail)
            continue
        found = values
        distinct: List[Tuple[str, Any]] = []
        for source, value in found:
            if not any(_same(value, other) for _, other in distinct):
                distinct.append((source, value))
        distinct = _drop_cut_names(distinct)
        if len(distinct) == 1:
            sources = []
            for source, _ in found:
                if source not in sources:
                    sources.append(source)
            merged[path] = Known(distinct[0][1], ", ".join(sources))
        else:
            conflict = Conflict(_path_name(path), tuple(distinct))
            conflicts.append(conflict)
            merged[path] = Unavailable(Reason.ERROR, "; ".join(source for source, _ in distinct),
                                       conflict.describe())
    return merged, conflicts


def _drop_cut_names(distinct: List[Tuple[str, Any]]) -> List[Tuple[str, Any]]:
    """A name nvidia-smi's table cut short (`Tesla V100-SXM2...`) agrees with the full name another dump
    prints; the full one is kept."""
    kept = []
    for source, value in distinct:
        if isinstance(value, str) and value.endswith("...") and any(
                isinstance(other, str) and other != value and other.startswith(value[:-3].rstrip())
                for _, other in distinct):
            continue
        kept.append((source, value))
    return kept


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.strip() == b.strip()
    return a == b


def _merge_environment(path: FactPath, found: List[Tuple[str, Any]], conflicts: List[Conflict]) -> Any:
    merged: Dict[str, str] = {}
    origin: Dict[str, str] = {}
    for source, values in found:
        for name, value in values.items():
            if name in merged and merged[name] != value:
                conflicts.append(Conflict(f"stack.environment.{name}", ((origin[name], merged[name]), (source, value))))
                continue
            merged.setdefault(name, value)
            origin.setdefault(name, source)
    return Known(merged, ", ".join(dict.fromkeys(source for source, _ in found)))


def _fact_fields(cls: type) -> List[str]:
    hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
    names = []
    for field in dataclasses.fields(cls):
        if typing.get_origin(hints[field.name]) is typing.Union:
            names.append(field.name)
    return names


def _part(cls: type, facts: Dict[str, Any], missing: Unavailable, **plain: Any) -> Any:
    values = dict(plain)
    for name in _fact_fields(cls):
        values[name] = facts.get(name, missing)
    return cls(**values)


# Ollama numbers GPUs in its own order (by free memory from 0.4 on) and rounds their memory to 0.1 GiB: its
# list stands in for the GPUs only when no nvidia-smi, NVML or collect_env dump lists them.
_WEAK_GPU_SECTIONS = (OLLAMA_GPU_SECTION,)


def _without_weak_gpus(dumps: Sequence[DumpFacts]) -> List[DumpFacts]:
    listed = any(path[0] == "gpu" and section not in _WEAK_GPU_SECTIONS
                 for dump in dumps for path, _, section in dump.observations)
    if not listed:
        return list(dumps)
    return [dataclasses.replace(dump, observations=[(path, value, section) for path, value, section in dump.observations
                                                    if section not in _WEAK_GPU_SECTIONS])
            for dump in dumps]


def build_snapshot(dumps: Sequence[DumpFacts]) -> Tuple[Snapshot, List[Conflict]]:
    dumps = _without_weak_gpus(dumps)
    merged, conflicts = _merge(dumps)
    names = [dump.name for dump in dumps]
    everywhere = ", ".join(names)
    missing = Unavailable(Reason.NOT_IN_INPUT, everywhere, "none of the pasted dumps contains it")

    scoped: Dict[str, Dict[str, Any]] = {"host": {}, "driver": {}, "stack": {}, "ollama": {}, "dump": {},
                                         "kernel": {}}
    gpus: Dict[int, Dict[str, Any]] = {}
    pairs: Dict[Tuple[int, int], Dict[str, Any]] = {}
    for path, fact in merged.items():
        if path[0] == "gpu":
            gpus.setdefault(path[1], {})[path[2]] = fact
        elif path[0] == "pair":
            pairs.setdefault((path[1], path[2]), {})[path[3]] = fact
        elif path[0] in scoped:
            scoped[path[0]][path[1]] = fact

    gpu_sources = sorted({source for facts in gpus.values() for source in _sources(facts.get("present"))})
    gpu_list = [_gpu(index, facts, missing) for index, facts in sorted(gpus.items())]
    pair_list = [_part(GpuPair, facts, missing, gpu_a=a, gpu_b=b) for (a, b), facts in sorted(pairs.items())
                 if a in gpus and b in gpus]
    if gpu_list:
        gpus_fact: Any = Known(gpu_list, ", ".join(gpu_sources) or everywhere)
    else:
        gpus_fact = Unavailable(Reason.NOT_IN_INPUT, everywhere, "no dump lists the GPUs")
    if pair_list or (len(gpu_list) == 1 and _has_topology(dumps)):
        pair_sources = sorted({source for facts in pairs.values() for source in _sources(facts.get("present"))})
        pairs_fact: Any = Known(pair_list, ", ".join(pair_sources) or everywhere)
    else:
        pairs_fact = Unavailable(Reason.NOT_IN_INPUT, everywhere, "no topology matrix (nvidia-smi topo -m) pasted")

    ollama = dict(scoped["ollama"])
    if ollama:
        log_names = [dump.name for dump in dumps if "Ollama log" in dump.formats]
        ollama.setdefault("log_source", Known(", ".join(log_names), "pasted text"))
    collected_at, dated_by = _dump_date(scoped["dump"].get("date"))
    snapshot = Snapshot(
        schema_version=SCHEMA_VERSION,
        gpubal_version=__version__,
        collected_at=collected_at,
        origin=f"pasted text: {everywhere}{dated_by}",
        host=_part(Host, scoped["host"], missing),
        driver=_part(Driver, scoped["driver"], missing),
        gpus=gpus_fact,
        pairs=pairs_fact,
        stack=_part(Stack, scoped["stack"], missing),
        ollama=_part(Ollama, ollama, missing),
        xid_events=scoped["kernel"].get("xid_events", Unavailable(Reason.NOT_IN_INPUT, everywhere,
                                                                  "no dump holds an Xid line of the kernel log")),
    )
    return snapshot, conflicts


def _dump_date(fact: Any) -> Tuple[str, str]:
    """When the dumps were made, as they show it (nvidia-smi's timestamp line, `-q`'s Timestamp), so that
    version rules judge the host as of then; now when no dump is dated. The origin says which date was used."""
    if isinstance(fact, Known):
        return fact.value, f"; dated {fact.value} by the dump's own timestamp ({fact.source})"
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(), ""


def _sources(fact: Any) -> List[str]:
    return fact.source.split(", ") if isinstance(fact, Known) else []


def _has_topology(dumps: Sequence[DumpFacts]) -> bool:
    return any("nvidia-smi topo" in dump.formats for dump in dumps)


def _gpu(index: int, facts: Dict[str, Any], missing: Unavailable) -> Gpu:
    facts = dict(facts)
    nvlinks = facts.get("nvlinks")
    if isinstance(nvlinks, Known):
        facts["nvlinks"] = Known([dataclasses.replace(link, gpu_index=index) if isinstance(link, NvLink) else link
                                  for link in nvlinks.value], nvlinks.source)
    return _part(Gpu, facts, missing, index=index)

