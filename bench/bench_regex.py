"""Seconds each regex family of gpubal takes on adversarial text of 100 KB and 1 MB (tests/adversarial_text.py
builds the text; the same cases run in tests/test_regex_linear.py under a hang guard, without timing).

    .venv/bin/python bench/bench_regex.py            # every family and shape, 100 KB and 1 MB
    .venv/bin/python bench/bench_regex.py redaction  # one family (redaction, host-names, line-parsers, embedded, patterns)

A case that runs past --limit seconds is stopped (SIGALRM) and printed as `>LIMIT`: linear code takes
milliseconds at 1 MB; quadratic code takes minutes to hours.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import adversarial_text as adversarial  # noqa: E402


class Stopped(Exception):
    pass


def _stop(*_):
    raise Stopped


def timed(run, text: str, limit_s: float) -> str:
    signal.signal(signal.SIGALRM, _stop)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    started = time.perf_counter()
    try:
        run(text)
    except Stopped:
        return f">{limit_s:g}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return f"{time.perf_counter() - started:.3f}"


def families(snapshot):
    yield "redaction", [(name, make) for name, make in adversarial.LINE_SHAPES.items()], \
        lambda text: adversarial.run_redaction(text, snapshot)
    yield "host-names", [(name, make) for name, make in adversarial.LINE_SHAPES.items()], \
        lambda text: adversarial.run_host_list_redaction(text, snapshot)
    yield "line-parsers", [(name, make) for name, make in adversarial.LINE_SHAPES.items()], \
        adversarial.run_line_parsers
    embedded = [(name, (lambda size, name=name: dict(adversarial.embedded_snapshot_cases(size))[name]))
                for name, _ in adversarial.embedded_snapshot_cases(10)]
    yield "embedded", embedded, adversarial.run_embedded_snapshot
    for where, pattern in adversarial.source_patterns():
        yield f"patterns {where}", [(name, make) for name, make in adversarial.LINE_SHAPES.items()], \
            lambda text, pattern=pattern: adversarial.run_pattern(pattern, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family", nargs="?", default="", help="only families whose name starts with this")
    parser.add_argument("--limit", type=float, default=10.0, help="seconds before a case is stopped")
    parser.add_argument("--sizes", default="100000,1000000", help="text sizes in characters")
    parser.add_argument("--slowest", type=int, default=0, help="print only the N slowest cases")
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    rows = []
    for family, shapes, run in families(adversarial.sample_snapshot()):
        if not family.startswith(options.family):
            continue
        for name, make in shapes:
            times = [timed(run, make(size), options.limit) for size in sizes]
            rows.append((family, name, times))
            if not options.slowest:
                print(f"{family:48} {name:24} " + " ".join(f"{t:>8}" for t in times), flush=True)
    if options.slowest:
        def worst(row):
            return max(float(t.lstrip(">")) for t in row[2])
        for family, name, times in sorted(rows, key=worst, reverse=True)[:options.slowest]:
            print(f"{family:48} {name:24} " + " ".join(f"{t:>8}" for t in times))


if __name__ == "__main__":
    main()
