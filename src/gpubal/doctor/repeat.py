"""`gpubal debug repeat`: the same host collected several times, and every fact that differed.

Same host, same answer: a collector that says something else on the next run cannot gate a deployment. Each
run is a fresh process (NVML's faults showed most on first use), run one after another. A few facts change
by nature (the time, uptime, memory in use, clock event reasons, counters); they are counted apart, so that
what remains is what should never change on an unchanged host.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any, Dict, Iterator, List, Tuple

# Paths (as flatten() writes them) of facts that change between two runs of an unchanged host.
CHANGING_BY_NATURE = re.compile(
    r"^(collected_at|host\.uptime_seconds\..*|gpus\.value\[\d+\]\.(memory_used_bytes|clock_event_reasons|"
    r"pcie_replay_count)\..*|ollama\..*\.(size_vram|expires_at|until).*)$")


def flatten(data: Any, path: str = "") -> Iterator[Tuple[str, str]]:
    """Every leaf of a snapshot's JSON as (path, value as JSON text)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from flatten(value, f"{path}.{key}" if path else key)
    elif isinstance(data, list):
        if not data:
            yield path, "[]"
        for position, value in enumerate(data):
            yield from flatten(value, f"{path}[{position}]")
    else:
        yield path, json.dumps(data, ensure_ascii=False)


def differences(snapshots: List[Dict[str, Any]]) -> Dict[str, Counter]:
    """Path -> how many runs gave each value, for every path whose value was not the same in every run."""
    seen: Dict[str, Counter] = {}
    for snapshot in snapshots:
        leaves = dict(flatten(snapshot))
        for path in set(leaves) | set(seen):
            seen.setdefault(path, Counter())[leaves.get(path, "(absent)")] += 1
    return {path: values for path, values in sorted(seen.items()) if len(values) > 1}


def split_by_nature(found: Dict[str, Counter]) -> Tuple[Dict[str, Counter], Dict[str, Counter]]:
    """(facts that should never change, facts that change by nature)"""
    wrong = {path: values for path, values in found.items() if not CHANGING_BY_NATURE.match(path)}
    natural = {path: values for path, values in found.items() if CHANGING_BY_NATURE.match(path)}
    return wrong, natural


def render(runs: int, failures: List[str], wrong: Dict[str, Counter], natural: Dict[str, Counter]) -> str:
    lines = [f"{runs} collections in fresh processes, {len(failures)} failed"]
    lines += [f"  failed: {failure}" for failure in failures]
    if wrong:
        lines.append(f"{len(wrong)} facts differed between runs:")
        for path, values in wrong.items():
            lines.append(f"  {path}")
            lines += [f"    {count} x {value}" for value, count in values.most_common()]
    else:
        lines.append("no fact differed between runs")
    if natural:
        lines.append(f"({len(natural)} facts that change by nature also changed: "
                     + ", ".join(sorted({re.sub(r"\[\d+\]", "[*]", path.split('.value')[0]) for path in natural}))
                     + ")")
    return "\n".join(lines) + "\n"
