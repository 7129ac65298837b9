"""Whatever NVML answers (a newer driver, a corrupted or hand-edited profile), collection ends in facts,
never in an exception: every recorded answer of the real profiles is replaced, one at a time and in
random combinations, by values of the wrong shape."""

from __future__ import annotations

import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpubal.doctor.collect import collect_snapshot
from gpubal.snapshot_file import snapshot_from_json, snapshot_to_json
from gpubal.doctor.probes.files import HostFiles
from gpubal.doctor.probes.nvml import ProfileError, ReplayAdapter
from helpers.paths import FIXTURES

PROFILES = {name: json.loads((FIXTURES / "nvml" / f"{name}.json").read_text()) for name in
            ("h200x2", "h200x1", "hgx8-h100-nvswitch", "a100-mig-instances", "rtx3090x2-nvlink-bridge")}
ROOTS = {"h200x2": "h200x2", "h200x1": "h200x1", "hgx8-h100-nvswitch": "hgx8-h100-nvswitch",
         "a100-mig-instances": "a100-mig", "rtx3090x2-nvlink-bridge": "rtx3090x2-nvlink-bridge"}

odd_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.text(max_size=12),
              st.sampled_from(["ffff:zz:00.0", "00000000:00:06.0", "", "NaN"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)


@st.composite
def damaged_profiles(draw):
    name = draw(st.sampled_from(sorted(PROFILES)))
    profile = copy.deepcopy(PROFILES[name])
    places = [("system", None, key) for key in profile["system"]]
    places += [("devices", index, key) for index, answers in enumerate(profile["devices"]) for key in answers]
    places += [("pairs", pair, key) for pair, answers in profile["pairs"].items() for key in answers]
    for section, where, key in draw(st.lists(st.sampled_from(places), min_size=1, max_size=8)):
        target = profile[section] if where is None else profile[section][where]
        target[key] = draw(odd_values)
    return name, profile


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_profiles())
def test_collection_survives_answers_of_the_wrong_shape(case):
    name, profile = case
    try:
        snapshot = collect_snapshot(ReplayAdapter(profile, name), HostFiles(str(FIXTURES / "roots" / ROOTS[name])))
    except ProfileError as error:
        # a recorded error with an unknown reason is a broken profile: bad input (exit 2), said in one line
        assert "error reason" in str(error)
        return
    assert snapshot_from_json(snapshot_to_json(snapshot)) == snapshot


@st.composite
def several_faults(draw):
    """Several pynvml functions failing at once, each its own way (tests/nvml_fault_injection.py has one at a time)."""
    import nvml_fault_injection as faults

    name = draw(st.sampled_from(["h200x2", "a100-mig-instances", "rtx3090x2-nvlink-bridge"]))
    count = len(faults.load_profile(name)["devices"])
    chosen = draw(st.lists(st.tuples(st.sampled_from(faults.FUNCTIONS),
                                     st.one_of(st.none(), st.integers(0, count - 1)),
                                     st.sampled_from([kind for kind in faults.FAULT_KINDS if kind != "hang"])),
                           min_size=2, max_size=6))
    return name, tuple(faults.Fault(*fault) for fault in chosen)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(several_faults())
def test_the_real_adapter_survives_several_faults_at_once(case):
    import nvml_fault_injection as faults

    from gpubal.doctor.engine import evaluate
    from gpubal.doctor.probes.nvml import PynvmlAdapter
    from gpubal.placement.advice import advise
    from gpubal.reports.json_report import render_json
    from gpubal.rules import all_rules

    name, chosen = case
    with faults.installed(faults.FakePynvml(faults.load_profile(name), chosen)):
        snapshot = collect_snapshot(PynvmlAdapter(), HostFiles(faults.root_of(name)), nvml_deadline_s=5)
    render_json(evaluate(snapshot, all_rules()))
    advise(snapshot)
    assert snapshot_from_json(snapshot_to_json(snapshot)) == snapshot
