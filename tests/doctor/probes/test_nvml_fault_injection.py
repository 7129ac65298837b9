"""Faults injected under the real NVML adapter (tests/nvml_fault_injection.py): each NVML error code, answers of the
wrong type, exceptions and hangs, one function at a time, on one GPU or all. Whatever NVML does, gpubal
ends with a report and exit 0/1, and shows nothing as known that it did not read.

This is a seeded sample; bench/fault_sweep.py runs every combination and prints the numbers.
"""

from __future__ import annotations

import random

import pytest

import nvml_fault_injection as faults
from gpubal.doctor.collect import collect_snapshot
from gpubal.doctor.engine import evaluate
from gpubal.model import Known, Reason, Unavailable
from gpubal.doctor.probes.files import HostFiles
from gpubal.doctor.probes.nvml import PynvmlAdapter, ReplayAdapter
from gpubal.rules import all_rules


@pytest.mark.parametrize("name", faults.PROFILES)
def test_the_fake_library_answers_what_the_profile_recorded(name):
    """Without a fault, the real adapter over the fake library sees what the replay of the profile sees:
    so a difference under a fault comes from the fault."""
    profile = faults.load_profile(name)
    snapshot, _report, _code = faults._doctor(name, profile, None, 20.0)
    replayed = collect_snapshot(ReplayAdapter(profile, name), HostFiles(faults.root_of(name)))
    through_fake = dict(faults.known_leaves(snapshot))
    assert through_fake, "nothing was read"
    replayed_facts = dict(faults.known_leaves(replayed))
    if profile.get("samples"):
        # A balance recording holds what balance asks. The fake library answers the doctor's questions
        # from it too: utilization and processes now (from the first sample), and no NVLink for
        # links it lacks, where the replay says "not recorded".
        for facts in (through_fake, replayed_facts):
            for path in [path for path in facts if path.startswith(".processes") or "utilization_gpu_percent" in path
                         or "nvlinks" in path]:
                facts.pop(path)
    assert through_fake == replayed_facts


SAMPLE = {"h200x1": 110, "h200x2": 70, "a100-mig-instances": 30}


@pytest.mark.parametrize("name", sorted(SAMPLE))
def test_a_sample_of_faults_ends_in_a_report_that_claims_nothing_unread(name):
    everything = [fault for fault in faults.combos(name) if fault.kind != "hang"]
    chosen = random.Random(f"gpubal-{name}").sample(everything, SAMPLE[name])
    problems = []
    for number, fault in enumerate(chosen):
        result = faults.run_combo(name, fault, every_format=number % 10 == 0)
        if result.crash or result.hung or result.violations:
            problems.append(f"{fault.describe()}: {result.crash or ''} {result.violations[:3]}")
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("name", ["h200x2", "a100-mig-instances"])
def test_every_query_answering_unavailable_claims_nothing_unread(name):
    """The class test: for each query the adapter supports, an Unavailable answer never becomes a definite
    value or a passed check in the doctor, topo or balance. Here each query answers two reasons, taken in
    turn so that every reason is asked of many queries; bench/fault_sweep.py --unavailable asks every
    reason of every query, on every GPU at once and on each alone."""
    problems = []
    everything = [fault for fault in faults.unavailable_combos(name) if fault.gpu is None]
    queries = sorted({fault.query for fault in everything})
    reasons = sorted({fault.reason for fault in everything}, key=lambda reason: reason.value)
    chosen = [fault for fault in everything for turn in (0, 3)
              if fault.reason is reasons[(queries.index(fault.query) + turn) % len(reasons)]]
    assert {fault.reason for fault in chosen} == set(reasons)
    for fault in chosen:
        result = faults.run_combo(name, fault, every_format=False)
        if result.crash or result.hung or result.violations:
            problems.append(f"{fault.describe()}: {result.crash or ''} {result.violations[:3]}")
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("function", ["nvmlDeviceGetMemoryInfo", "nvmlDeviceGetNvLinkState", "nvmlShutdown",
                                      "nvmlDeviceGetCount"])
def test_a_hung_call_ends_in_a_report_within_the_deadline(function):
    result = faults.run_combo("h200x2", faults.Fault(function, None, "hang"), every_format=False)
    assert not result.crash and not result.violations, (result.crash, result.violations[:3])
    assert result.seconds < 5


def _doctor(name, fault):
    snapshot, report, _code = faults._doctor(name, faults.load_profile(name), fault, 5.0)
    return snapshot, report


def _outcome(report, rule_id):
    return {result.subject: result.outcome.value for result in report.results if result.rule_id == rule_id}


# --- answers of the wrong type -------------------------------------------------------------------------


def _adapter(fault, name="h200x1"):
    fake = faults.FakePynvml(faults.load_profile(name), fault)
    adapter = PynvmlAdapter()
    with faults.installed(fake):
        assert adapter.start() is None
    adapter._nvml = fake
    return adapter


def test_none_for_a_pcie_width_is_unavailable_not_a_crash():
    adapter = _adapter(faults.Fault("nvmlDeviceGetCurrPcieLinkWidth", None, "wrong:none"))
    answer = adapter.device(0, "pcie_link_width_current")
    assert isinstance(answer, Unavailable) and answer.reason is Reason.ERROR


def test_text_for_a_number_is_not_read_as_that_number():
    adapter = _adapter(faults.Fault("nvmlDeviceGetCurrPcieLinkWidth", None, "wrong:text"))
    assert isinstance(adapter.device(0, "pcie_link_width_current"), Unavailable)


def test_a_number_wider_than_nvml_sends_is_not_read():
    # before: 2**70 for a link generation was kept, and the snapshot it went into could not be read back
    adapter = _adapter(faults.Fault("nvmlDeviceGetCurrPcieLinkGeneration", None, "wrong:huge"))
    assert isinstance(adapter.device(0, "pcie_link_gen_current"), Unavailable)


@pytest.mark.parametrize("query,function", [("name", "nvmlDeviceGetName"), ("uuid", "nvmlDeviceGetUUID"),
                                            ("vbios_version", "nvmlDeviceGetVbiosVersion")])
def test_none_for_a_name_or_uuid_is_not_the_text_none(query, function):
    adapter = _adapter(faults.Fault(function, None, "wrong:none"))
    assert isinstance(adapter.device(0, query), Unavailable)


def test_an_exception_from_nvml_init_is_a_reason():
    fake = faults.FakePynvml(faults.load_profile("h200x1"), faults.Fault("nvmlInit", None, "raise:RuntimeError"))
    with faults.installed(fake):
        failure = PynvmlAdapter().start()
    assert isinstance(failure, Unavailable) and failure.reason is Reason.ERROR and failure.source == "nvmlInit"


# --- unknown shown as known ----------------------------------------------------------------------------


def test_driver_not_loaded_from_a_mig_handle_is_not_an_empty_slot():
    snapshot, report = _doctor("a100-mig-instances",
                               faults.Fault("nvmlDeviceGetMigDeviceHandleByIndex", None, "error:9"))
    instances = snapshot.gpu_list()[0].mig_instances
    assert isinstance(instances, Unavailable)
    assert _outcome(report, "mig-enabled-without-instances") == {"gpu:0": "not_evaluated"}


def test_a_failed_fabric_query_with_unknown_remote_types_leaves_the_nvlink_count_unknown():
    # h200x2 was recorded without remote device types; its NVSwitch links show only through the fabric state
    snapshot, _report = _doctor("h200x2", faults.Fault("nvmlDeviceGetGpuFabricInfoV", 1, "error:999"))
    [pair] = snapshot.pairs.value
    assert isinstance(pair.nvlink_count, Unavailable)


def test_nccl_p2p_rule_is_not_passed_when_nvlink_is_unknown(h200x2_snapshot):
    from helpers import unavailable, with_pair, with_stack

    from gpubal.rules.nccl_p2p_disabled_with_nvlink import nccl_p2p_disabled_with_nvlink

    environment = {**h200x2_snapshot.stack.environment.value, "NCCL_P2P_DISABLE": "1"}
    snapshot = with_stack(h200x2_snapshot, environment=Known(environment, "test"))
    snapshot = with_pair(snapshot, 0, 1, nvlink_count=unavailable(Reason.ERROR))
    [result] = evaluate(snapshot, [nccl_p2p_disabled_with_nvlink]).results
    assert result.outcome.value == "not_evaluated"


def _topo_text(snapshot):
    import io

    from rich.console import Console

    from gpubal.placement.advice import advise
    from gpubal.reports.topo import render_topo_terminal

    buffer = io.StringIO()
    render_topo_terminal(advise(snapshot), Console(file=buffer, width=200, no_color=True))
    return buffer.getvalue()


def test_topo_does_not_call_an_unreadable_nvlink_count_none(h200x2_snapshot):
    from helpers import unavailable, with_pair

    text = _topo_text(with_pair(h200x2_snapshot, 0, 1, nvlink_count=unavailable(Reason.ERROR)))
    assert "no two GPUs share NVLink" not in text
    assert "NVLink unknown between GPU 0-GPU 1" in text
    assert "NV?" in text


def test_topo_does_not_warn_of_crossing_sockets_over_an_unknown_path(h200x2_snapshot):
    from helpers import unavailable, with_pair

    snapshot = with_pair(h200x2_snapshot, 0, 1, pcie_path=unavailable(Reason.ERROR),
                         nvlink_count=Known(0, "test"), nvlink_route=Known("none", "test"))
    text = _topo_text(snapshot)
    assert "CPU sockets" not in text
    assert "did not say how some of these GPUs are connected" in text
    snapshot = with_pair(h200x2_snapshot, 0, 1, pcie_path=unavailable(Reason.ERROR))  # NVLink, path unknown
    assert "CPU sockets" not in _topo_text(snapshot)


def test_a_lost_handle_is_not_a_gpu_without_nvlinks():
    snapshot, _report = _doctor("h200x2", faults.Fault("nvmlDeviceGetHandleByIndex", 1, "error:6"))
    assert isinstance(snapshot.gpu_list()[1].nvlinks, Unavailable)


# --- deadlines -----------------------------------------------------------------------------------------


def test_balance_ends_when_an_nvml_call_hangs():
    import time

    started = time.monotonic()
    result = faults.run_combo("both-busy", faults.Fault("nvmlDeviceGetUtilizationRates", 1, "hang"),
                              every_format=False)
    assert not result.crash, result.crash
    assert time.monotonic() - started < 5


def test_balance_imbalance_is_unknown_when_one_gpus_utilization_is():
    # before: the spread over the one GPU that answered was 0.0, "perfectly even", and passed --max-imbalance
    profile = faults.load_profile("both-busy")
    _recording, report = faults._balance("both-busy", profile,
                                         faults.Fault("nvmlDeviceGetUtilizationRates", 1, "error:3"))
    assert isinstance(report.imbalance.stddev_points, Unavailable)
    assert "GPU 1" in report.imbalance.stddev_points.detail
    assert isinstance(report.imbalance.concurrency, Unavailable)


def test_a_replayed_none_name_is_not_the_text_none_in_balance():
    from gpubal.balance.sampler import Sampler, VirtualClock
    from gpubal.doctor.probes.files import HostFiles

    profile = faults.load_profile("both-busy")
    profile["devices"][0]["name"] = None
    profile["devices"][0]["uuid"] = None
    clock = VirtualClock()
    sampler = Sampler(ReplayAdapter(profile, "both-busy"), HostFiles(faults.root_of("both-busy")),
                      lambda url, timeout: Unavailable(Reason.NOT_FOUND, url), Unavailable(Reason.NOT_FOUND, "x"),
                      clock=clock, sleep=clock.sleep)
    gpu = sampler.gpus()[0]
    assert isinstance(gpu.name, Unavailable) and isinstance(gpu.uuid, Unavailable)


@pytest.mark.parametrize("fault", [
    faults.Fault("nvmlDeviceGetNvLinkState", 0, "error:9"),  # driver not loaded: not "this GPU has no link"
    faults.Fault("nvmlDeviceGetNvLinkState", 1, "error:28"),
    faults.Fault("nvmlDeviceGetEccMode", None, "wrong:bytes"),  # b"\xff\xfe"[0] is 255: bytes are no pair
    faults.Fault("nvmlDeviceGetCpuAffinity", None, "wrong:empty_tuple"),  # no words is no CPU list
    faults.Fault("nvmlDeviceGetMemoryAffinity", 0, "wrong:empty_tuple"),
    faults.Fault("nvmlSystemGetCudaDriverVersion_v2", None, "wrong:huge"),
    faults.Fault("nvmlDeviceGetTopologyCommonAncestor", None, "wrong:huge"),
])
def test_faults_the_full_sweep_found_claim_nothing(fault):
    result = faults.run_combo("h200x2", fault, every_format=False)
    assert not result.crash and not result.violations, (result.crash, result.violations[:3])


def test_the_vbios_version_comes_through_the_choke_point_as_text_or_a_reason():
    adapter = _adapter(None, "h200x2")
    assert adapter.device(1, "vbios_version") == "96.00.A5.00.1A"
    refused = _adapter(faults.Fault("nvmlDeviceGetVbiosVersion", 1, "error:3"), "h200x2").device(1, "vbios_version")
    assert isinstance(refused, Unavailable) and refused.reason is Reason.NOT_SUPPORTED
    assert refused.source == "nvmlDeviceGetVbiosVersion"
