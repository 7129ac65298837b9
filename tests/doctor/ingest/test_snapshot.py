"""Dumps into a partial snapshot: the 2x H200 captures, merging several dumps, conflicts, and what is
left "not in input"."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpubal.doctor.ingest.dumps import snapshot_from_dumps
from gpubal.model import Known, Reason, Unavailable
from gpubal.snapshot_file import snapshot_from_json, snapshot_to_json
from helpers.paths import FIXTURES, REPO

CAPTURES = REPO.parent / "shared" / "captures" / "h200x2"
if not CAPTURES.is_dir():
    CAPTURES = Path("/work/shared/captures/h200x2")
needs_captures = pytest.mark.skipif(not CAPTURES.is_dir(), reason="the h200x2 captures are not here")


def captures(*names: str):
    return snapshot_from_dumps([str(CAPTURES / name) for name in names])


@needs_captures
@pytest.mark.parametrize("name", ["smi.txt", "smi-L.txt", "smi-q.txt", "smi-q-xml.txt", "nvlink-s.txt",
                                  "collect-env.txt"])
def test_each_h200x2_capture_lists_two_h200(name):
    snapshot = captures(name).snapshot
    gpus = snapshot.gpu_list()
    assert [gpu.index for gpu in gpus] == [0, 1]
    assert {gpu.name.value for gpu in gpus} == {"NVIDIA H200"}
    assert snapshot.origin.split(";")[0] == f"pasted text: {CAPTURES / name}"


@needs_captures
def test_the_h200x2_table_is_judged_as_of_its_own_timestamp():
    snapshot = captures("smi.txt").snapshot
    assert snapshot.collected_at == "2026-11-29T00:00:30"
    assert snapshot.origin.endswith("; dated 2026-11-29T00:00:30 by the dump's own timestamp "
                                    f"({CAPTURES / 'smi.txt'}: nvidia-smi)")


@needs_captures
@pytest.mark.parametrize("name", ["smi.txt", "smi-q.txt", "smi-q-xml.txt"])
def test_h200x2_driver_580_and_cuda_13(name):
    driver = captures(name).snapshot.driver
    assert driver.version == Known("580.159.04", f"{CAPTURES / name}: {driver.version.source.split(': ')[-1]}")
    assert driver.cuda_driver_version.value == "13.0"


@needs_captures
def test_h200x2_topology_is_nv18_on_one_numa_node():
    snapshot = captures("topo.txt").snapshot
    (pair,) = snapshot.pairs.value
    assert (pair.gpu_a, pair.gpu_b, pair.nvlink_count.value) == (0, 1, 18)
    assert pair.nvlink_count.source == f"{CAPTURES / 'topo.txt'}: nvidia-smi topo -m"
    assert isinstance(pair.pcie_path, Unavailable) and pair.pcie_path.reason is Reason.NOT_IN_INPUT
    assert [(gpu.numa_node.value, gpu.cpu_affinity.value) for gpu in snapshot.gpu_list()] == [(0, "0-31")] * 2


@needs_captures
@pytest.mark.parametrize("name", ["smi-q.txt", "smi-q-xml.txt"])
def test_h200x2_fabric_completed_and_links(name):
    gpu = captures(name).snapshot.gpu_list()[0]
    assert (gpu.fabric_state.value, gpu.fabric_status.value) == ("completed", "success")
    assert (gpu.pcie_link_gen_current.value, gpu.pcie_link_width_current.value) == (5, 16)
    assert gpu.memory_total_bytes.value == 143771 << 20
    assert gpu.virtualization_mode.value == "passthrough"
    assert gpu.mig_enabled_current.value is False and gpu.mig_instances.value == []
    assert gpu.uuid.value == "GPU-07f4a309-9680-b6ff-3e0f-c7623199c4cc"


@needs_captures
def test_h200x2_all_dumps_merge_without_conflict_and_cite_every_file():
    ingested = captures("smi.txt", "smi-L.txt", "smi-q.txt", "smi-q-xml.txt", "topo.txt", "nvlink-s.txt",
                        "collect-env.txt", "topo-p2p-r.txt", "driver-version.txt")
    assert ingested.conflicts == []
    snapshot = ingested.snapshot
    name = snapshot.gpu_list()[0].name
    for file in ("smi.txt", "smi-L.txt", "smi-q.txt", "smi-q-xml.txt", "nvlink-s.txt", "collect-env.txt"):
        assert str(CAPTURES / file) in name.source
    assert snapshot.driver.kernel_module_version.value == "580.159.04"
    assert snapshot.driver.kernel_module_flavor.value == "open"
    links = snapshot.gpu_list()[1].nvlinks.value
    assert len(links) == 18 and all(link.active.value for link in links)
    assert snapshot.host.numa_nodes.value[0].cpu_list == "0-31"
    assert {p.name: p.version for p in snapshot.stack.python_packages.value}["torch"] == "2.11.0+cu130"
    assert snapshot_from_json(snapshot_to_json(snapshot)) == snapshot


@needs_captures
def test_what_no_dump_says_is_not_in_input():
    snapshot = captures("topo.txt").snapshot
    missing = snapshot.driver.version
    assert isinstance(missing, Unavailable) and missing.reason is Reason.NOT_IN_INPUT
    assert missing.source == str(CAPTURES / "topo.txt")
    assert isinstance(snapshot.ollama.server_version, Unavailable)
    assert isinstance(snapshot.gpu_list()[0].name, Unavailable)


def test_dumps_that_disagree_are_reported_not_overwritten(tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("GPU 0: NVIDIA H200 (UUID: GPU-07f4a309-9680-b6ff-3e0f-c7623199c4cc)\n")
    second.write_text("GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-07f4a309-9680-b6ff-3e0f-c7623199c4cc)\n")
    ingested = snapshot_from_dumps([str(first), str(second)])
    (conflict,) = ingested.conflicts
    assert conflict.path == "gpu:0.name"
    assert "NVIDIA H200" in conflict.describe() and "NVIDIA H100 80GB HBM3" in conflict.describe()
    name = ingested.snapshot.gpu_list()[0].name
    assert isinstance(name, Unavailable) and name.reason is Reason.ERROR and "disagree" in name.detail
    assert ingested.snapshot.gpu_list()[0].uuid.value.startswith("GPU-07f4")


def test_ollama_log_facts_land_in_the_snapshot():
    sample = FIXTURES / "dumps" / "ollama-log" / "4xl4-offload-tensor-split-11x4.txt"
    ollama = snapshot_from_dumps([str(sample)]).snapshot.ollama
    (offload,) = ollama.log_offloads.value
    assert (offload.layers_total, offload.layers_on_gpu, offload.layers_split) == (81, 44, (11, 11, 11, 11))
    assert offload.tensor_split == "11,11,11,11"
    assert ollama.log_source.value == str(sample)
