"""Every NVML fault against every recorded profile: the full sweep of tests/nvml_fault_injection.py.

For each profile, each pynvml function gpubal calls, on all GPUs at once and on each GPU alone, each
fault (every NVML error code, answers of the wrong type, Python exceptions, a hang): collect the doctor's
facts, run every rule, render the reports, `gpubal topo` and `gpubal balance`, then count crashes, hangs
(a combination over 10 s) and claims the faulted NVML did not make (a fact, rule outcome or topology
word that is definite where NVML gave no answer).

    python bench/fault_sweep.py                      # the default profiles
    python bench/fault_sweep.py --profile h200x2 --every-format
    python bench/fault_sweep.py --all                # every profile (tens of minutes)

tests/doctor/probes/test_nvml_fault_injection.py runs a seeded sample of the same combinations in CI.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import nvml_fault_injection as faults  # noqa: E402

DEFAULT_PROFILES = ("h200x1", "h200x2", "a100-mig-instances", "old-driver-470", "both-busy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", action="append", help="a profile name (repeat); default: " +
                        ", ".join(DEFAULT_PROFILES))
    parser.add_argument("--all", action="store_true", help="every profile in tests/fixtures")
    parser.add_argument("--every-format", action="store_true",
                        help="render the Markdown, HTML, JUnit and terminal reports too (slower)")
    parser.add_argument("--unavailable", action="store_true",
                        help="instead of faults in the library, every adapter query answering every Unavailable "
                             "reason (the class test of tests/doctor/probes/test_nvml_fault_injection.py, in full)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many combinations per profile (a seeded sample)")
    options = parser.parse_args()
    profiles = faults.PROFILES if options.all else tuple(options.profile or DEFAULT_PROFILES)
    totals = collections.Counter()
    problems = collections.Counter()
    examples = {}
    started = time.monotonic()
    slowest = 0.0
    for name in profiles:
        combos = faults.unavailable_combos(name) if options.unavailable else faults.combos(name)
        if options.limit and len(combos) > options.limit:
            combos = random.Random(f"sweep-{name}").sample(combos, options.limit)
        profile_started = time.monotonic()
        for fault in combos:
            result = faults.run_combo(name, fault, every_format=options.every_format)
            totals["combos"] += 1
            slowest = max(slowest, result.seconds)
            if result.crash:
                totals["crashes"] += 1
                key = ("crash", fault.function, result.crash[:100])
                problems[key] += 1
                examples.setdefault(key, f"{name} {fault.describe()}")
            if result.hung:
                totals["hangs"] += 1
            if result.violations:
                totals["claims beyond NVML's answers"] += 1
                key = ("claim", fault.function, result.violations[0][:100])
                problems[key] += 1
                examples.setdefault(key, f"{name} {fault.describe()}")
            if result.exit_code not in (0, 1):
                totals["exit codes other than 0/1"] += 1
        print(f"{name}: {len(combos)} combinations in {time.monotonic() - profile_started:.1f} s", flush=True)
    print()
    if options.unavailable:
        print(f"profiles: {len(profiles)}; every adapter query answering each of the Unavailable reasons")
    else:
        print(f"profiles: {len(profiles)}; pynvml functions: {len(faults.FUNCTIONS)}; fault kinds: "
              f"{len(faults.FAULT_KINDS)} ({len(faults.NVML_ERROR_CODES)} NVML error codes, "
              f"{len(faults.WRONG_VALUES)} wrong types, {len(faults.EXCEPTIONS)} exceptions, 1 hang)")
    print(f"combinations run: {totals['combos']} in {time.monotonic() - started:.1f} s "
          f"(slowest {slowest:.2f} s)")
    for what in ("crashes", "hangs", "claims beyond NVML's answers", "exit codes other than 0/1"):
        print(f"{what}: {totals[what]}")
    for (kind, function, text), count in problems.most_common(40):
        print(f"  {count:5d} {kind} {function}: {text}   e.g. {examples[(kind, function, text)]}")
    return 1 if problems or totals["hangs"] else 0


if __name__ == "__main__":
    sys.exit(main())
