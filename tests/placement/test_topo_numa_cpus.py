"""`gpubal topo` on a pasted `nvidia-smi -L` and `nvidia-smi topo -m`: the host's NUMA node list is not in
the paste, so each NUMA domain's CPUs are the CPU Affinity column's (each GPU's local CPUs), and
"unknown" only when the paste has no affinity for the node's GPUs. The topo -m texts are real samples
(tests/fixtures/dumps/topo/*.json name their URLs); the -L lines only give the GPUs UUIDs to place them."""

from __future__ import annotations

import json

import pytest

from helpers import known, unavailable, with_gpu, with_host
from helpers.cli import gpubal
from gpubal.placement.topology import build_topology
from helpers.paths import FIXTURES

TOPO = FIXTURES / "dumps" / "topo"


def smi_l(count: int) -> str:
    return "".join(f"GPU {i}: NVIDIA GeForce RTX 3090 (UUID: GPU-00000000-0000-0000-0000-00000000000{i})\n"
                   for i in range(count))


def topo_of(tmp_path, sample: str, count: int, *options: str):
    paste = tmp_path / "paste.txt"
    paste.write_text(smi_l(count) + (TOPO / f"{sample}.txt").read_text(encoding="utf-8"), encoding="utf-8")
    result = gpubal("topo", "--from", str(paste), *options)
    assert result.exit_code == 0, (result.exit_code, result.stderr)
    return result.stdout


@pytest.mark.parametrize("sample, count, line", [
    # one node, both GPUs' affinity 0-31 (https://github.com/noonghunna/club-3090/issues/922)
    ("club3090-2x3090-phb-patched-p2p", 2, "  NUMA domains: node 0: GPU 0, 1 (CPUs 0-31)"),
    # two sockets; GPU 0's NUMA affinity is empty, so only node 1 is a domain, with GPU 1's CPUs
    ("club3090-2x3090-sys-two-sockets-legend-cut", 2, "  NUMA domains: node 1: GPU 1 (CPUs 8-15,24-31)"),
])
def test_numa_domains_show_the_pasted_cpu_affinity(tmp_path, sample, count, line):
    expected = json.loads((TOPO / f"{sample}.json").read_text(encoding="utf-8"))["expected"]["cpu_affinity"]
    text = topo_of(tmp_path, sample, count)
    assert line in text.splitlines()
    assert "(CPUs unknown)" not in text
    assert expected["0"] in text and expected["1"] in text  # the GPU rows show the same lists


def test_the_json_numa_domain_has_the_cpu_list(tmp_path):
    document = json.loads(topo_of(tmp_path, "club3090-2x3090-phb-patched-p2p", 2, "--format", "json"))
    assert document["numa_domains"] == [{"node": 0, "gpus": [0, 1], "cpu_list": "0-31"}]


def test_cpus_are_unknown_when_the_paste_has_no_affinity(tmp_path):
    paste = tmp_path / "paste.txt"
    paste.write_text(smi_l(2) + "\tGPU0\tGPU1\tNUMA Affinity\nGPU0\t X \tPHB\t0\nGPU1\tPHB\t X \t0\n", encoding="utf-8")
    result = gpubal("topo", "--from", str(paste))
    assert result.exit_code == 0, (result.exit_code, result.stderr)
    assert "  NUMA domains: node 0: GPU 0, 1 (CPUs unknown)" in result.stdout.splitlines(), result.stdout


@pytest.mark.parametrize("affinities, cpus", [
    (("0-15", "16-31"), "0-31"),  # GPUs of one node with different local CPUs: the node has them all
    (("0-15", None), ""),  # one GPU's affinity unknown: the node's CPUs are not known
])
def test_the_gpus_affinities_of_one_node(h200x2_snapshot, affinities, cpus):
    snapshot = with_host(h200x2_snapshot, numa_nodes=unavailable())
    for index, affinity in enumerate(affinities):
        snapshot = with_gpu(snapshot, index, numa_node=known(0),
                            cpu_affinity=known(affinity) if affinity else unavailable())
    assert build_topology(snapshot).numa_domains == ((0, (0, 1), cpus),)
