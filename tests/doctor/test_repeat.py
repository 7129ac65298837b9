"""`gpubal debug repeat`: every fact that differs between runs of an unchanged host is printed."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

from gpubal.snapshot_file import snapshot_to_json
from gpubal.doctor.repeat import differences, render, split_by_nature
from helpers.paths import FIXTURES

FIXTURES = str(FIXTURES)


def test_a_link_that_changed_between_runs_is_named_with_each_value(h200x2_snapshot):
    first = json.loads(snapshot_to_json(h200x2_snapshot))
    second = copy.deepcopy(first)
    second["gpus"]["value"][0]["nvlinks"]["value"][3]["active"]["value"] = False
    second["collected_at"] = "2030-01-01T00:00:00+00:00"
    wrong, natural = split_by_nature(differences([first, first, second]))
    assert list(wrong) == ["gpus.value[0].nvlinks.value[3].active.value"]
    assert wrong["gpus.value[0].nvlinks.value[3].active.value"] == {"true": 2, "false": 1}
    assert list(natural) == ["collected_at"]
    text = render(3, [], wrong, natural)
    assert "1 facts differed between runs" in text and "2 x true" in text and "1 x false" in text


def test_a_link_missing_in_one_run_counts_as_absent(h200x2_snapshot):
    first = json.loads(snapshot_to_json(h200x2_snapshot))
    second = copy.deepcopy(first)
    del second["gpus"]["value"][1]["nvlinks"]["value"][17]
    wrong, _ = split_by_nature(differences([first, second]))
    assert wrong and all(values["(absent)"] == 1 for values in wrong.values())


def test_repeat_on_a_replay_finds_nothing_and_exits_0():
    done = subprocess.run([sys.executable, "-m", "gpubal", "debug", "repeat", "2", "--nvml-profile",
                           os.path.join(FIXTURES, "nvml", "h200x2.json"), "--root",
                           os.path.join(FIXTURES, "roots", "h200x2")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "2 collections in fresh processes, 0 failed" in done.stdout
    assert "no fact differed between runs" in done.stdout


def test_repeat_refuses_fewer_than_two_runs():
    done = subprocess.run([sys.executable, "-m", "gpubal", "debug", "repeat", "1"], capture_output=True, text=True)
    assert done.returncode == 2 and "at least 2" in done.stderr
