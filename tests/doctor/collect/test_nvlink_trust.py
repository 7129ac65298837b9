"""Same host, same answer: NVLink facts that NVML got wrong under concurrency never become a warning.

The fault and its measurements: bench/results/nvml-concurrency-h200x2.json (real 2 x H200 NVSwitch host).
The adapters that reproduce it: tests/nvml_faults.py.
"""

from __future__ import annotations

import copy
import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from gpubal.doctor.collect import collect_snapshot
from gpubal.doctor.engine import evaluate
from gpubal.model import Known, Outcome, Reason, Unavailable
from gpubal.doctor.probes.files import HostFiles
from gpubal.doctor.probes.nvml import NVLINK_MAX_LINKS, ReplayAdapter
from gpubal.rules import all_rules
from nvml_faults import OverlapFaultAdapter, ScriptedLinkStates
from helpers.paths import FIXTURES

FIXTURES = str(FIXTURES)
GOOD = os.path.join(FIXTURES, "nvml", "h200x2.json")
BAD_RUN = os.path.join(FIXTURES, "nvml", "h200x2-live-bad-run.json")
ROOT = HostFiles(os.path.join(FIXTURES, "roots", "h200x2"))


def _profile(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _collect(nvml):
    return collect_snapshot(nvml, ROOT, origin="test")


def _up(gpu) -> int:
    return sum(1 for link in gpu.nvlinks.value if isinstance(link.active, Known) and link.active.value)


def _outcome(report, rule_id: str):
    return [result.outcome for result in report.results if result.rule_id == rule_id]


def test_the_fault_adapter_reproduces_the_measured_fault_when_link_states_overlap():
    nvml = OverlapFaultAdapter(ReplayAdapter(_profile(GOOD)))
    with ThreadPoolExecutor(max_workers=16) as pool:  # how the code before the fix asked
        answers = list(pool.map(lambda link: nvml.device(0, "nvlink_state", link), range(NVLINK_MAX_LINKS)))
    wrong = [a for a in answers if isinstance(a, Unavailable) and a.reason is Reason.NOT_SUPPORTED]
    assert wrong and nvml.wrong_answers == len(wrong)


@pytest.mark.parametrize("run", range(5))
def test_collection_never_overlaps_nvlink_queries_on_one_gpu(run):
    nvml = OverlapFaultAdapter(ReplayAdapter(_profile(GOOD)))
    snapshot = _collect(nvml)
    assert nvml.wrong_answers == 0
    assert [_up(gpu) for gpu in snapshot.gpus.value] == [18, 18]
    assert snapshot.pairs.value[0].nvlink_count == Known(18, snapshot.pairs.value[0].nvlink_count.source)


def test_a_wrong_first_sweep_is_asked_again_alone_and_corrected():
    """The recorded bad run (GPU 0 links 0 and 13-17 'not supported') first, then the truth."""
    bad, good = _profile(BAD_RUN)["devices"], _profile(GOOD)["devices"]
    snapshot = _collect(ScriptedLinkStates(ReplayAdapter(_profile(GOOD)), [bad, good]))
    gpu0 = snapshot.gpus.value[0]
    assert _up(gpu0) == 18
    assert "asked again alone" in gpu0.nvlinks.source and "0, 13-17" in gpu0.nvlinks.source
    assert "asked again" not in snapshot.gpus.value[1].nvlinks.source  # GPU 1 answered whole and agreed
    report = evaluate(snapshot, all_rules())
    assert _outcome(report, "nvlink-asymmetric") and all(o is Outcome.PASSED for o in _outcome(report, "nvlink-asymmetric"))


def test_answers_that_keep_changing_are_unavailable_and_not_judged():
    bad, good = _profile(BAD_RUN)["devices"], _profile(GOOD)["devices"]
    snapshot = _collect(ScriptedLinkStates(ReplayAdapter(_profile(GOOD)), [bad, good, bad]))
    nvlinks = snapshot.gpus.value[0].nvlinks
    assert isinstance(nvlinks, Unavailable) and nvlinks.reason is Reason.INCONSISTENT
    assert "differ" in nvlinks.detail and "(12 up, 0, 13-17 not supported)" in nvlinks.detail
    assert isinstance(snapshot.pairs.value[0].nvlink_count, Unavailable)
    report = evaluate(snapshot, all_rules())
    assert Outcome.FINDING not in _outcome(report, "nvlink-asymmetric")
    assert Outcome.NOT_EVALUATED in _outcome(report, "nvlink-asymmetric")


def test_a_gap_that_persists_on_a_gpu_with_known_links_is_not_judged():
    bad = _profile(BAD_RUN)["devices"]
    snapshot = _collect(ScriptedLinkStates(ReplayAdapter(_profile(GOOD)), [bad]))
    nvlinks = snapshot.gpus.value[0].nvlinks
    assert isinstance(nvlinks, Unavailable) and nvlinks.reason is Reason.INCONSISTENT
    assert "still" in nvlinks.detail and "NVIDIA H200 has 18 NVLinks" in nvlinks.detail


def test_a_real_inactive_link_that_answers_the_same_every_time_is_reported():
    profile = _profile(GOOD)
    for device in profile["devices"]:  # as the live recording has them (the converted captures lack them)
        device.update({f"nvlink_remote_device_type:{link}": 2 for link in range(NVLINK_MAX_LINKS)})
    profile["devices"][0]["nvlink_state:5"] = 0  # link 5 down, every time it is asked
    snapshot = _collect(ReplayAdapter(copy.deepcopy(profile)))
    gpu0 = snapshot.gpus.value[0]
    assert _up(gpu0) == 17 and "asked again alone" in gpu0.nvlinks.source
    report = evaluate(snapshot, all_rules())
    assert Outcome.FINDING in _outcome(report, "nvlink-asymmetric")


def test_a_gpu_whose_links_are_not_exposed_is_not_asked_again():
    profile = _profile(os.path.join(FIXTURES, "nvml", "h200x1.json"))
    snapshot = collect_snapshot(ReplayAdapter(profile), HostFiles(os.path.join(FIXTURES, "roots", "h200x1")))
    nvlinks = snapshot.gpus.value[0].nvlinks
    assert nvlinks == Known([], nvlinks.source) and "asked again" not in nvlinks.source


LIVE = os.path.join(FIXTURES, "nvml", "h200x2-live.json")


def test_the_live_recording_reads_as_nv18_through_nvswitch_without_doubt():
    """Recorded with the fixed collector on the real 2 x H200 host: what `nvidia-smi topo -m` says there."""
    snapshot = _collect(ReplayAdapter(_profile(LIVE)))
    assert [_up(gpu) for gpu in snapshot.gpus.value] == [18, 18]
    assert all("asked again" not in gpu.nvlinks.source for gpu in snapshot.gpus.value)
    pair = snapshot.pairs.value[0]
    assert (pair.nvlink_count.value, pair.nvlink_route.value) == (18, "nvswitch")
    report = evaluate(snapshot, all_rules())
    assert not [f for f in report.findings() if f.severity.value in ("error", "warning")]


@pytest.mark.parametrize("run", range(3))
def test_the_live_recording_under_the_fault_adapter_stays_nv18(run):
    nvml = OverlapFaultAdapter(ReplayAdapter(_profile(LIVE)))
    snapshot = _collect(nvml)
    assert nvml.wrong_answers == 0 and snapshot.pairs.value[0].nvlink_count.value == 18
