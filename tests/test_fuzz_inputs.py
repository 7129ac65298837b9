"""A short run of bench/fuzz_all.py in the suite: mutated `--from` dumps, `--snapshot` and `--policy` files,
`--nvml-profile` files and HTTP answers, each the way the CLI takes it. Every input is read or refused
with the CLI's one-line error; none escapes as an exception or runs past the hang limit."""

from __future__ import annotations

import importlib.util
import random

import pytest
from helpers.paths import REPO

BENCH = REPO / "bench" / "fuzz_all.py"
spec = importlib.util.spec_from_file_location("fuzz_all", BENCH)
fuzz_all = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fuzz_all)

INPUTS = {"from": 60, "snapshot": 40, "policy": 150, "nvml-profile": 40, "http": 60}


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_fuzzed_inputs_are_read_or_refused(name, tmp_path):
    target = fuzz_all.TARGETS[name](random.Random(f"ci-{name}"), tmp_path)
    stats, crashes, slowest = fuzz_all.run_target(target, INPUTS[name], tmp_path)
    assert not crashes, dict(crashes)
    assert stats["hangs"] == 0
    assert stats["accepted"] + stats["refused"] > 0
