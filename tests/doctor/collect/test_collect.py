"""Collecting snapshots from NVML profiles and host file trees: the facts an expert reads from each host.

Profiles: h200x1 and h200x2 are real (recorded / converted from real captures); the others are hand-written
by tests/fixtures/make_profiles.py, each saying in its description what hardware it models.
"""

from __future__ import annotations

import functools
import json
import os
import types
from typing import Dict, List, Tuple

import pytest

from gpubal.doctor.collect import collect_snapshot
from gpubal.model import GpuPair, Known, Reason, Snapshot, Unavailable
from gpubal.snapshot_file import snapshot_from_json, snapshot_to_json, to_jsonable
from gpubal.doctor.probes.files import HostFiles
from gpubal.doctor.probes.nvml import DEVICE_QUERIES, LATER_QUERIES, NVLINK_MAX_LINKS, PynvmlAdapter, RecordingAdapter, ReplayAdapter
from gpubal.reports.summary import link_label
from helpers.paths import FIXTURES

FIXTURES = str(FIXTURES)
MIB = 1 << 20

# profile -> host file tree
ROOTS = {
    "h200x1": "h200x1",
    "h200x2": "h200x2",
    "hgx8-h100-nvswitch": "hgx8-h100-nvswitch",
    "pcie4-l40s-2numa": "pcie4-l40s-2numa",
    "rtx3090x2-nvlink-bridge": "rtx3090x2-nvlink-bridge",
    "a100-mig-instances": "a100-mig",
    "a100-mig-no-instances": "a100-mig",
    "a100-mig-pending": "a100-mig",
    "lost-gpu": "lost-gpu",
    "old-driver-470": "old-driver-470",
    "mixed-h100-a100": "mixed-h100-a100",
    "no-driver": "no-driver",
    "version-mismatch": "version-mismatch",
    "downtrained": "downtrained",
}
HAND_WRITTEN = [name for name in ROOTS if name not in ("h200x1", "h200x2")]


def profile_path(name: str) -> str:
    return os.path.join(FIXTURES, "nvml", f"{name}.json")


def files(name: str) -> HostFiles:
    return HostFiles(os.path.join(FIXTURES, "roots", ROOTS[name]))


@functools.lru_cache(maxsize=None)
def snap(name: str) -> Snapshot:
    return collect_snapshot(ReplayAdapter.from_file(profile_path(name)), files(name), origin=f"nvml-profile:{name}")


def value(fact):
    assert isinstance(fact, Known), f"expected a known fact, got {fact}"
    return fact.value


def gpus(name: str):
    return value(snap(name).gpus)


def pairs(name: str) -> Dict[Tuple[int, int], GpuPair]:
    return {(p.gpu_a, p.gpu_b): p for p in value(snap(name).pairs)}


def labels(name: str) -> Dict[Tuple[int, int], str]:
    return {key: link_label(p) for key, p in pairs(name).items()}


def routes(name: str) -> Dict[Tuple[int, int], str]:
    return {key: value(p.nvlink_route) for key, p in pairs(name).items()}


def unavailable(fact, reason: Reason) -> Unavailable:
    assert isinstance(fact, Unavailable), f"expected unavailable ({reason.value}), got {fact}"
    assert fact.reason is reason, fact
    return fact


def comparable(snapshot: Snapshot):
    data = to_jsonable(snapshot)
    del data["collected_at"], data["origin"]
    return data


# --- the profiles themselves -------------------------------------------------------------------------


@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_hand_written_profile_says_so(name):
    description = json.load(open(profile_path(name)))["description"]
    assert description.startswith("Hand-written, not recorded. Models ")


@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_hand_written_profile_answers_every_device_query(name):
    for device in json.load(open(profile_path(name)))["devices"]:
        if "handle" in device:
            continue
        plain = {q for q in DEVICE_QUERIES if not q.startswith("nvlink_")} - set(LATER_QUERIES)
        assert plain <= set(device)
        assert not set(LATER_QUERIES) & set(device)  # no host gave them: the replay says not recorded
        assert {f"nvlink_state:{n}" for n in range(NVLINK_MAX_LINKS)} <= set(device)
        for n in range(NVLINK_MAX_LINKS):
            if not isinstance(device[f"nvlink_state:{n}"], dict):
                assert {f"{q}:{n}" for q in ("nvlink_version", "nvlink_remote_pci", "nvlink_remote_device_type")} \
                    <= set(device)


def test_make_profiles_output_is_committed_as_generated():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_profiles", os.path.join(FIXTURES, "make_profiles.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, data in module.build().items():
        assert json.load(open(profile_path(name))) == json.loads(json.dumps(data)), name


@pytest.mark.parametrize("name", list(ROOTS))
def test_no_fact_is_missing_from_the_profile(name):
    """Nothing reads 'not recorded': every query the collectors ask is in the profile (but what ran on the
    host at that moment: MOMENT_QUERIES, which profiles need not hold; and LATER_QUERIES, which profiles
    recorded or written before gpubal asked them lack)."""
    data = json.loads(snapshot_to_json(snap(name)))
    data.pop("processes")
    for gpu in data["gpus"].get("value", []):
        gpu.pop("utilization_gpu_percent")
        gpu.pop("vbios_version")
        gpu.pop("display_active")
    assert "not recorded in" not in json.dumps(data)


# --- real hosts --------------------------------------------------------------------------------------


def test_the_vbios_version_is_the_one_the_h200x2_host_gave():
    # nvml-dump.json's nvmlDeviceGetVbiosVersion, the same as its nvidia-smi -q "VBIOS Version"
    assert [(value(gpu.vbios_version), gpu.vbios_version.source) for gpu in gpus("h200x2")] == \
        [("96.00.A5.00.1A", "nvmlDeviceGetVbiosVersion")] * 2


@pytest.mark.parametrize("name", ["h200x1", "h200x2-live", "hgx8-h100-nvswitch"])
def test_a_profile_made_before_gpubal_read_the_vbios_says_it_was_not_recorded(name):
    for gpu in value(collect_snapshot(ReplayAdapter.from_file(profile_path(name)), files("h200x1")).gpus):
        fact = gpu.vbios_version
        assert isinstance(fact, Unavailable) and fact.reason is Reason.NOT_FOUND, fact
        assert fact.detail == f"not recorded in {name}.json"


def test_a_snapshot_written_before_the_vbios_version_loads_with_it_not_in_input():
    data = json.loads(snapshot_to_json(snap("h200x2")))
    for gpu in data["gpus"]["value"]:
        del gpu["vbios_version"]
    fact = snapshot_from_json(json.dumps(data)).gpu_list()[0].vbios_version
    assert isinstance(fact, Unavailable) and fact.reason is Reason.NOT_IN_INPUT


def test_h200x1_one_h200_with_141_gb():
    assert [(value(g.name), value(g.memory_total_bytes)) for g in gpus("h200x1")] == [("NVIDIA H200", 150754820096)]


def test_h200x1_vm_without_nvlink_or_fabric():
    gpu = gpus("h200x1")[0]
    assert value(gpu.nvlinks) == []
    assert value(gpu.fabric_state) == "not_supported"
    assert value(gpu.virtualization_mode) == "passthrough"
    assert value(snap("h200x1").pairs) == []


def test_h200x1_numa_from_nvml_when_sysfs_gives_none():
    gpu = gpus("h200x1")[0]
    assert value(gpu.numa_node_sysfs) == -1
    assert (value(gpu.numa_node), value(gpu.cpu_affinity)) == (0, "0-15")


def test_h200x2_two_h200():
    assert [value(g.name) for g in gpus("h200x2")] == ["NVIDIA H200"] * 2
    assert [value(g.pci_bus_id) for g in gpus("h200x2")] == ["00000000:00:06.0", "00000000:00:07.0"]


def test_h200x2_nv18_through_nvswitch_without_remote_device_type():
    """The capture lacks the remote device type; FFFFFFFF:FF:FF.0 ends and a completed fabric say NVSwitch."""
    assert labels("h200x2") == {(0, 1): "NV18"}
    assert routes("h200x2") == {(0, 1): "nvswitch"}
    unavailable(value(gpus("h200x2")[0].nvlinks)[0].remote_device_type, Reason.NOT_FOUND)


def test_h200x2_fabric_completed():
    assert [(value(g.fabric_state), value(g.fabric_status)) for g in gpus("h200x2")] == [("completed", "success")] * 2


def test_h200x2_p2p_ok_except_over_pcie():
    pair = pairs("h200x2")[(0, 1)]
    assert [value(f) for f in (pair.p2p_read, pair.p2p_write, pair.p2p_nvlink, pair.p2p_atomics, pair.p2p_pcie)] \
        == ["ok", "ok", "ok", "ok", "not_supported"]


# --- HGX H100, 8 GPUs on NVSwitch, two sockets -------------------------------------------------------


def test_hgx8_eight_h100_80gb():
    assert [value(g.name) for g in gpus("hgx8-h100-nvswitch")] == ["NVIDIA H100 80GB HBM3"] * 8
    assert {value(g.memory_total_bytes) for g in gpus("hgx8-h100-nvswitch")} == {81559 * MIB}
    assert {value(g.compute_capability) for g in gpus("hgx8-h100-nvswitch")} == {"9.0"}


def test_hgx8_every_pair_nv18_through_nvswitch():
    assert len(pairs("hgx8-h100-nvswitch")) == 28
    assert set(labels("hgx8-h100-nvswitch").values()) == {"NV18"}
    assert set(routes("hgx8-h100-nvswitch").values()) == {"nvswitch"}


def test_hgx8_pcie_path_node_within_a_socket_sys_across():
    paths = {key: value(p.pcie_path) for key, p in pairs("hgx8-h100-nvswitch").items()}
    assert paths[(0, 3)] == "NODE" and paths[(4, 7)] == "NODE"
    assert paths[(0, 4)] == "SYS" and paths[(3, 7)] == "SYS"
    assert {key for key, path in paths.items() if path == "SYS"} == {(a, b) for a in range(4) for b in range(4, 8)}


def test_hgx8_numa_node_and_cpus_per_gpu():
    got = [(value(g.numa_node), value(g.cpu_affinity)) for g in gpus("hgx8-h100-nvswitch")]
    assert got == [(0, "0-55,112-167")] * 4 + [(1, "56-111,168-223")] * 4


def test_hgx8_sysfs_found_from_uppercase_nvml_bus_id():
    gpu = gpus("hgx8-h100-nvswitch")[0]
    assert value(gpu.pci_bus_id) == "00000000:1B:00.0"
    assert gpu.numa_node_sysfs == Known(0, "/sys/bus/pci/devices/0000:1b:00.0/numa_node")
    assert gpu.numa_node.source == "/sys/bus/pci/devices/0000:1b:00.0/numa_node"  # sysfs and NVML agree


def test_hgx8_links_go_to_nvswitch():
    links = value(gpus("hgx8-h100-nvswitch")[5].nvlinks)
    assert [link.link for link in links] == list(range(18))
    assert {(value(l.active), value(l.version), value(l.remote_device_type)) for l in links} == {(True, 6, "nvswitch")}
    assert {value(l.remote_pci_bus_id) for l in links} == {f"00000000:0{n}:00.0" for n in (5, 6, 7, 8)}


def test_hgx8_fabric_completed_on_every_gpu():
    assert {(value(g.fabric_state), value(g.fabric_status)) for g in gpus("hgx8-h100-nvswitch")} \
        == {("completed", "success")}


def test_hgx8_p2p_all_ok():
    statuses = {value(f) for p in pairs("hgx8-h100-nvswitch").values()
                for f in (p.p2p_read, p.p2p_write, p.p2p_nvlink, p.p2p_atomics, p.p2p_pcie)}
    assert statuses == {"ok"}


def test_hgx8_host_two_numa_nodes_224_cpus():
    host = snap("hgx8-h100-nvswitch").host
    assert value(host.cpu_count) == 224
    assert [(n.node_id, n.cpu_list) for n in value(host.numa_nodes)] == [(0, "0-55,112-167"), (1, "56-111,168-223")]
    assert value(host.virtualization) == "none"


def test_hgx8_driver_and_persistenced():
    driver = snap("hgx8-h100-nvswitch").driver
    assert (value(driver.version), value(driver.cuda_driver_version)) == ("550.90.07", "12.4")
    assert (value(driver.kernel_module_version), value(driver.kernel_module_flavor)) == ("550.90.07", "open")
    assert driver.persistenced_running == Known(True, "/proc/2714/comm")


# --- PCIe L40S, two sockets ---------------------------------------------------------------------------


def test_l40s_four_ada_gpus():
    got = {(value(g.name), value(g.architecture), value(g.compute_capability), value(g.memory_total_bytes))
           for g in gpus("pcie4-l40s-2numa")}
    assert got == {("NVIDIA L40S", "ada", "8.9", 46068 * MIB)}
    assert len(gpus("pcie4-l40s-2numa")) == 4


def test_l40s_pxb_behind_a_switch_sys_across_sockets():
    assert labels("pcie4-l40s-2numa") == {(0, 1): "PXB", (2, 3): "PXB", (0, 2): "SYS", (0, 3): "SYS",
                                          (1, 2): "SYS", (1, 3): "SYS"}


def test_l40s_no_nvlink():
    assert [value(g.nvlinks) for g in gpus("pcie4-l40s-2numa")] == [[]] * 4
    assert set(routes("pcie4-l40s-2numa").values()) == {"none"}
    assert {value(p.nvlink_count) for p in pairs("pcie4-l40s-2numa").values()} == {0}


def test_l40s_p2p_topology_not_supported_across_sockets():
    p = pairs("pcie4-l40s-2numa")
    assert (value(p[(0, 2)].p2p_read), value(p[(0, 2)].p2p_write), value(p[(0, 2)].p2p_nvlink)) \
        == ("topology_not_supported", "topology_not_supported", "not_supported")
    assert (value(p[(0, 1)].p2p_read), value(p[(0, 1)].p2p_write)) == ("ok", "ok")


def test_l40s_fabric_info_not_supported():
    for gpu in gpus("pcie4-l40s-2numa"):
        unavailable(gpu.fabric_state, Reason.NOT_SUPPORTED)
        unavailable(gpu.mig_enabled_current, Reason.NOT_SUPPORTED)


def test_l40s_numa_and_cpus_per_gpu():
    got = [(value(g.numa_node), value(g.cpu_affinity)) for g in gpus("pcie4-l40s-2numa")]
    assert got == [(0, "0-31,64-95")] * 2 + [(1, "32-63,96-127")] * 2


def test_l40s_persistence_on():
    assert [value(g.persistence_mode) for g in gpus("pcie4-l40s-2numa")] == [True] * 4


# --- RTX 3090 pair with an NVLink bridge --------------------------------------------------------------


def test_rtx3090_nv4_direct():
    assert labels("rtx3090x2-nvlink-bridge") == {(0, 1): "NV4"}
    assert routes("rtx3090x2-nvlink-bridge") == {(0, 1): "direct"}
    assert value(pairs("rtx3090x2-nvlink-bridge")[(0, 1)].pcie_path) == "PHB"


def test_rtx3090_links_point_at_each_other():
    first, second = gpus("rtx3090x2-nvlink-bridge")
    for gpu, other in ((first, second), (second, first)):
        links = value(gpu.nvlinks)
        assert [link.link for link in links] == [0, 1, 2, 3]
        assert {(value(l.remote_pci_bus_id), value(l.remote_device_type), value(l.version)) for l in links} \
            == {(value(other.pci_bus_id), "gpu", 4)}


def test_rtx3090_geforce_lacks_ecc_serial_and_persistence():
    for gpu in gpus("rtx3090x2-nvlink-bridge"):
        unavailable(gpu.ecc_enabled_current, Reason.NOT_SUPPORTED)
        unavailable(gpu.serial, Reason.NOT_SUPPORTED)
        assert value(gpu.persistence_mode) is False
        assert (value(gpu.architecture), value(gpu.compute_capability)) == ("ampere", "8.6")
        assert value(gpu.memory_total_bytes) == 24 * 2**30


def test_rtx3090_numa_from_nvml_when_firmware_gives_none():
    for gpu in gpus("rtx3090x2-nvlink-bridge"):
        assert value(gpu.numa_node_sysfs) == -1
        assert gpu.numa_node == Known(0, "nvmlDeviceGetMemoryAffinity")
        assert value(gpu.cpu_affinity) == "0-63"


def test_rtx3090_idle_link_at_gen1():
    gpu = gpus("rtx3090x2-nvlink-bridge")[0]
    assert (value(gpu.pcie_link_gen_current), value(gpu.pcie_link_gen_max)) == (1, 4)
    assert value(gpu.clock_event_reasons) == ["gpu_idle"]


# --- A100 MIG -----------------------------------------------------------------------------------------


def test_a100_mig_on_with_two_instances():
    gpu = gpus("a100-mig-instances")[0]
    assert (value(gpu.mig_enabled_current), value(gpu.mig_enabled_pending)) == (True, True)
    instances = value(gpu.mig_instances)
    assert [(i.gpu_instance_id, i.compute_instance_id, i.memory_total_bytes) for i in instances] \
        == [(1, 0, 40192 * MIB), (2, 0, 40192 * MIB)]
    assert all(i.uuid.startswith("MIG-") for i in instances)
    assert instances[0].uuid != instances[1].uuid


def test_a100_mig_on_without_instances():
    gpu = gpus("a100-mig-no-instances")[0]
    assert value(gpu.mig_enabled_current) is True
    assert gpu.mig_instances == Known([], "nvmlDeviceGetMigDeviceHandleByIndex")


def test_a100_mig_pending_reset():
    gpu = gpus("a100-mig-pending")[0]
    assert (value(gpu.mig_enabled_current), value(gpu.mig_enabled_pending)) == (False, True)
    assert gpu.mig_instances == Known([], "nvmlDeviceGetMigMode (MIG disabled)")


def test_a100_vm_pass_through():
    assert value(snap("a100-mig-instances").host.virtualization) == "kvm"
    assert value(gpus("a100-mig-instances")[0].virtualization_mode) == "passthrough"
    assert value(gpus("a100-mig-instances")[0].name) == "NVIDIA A100-SXM4-80GB"


# --- lost GPU -----------------------------------------------------------------------------------------


def test_lost_gpu_facts_are_gpu_lost():
    lost = gpus("lost-gpu")[1]
    for fact in (lost.name, lost.uuid, lost.pci_bus_id, lost.memory_total_bytes, lost.nvlinks, lost.mig_instances,
                 lost.fabric_state, lost.pcie_link_width_current):
        assert unavailable(fact, Reason.GPU_LOST).detail == "GPU is lost (NVML_ERROR_GPU_IS_LOST)"


def test_lost_gpu_sysfs_facts_keep_the_reason():
    """The lost GPU's bus id is unknown, so are its sysfs NUMA facts: because it is lost, not 'not found'."""
    lost = gpus("lost-gpu")[1]
    for fact in (lost.numa_node_sysfs, lost.cpu_affinity_sysfs, lost.numa_node, lost.cpu_affinity):
        unavailable(fact, Reason.GPU_LOST)


def test_lost_gpu_other_gpu_still_read():
    healthy = gpus("lost-gpu")[0]
    assert (value(healthy.name), value(healthy.numa_node), value(healthy.cpu_affinity)) \
        == ("NVIDIA A100 80GB PCIe", 0, "0-31,64-95")
    assert value(snap("lost-gpu").driver.device_count) == 2


def test_lost_gpu_pair_is_gpu_lost():
    pair = pairs("lost-gpu")[(0, 1)]
    for fact in (pair.pcie_path, pair.nvlink_route, pair.nvlink_count, pair.p2p_read):
        unavailable(fact, Reason.GPU_LOST)
    assert link_label(pair) == "?"


# --- old driver ---------------------------------------------------------------------------------------


def test_old_driver_versions():
    driver = snap("old-driver-470").driver
    assert (value(driver.version), value(driver.cuda_driver_version), value(driver.nvml_version)) \
        == ("470.223.02", "11.4", "11.470.223.02")
    assert (value(driver.kernel_module_version), value(driver.kernel_module_flavor)) == ("470.223.02", "proprietary")


def test_old_driver_newer_calls_are_api_missing():
    for gpu in gpus("old-driver-470"):
        unavailable(gpu.fabric_state, Reason.API_MISSING)
        unavailable(gpu.fabric_status, Reason.API_MISSING)
        unavailable(gpu.pcie_link_gen_device_max, Reason.API_MISSING)
        for link in value(gpu.nvlinks):
            unavailable(link.remote_device_type, Reason.API_MISSING)


def test_old_driver_older_calls_still_answer():
    gpu = gpus("old-driver-470")[0]
    assert value(gpu.clock_event_reasons) == ["gpu_idle"]
    assert value(gpu.pcie_link_gen_max) == 3
    assert value(gpu.retired_pages_pending) is False
    unavailable(gpu.remapped_rows_pending, Reason.NOT_SUPPORTED)


def test_old_driver_nvlink_mesh_nv2_direct():
    """Without the remote device type, the remote bus ids still find the two links between the GPUs."""
    assert labels("old-driver-470") == {(0, 1): "NV2"}
    assert routes("old-driver-470") == {(0, 1): "direct"}
    assert [len(value(g.nvlinks)) for g in gpus("old-driver-470")] == [6, 6]


def test_old_driver_volta():
    assert {(value(g.name), value(g.architecture), value(g.compute_capability)) for g in gpus("old-driver-470")} \
        == {("Tesla V100-SXM2-32GB", "volta", "7.0")}


def test_old_driver_container_hides_persistenced():
    snapshot = snap("old-driver-470")
    assert value(snapshot.host.container) == "docker"
    unavailable(snapshot.driver.persistenced_running, Reason.NOT_FOUND)


# --- mixed GPUs, downtrained link ---------------------------------------------------------------------


def test_mixed_names_memory_and_architectures():
    got = [(value(g.name), value(g.memory_total_bytes), value(g.architecture)) for g in gpus("mixed-h100-a100")]
    assert got == [("NVIDIA H100 PCIe", 81559 * MIB, "hopper"), ("NVIDIA A100-PCIE-40GB", 40536 * MIB, "ampere")]


def test_mixed_phb_no_nvlink():
    assert labels("mixed-h100-a100") == {(0, 1): "PHB"}
    assert routes("mixed-h100-a100") == {(0, 1): "none"}
    assert value(pairs("mixed-h100-a100")[(0, 1)].p2p_read) == "gpu_not_supported"


def test_downtrained_link_x8_of_x16_while_busy():
    gpu = gpus("downtrained")[0]
    assert (value(gpu.pcie_link_width_current), value(gpu.pcie_link_width_max)) == (8, 16)
    assert (value(gpu.pcie_link_gen_current), value(gpu.pcie_link_gen_max)) == (5, 5)
    assert value(gpu.clock_event_reasons) == []


def test_downtrained_replays_and_pending_remap():
    gpu = gpus("downtrained")[0]
    assert value(gpu.pcie_replay_count) == 250
    assert (value(gpu.remapped_rows_pending), value(gpu.remapped_rows_failed)) == (True, False)


# --- no driver ----------------------------------------------------------------------------------------


def test_no_driver_gpus_unavailable():
    snapshot = snap("no-driver")
    for fact in (snapshot.gpus, snapshot.pairs, snapshot.driver.nvml_status, snapshot.driver.version,
                 snapshot.driver.device_count):
        assert unavailable(fact, Reason.NOT_FOUND).source == "nvmlInit"


def test_no_driver_no_kernel_module_or_uvm():
    driver = snap("no-driver").driver
    unavailable(driver.kernel_module_version, Reason.NOT_FOUND)
    assert driver.uvm_module_loaded == Known(False, "/proc/modules")
    assert value(driver.uvm_device_present) is False


def test_version_mismatch_nvml_error_with_loaded_module():
    snapshot = snap("version-mismatch")
    failure = unavailable(snapshot.gpus, Reason.ERROR)
    assert "NVML_ERROR_LIB_RM_VERSION_MISMATCH" in failure.detail
    assert value(snapshot.driver.kernel_module_version) == "535.183.01"


# --- snapshots round-trip -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ROOTS))
def test_snapshot_round_trips_through_json(name):
    assert snapshot_from_json(snapshot_to_json(snap(name))) == snap(name)


@pytest.mark.parametrize("name", list(ROOTS))
def test_recorded_profile_replays_to_the_same_snapshot(name, tmp_path):
    recorder = RecordingAdapter(ReplayAdapter.from_file(profile_path(name)))
    recorded_live = collect_snapshot(recorder, files(name))
    path = tmp_path / "recorded.json"
    path.write_text(json.dumps(recorder.profile("recorded in a test")))
    replayed = collect_snapshot(ReplayAdapter.from_file(str(path)), files(name))
    assert comparable(replayed) == comparable(recorded_live) == comparable(snap(name))


# --- the real adapter, without a GPU ------------------------------------------------------------------


def _nvml_loads() -> bool:
    import pynvml

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    pynvml.nvmlShutdown()
    return True


@pytest.mark.skipif(_nvml_loads(), reason="this machine has a working NVML")
def test_pynvml_start_without_library_is_not_found():
    failure = PynvmlAdapter().start()
    assert isinstance(failure, Unavailable)
    assert (failure.reason, failure.source) == (Reason.NOT_FOUND, "nvmlInit")
    assert "NVML_ERROR_LIBRARY_NOT_FOUND" in failure.detail


def _fake_nvml(**functions) -> types.SimpleNamespace:
    import pynvml

    return types.SimpleNamespace(NVMLError=pynvml.NVMLError, **functions)


def _raises(code: int):
    import pynvml

    def function(*_args):
        raise pynvml.NVMLError(code)

    return function


@pytest.mark.parametrize("code, reason", [(3, Reason.NOT_SUPPORTED), (4, Reason.NO_PERMISSION),
                                          (13, Reason.API_MISSING), (15, Reason.GPU_LOST), (10, Reason.TIMEOUT),
                                          (999, Reason.ERROR)])
def test_pynvml_choke_point_maps_nvml_errors(code, reason):
    adapter = PynvmlAdapter()
    adapter._nvml = _fake_nvml(nvmlDeviceGetName=_raises(code))
    answer = adapter._call("nvmlDeviceGetName", object())
    assert isinstance(answer, Unavailable)
    assert (answer.reason, answer.source) == (reason, "nvmlDeviceGetName")


def test_pynvml_choke_point_function_absent_is_api_missing():
    adapter = PynvmlAdapter()
    adapter._nvml = _fake_nvml()
    assert adapter._call("nvmlDeviceGetGpuFabricInfoV", object()) == Unavailable(
        Reason.API_MISSING, "nvmlDeviceGetGpuFabricInfoV", "not in this nvidia-ml-py")


def test_pynvml_choke_point_wrapper_bug_is_error_not_exception():
    def broken(*_args):
        raise TypeError("bad ctypes argument")

    adapter = PynvmlAdapter()
    adapter._nvml = _fake_nvml(nvmlDeviceGetName=broken)
    answer = adapter._call("nvmlDeviceGetName", object())
    assert answer == Unavailable(Reason.ERROR, "nvmlDeviceGetName", "TypeError: bad ctypes argument")


def test_pynvml_versioned_call_falls_back_to_older_function():
    adapter = PynvmlAdapter()
    adapter._nvml = _fake_nvml(nvmlDeviceGetHandleByIndex=lambda index: f"handle{index}",
                               nvmlDeviceGetCurrentClocksEventReasons=_raises(13),
                               nvmlDeviceGetCurrentClocksThrottleReasons=lambda handle: 0x4)
    assert adapter.device(0, "clock_event_reasons") == 4


def test_pynvml_lost_handle_answers_every_query_gpu_lost():
    adapter = PynvmlAdapter()
    adapter._nvml = _fake_nvml(nvmlDeviceGetHandleByIndex=_raises(15))
    for query in ("name", "memory_info", "fabric_info"):
        assert adapter.device(1, query).reason is Reason.GPU_LOST
    assert adapter.pair(0, 1, "p2p_status", 0).reason is Reason.GPU_LOST


def test_display_active_cites_nvml_and_profiles_that_predate_it_say_not_recorded():
    answers = json.load(open(profile_path("pcie4-l40s-2numa")))
    answers["devices"][0]["display_active"] = 1  # the answer a GPU that drives a screen gives
    gpu = value(collect_snapshot(ReplayAdapter(answers, "desktop.json"), files("pcie4-l40s-2numa")).gpus)[0]
    assert gpu.display_active == Known(True, "nvmlDeviceGetDisplayActive")
    for name in ("h200x1", "h200x2", "hgx8-h100-nvswitch"):
        fact = gpus(name)[0].display_active
        assert isinstance(fact, Unavailable) and fact.detail == f"not recorded in {name}.json"
