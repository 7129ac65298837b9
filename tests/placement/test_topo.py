"""`gpubal topo`: NVLink cliques, PCIe switch groups, NUMA domains, the chosen groups and their settings,
on every fixture profile (1, 2, 4, 8 GPUs; NVSwitch; PCIe over two sockets; a bridge; mixed memory) and on
synthetic hosts that no fixture has (16 GPUs, bridged pairs across sockets)."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from helpers import real_snapshot, synthetic_snapshot
from gpubal.cli import app
from gpubal.placement.advice import advise
from gpubal.placement.groups import EXACT_LIMIT, best_partition, partition_count
from gpubal.placement.topology import TIER_NVLINK, TIER_SYS, build_topology
from helpers.paths import FIXTURES

try:
    RUNNER = CliRunner(mix_stderr=False)
except TypeError:
    RUNNER = CliRunner()


def groups_of(advice, size):
    layout = next(layout for layout in advice.layouts if layout.group_size == size)
    return [group.gpus for group in layout.groups]


def group(advice, size, number):
    layout = next(layout for layout in advice.layouts if layout.group_size == size)
    return layout.groups[number]


def profile_args(name, root=None):
    return ["--nvml-profile", str(FIXTURES / "nvml" / f"{name}.json"), "--root", str(FIXTURES / "roots" / (root or name))]


# --- topology as meaning ---------------------------------------------------------------------------------


def test_hgx8_is_one_nvlink_clique_over_two_numa_nodes():
    topology = build_topology(real_snapshot("hgx8-h100-nvswitch"))
    assert topology.nvlink_cliques == ((0, 1, 2, 3, 4, 5, 6, 7),)
    assert [(node, gpus) for node, gpus, _ in topology.numa_domains] == [(0, (0, 1, 2, 3)), (1, (4, 5, 6, 7))]
    assert topology.link(0, 5).tier == TIER_NVLINK and topology.link(0, 5).pcie_tier == TIER_SYS
    assert topology.link(0, 5).label == "NV18"


def test_pcie_two_socket_host_has_two_switch_groups_and_no_clique():
    topology = build_topology(real_snapshot("pcie4-l40s-2numa"))
    assert topology.nvlink_cliques == ()
    assert topology.pcie_switch_groups == ((0, 1), (2, 3))
    assert topology.gpu(2).cpu_list == "32-63,96-127"


def test_lost_gpu_is_left_out_with_the_reason():
    advice = advise(real_snapshot("lost-gpu"))
    assert [gpu.index for gpu in advice.topology.gpus] == [0]
    assert advice.topology.excluded[0][0] == 1 and "gpu_lost" in advice.topology.excluded[0][1]
    assert any("GPU 1 is left out" in note for note in advice.notes)
    assert groups_of(advice, 1) == [(0,)]


def test_host_without_driver_has_nothing_to_place():
    advice = advise(real_snapshot("no-driver"))
    assert advice.layouts == () and any("No GPU can be placed" in note for note in advice.notes)


# --- the chosen groups ------------------------------------------------------------------------------------


def test_single_h200_gets_one_group_of_one():
    advice = advise(real_snapshot("h200x1"))
    assert [layout.group_size for layout in advice.layouts] == [1]
    only = group(advice, 1, 0)
    assert only.cuda_visible_devices == "GPU-266c859c-0dd5-ead9-df5a-d98d190b5e47"
    assert only.cpu_binding == ""  # one NUMA node: nothing to bind to
    assert any("one NUMA node" in reason for reason in only.reasons)
    assert only.vllm_command == ""  # no tensor parallelism on one GPU


def test_h200x2_pair_is_an_nvswitch_clique_with_tensor_parallel_commands():
    advice = advise(real_snapshot("h200x2"))
    assert [layout.group_size for layout in advice.layouts] == [1, 2]
    pair = group(advice, 2, 0)
    assert pair.gpus == (0, 1) and pair.link == "NV18"
    assert any("NVLink through NVSwitch" in reason for reason in pair.reasons)
    assert pair.cuda_visible_devices == ("GPU-07f4a309-9680-b6ff-3e0f-c7623199c4cc,"
                                         "GPU-ef0d3f05-6806-164c-47f3-28be3d1fcbc3")
    assert pair.cuda_visible_devices_by_index == "0,1"
    assert pair.vllm_command.endswith("vllm serve MODEL --tensor-parallel-size 2 --port 8000")
    assert "python -m sglang.launch_server --model-path MODEL --tp-size 2 --port 30000" in pair.sglang_command
    assert pair.ollama_command.startswith("CUDA_VISIBLE_DEVICES=GPU-07f4a309")
    assert pair.vllm_command.startswith("CUDA_VISIBLE_DEVICES=GPU-07f4a309-9680-b6ff-3e0f-c7623199c4cc,"
                                        "GPU-ef0d3f05-6806-164c-47f3-28be3d1fcbc3 vllm serve")


def test_hgx8_groups_of_four_stay_on_one_socket():
    advice = advise(real_snapshot("hgx8-h100-nvswitch"), [4])
    assert groups_of(advice, 4) == [(0, 1, 2, 3), (4, 5, 6, 7)]
    assert [group(advice, 4, n).cpu_binding for n in (0, 1)] == [
        "numactl --cpunodebind=0 --membind=0", "numactl --cpunodebind=1 --membind=1"]
    assert group(advice, 4, 1).cpu_list == "56-111,168-223"


def test_hgx8_pairs_never_cross_sockets():
    advice = advise(real_snapshot("hgx8-h100-nvswitch"), [2])
    for members in groups_of(advice, 2):
        assert len({0 if index < 4 else 1 for index in members}) == 1, members


def test_hgx8_default_sizes_are_every_divisor():
    advice = advise(real_snapshot("hgx8-h100-nvswitch"))
    assert [layout.group_size for layout in advice.layouts] == [1, 2, 4, 8]
    everything = group(advice, 8, 0)
    assert everything.numa_node == -1 and everything.cpu_binding == "taskset -c 0-223"
    assert any("Spans NUMA nodes 0, 1" in warning for warning in everything.warnings)


def test_pcie_two_socket_pairs_follow_the_switches():
    advice = advise(real_snapshot("pcie4-l40s-2numa"), [2])
    assert groups_of(advice, 2) == [(0, 1), (2, 3)]
    first = group(advice, 2, 0)
    assert first.link == "PXB" and any("(PXB)" in reason for reason in first.reasons)
    assert any("No NVLink clique of 2 GPUs" in reason for reason in first.reasons)
    assert not any("SYS" in warning for warning in first.warnings)


def test_pcie_two_socket_group_of_four_says_sys_is_unavoidable():
    advice = advise(real_snapshot("pcie4-l40s-2numa"), [4])
    everything = group(advice, 4, 0)
    assert everything.link == "SYS"
    assert any("Crosses CPU sockets" in warning for warning in everything.warnings)
    layout = advice.layouts[0]
    assert any("no way of cutting the GPUs into groups of 4 avoids it" in note for note in layout.notes)


def test_bridged_rtx3090_pair_is_a_direct_nvlink_clique():
    advice = advise(real_snapshot("rtx3090x2-nvlink-bridge"), [2])
    pair = group(advice, 2, 0)
    assert pair.link == "NV4" and any("directly (bridge or mesh)" in reason for reason in pair.reasons)


def test_mixed_memory_pair_warns_and_explains_cuda_order():
    advice = advise(real_snapshot("mixed-h100-a100"), [2])
    pair = group(advice, 2, 0)
    assert any("Unequal memory (80 GiB and 40 GiB)" in warning for warning in pair.warnings)
    assert any("CUDA's default order" in note for note in advice.notes)
    assert "FASTEST_FIRST" in advice.cuda_order_note and "PCI_BUS_ID" in advice.cuda_order_note


def test_group_size_that_does_not_divide_is_refused():
    with pytest.raises(ValueError, match="does not divide the 4 usable GPUs"):
        advise(real_snapshot("pcie4-l40s-2numa"), [3])


def test_per_group_servers_get_ports_and_systemd_drop_ins():
    advice = advise(real_snapshot("pcie4-l40s-2numa"), [1])
    layout = advice.layouts[0]
    assert [g.ollama_port for g in layout.groups] == [11434, 11435, 11436, 11437]
    drop_in = layout.groups[2].systemd_drop_in
    assert drop_in[0] == "[Service]"
    assert 'Environment="OLLAMA_HOST=127.0.0.1:11436"' in drop_in
    assert "NUMAPolicy=bind" in drop_in and "NUMAMask=1" in drop_in and "CPUAffinity=32-63 96-127" in drop_in
    assert "    server 127.0.0.1:11437;" in layout.load_balancer


def test_spread_server_names_every_gpu():
    advice = advise(real_snapshot("h200x2"), [2])
    assert advice.layouts[0].spread_command.startswith("OLLAMA_SCHED_SPREAD=1 CUDA_VISIBLE_DEVICES=GPU-07f4a309")


# --- synthetic hosts: bridged pairs across sockets, 16 GPUs ----------------------------------------------


def bridged_four():
    """Four GPUs, bridges 0-2 and 1-3 (across the numbering), 0/1 on socket 0 and 2/3 on socket 1."""
    gpus = [{"uuid": f"GPU-{i}", "numa": 0 if i < 2 else 1, "cpus": "0-15" if i < 2 else "16-31"} for i in range(4)]
    links = {(0, 1): ("NODE", 0, "none"), (2, 3): ("NODE", 0, "none"), (0, 2): ("SYS", 4, "direct"),
             (1, 3): ("SYS", 4, "direct")}
    return synthetic_snapshot(gpus, links, {0: "0-15", 1: "16-31"})


def test_nvlink_bridge_wins_over_sharing_a_socket():
    advice = advise(bridged_four(), [2])
    assert groups_of(advice, 2) == [(0, 2), (1, 3)]
    assert advice.topology.nvlink_cliques == ((0, 2), (1, 3))
    first = group(advice, 2, 0)
    assert first.cpu_binding == "taskset -c 0-31"
    assert any("different CPU sockets" in warning for warning in first.warnings)


def sixteen(seed_order=False):
    """16 GPUs: two sockets, each with two PCIe switches of four GPUs; NVLink bridges join pairs 2i, 2i+1."""
    gpus = [{"uuid": f"GPU-{i:02d}", "numa": i // 8, "cpus": "0-63" if i < 8 else "64-127"} for i in range(16)]
    links = {}
    for a in range(16):
        for b in range(a + 1, 16):
            if a // 8 != b // 8:
                path = "SYS"
            elif a // 4 == b // 4:
                path = "PIX"
            else:
                path = "NODE"
            bridged = b == a + 1 and a % 2 == 0
            links[(a, b)] = (path, 4 if bridged else 0, "direct" if bridged else "none")
    return synthetic_snapshot(gpus, links, {0: "0-63", 1: "64-127"})


def test_sixteen_gpus_in_pairs_use_every_bridge_and_are_fast():
    snapshot = sixteen()
    topology = build_topology(snapshot)
    assert partition_count(16, 2) > EXACT_LIMIT  # the greedy path, not enumeration
    started = time.perf_counter()
    partition = best_partition(topology, 2)
    elapsed = time.perf_counter() - started
    assert partition.method == "greedy + local search"
    assert sorted(partition.groups) == [(i, i + 1) for i in range(0, 16, 2)]
    assert elapsed < 0.5, elapsed


def test_sixteen_gpus_in_fours_stay_behind_one_switch():
    partition = best_partition(build_topology(sixteen()), 4)
    assert sorted(partition.groups) == [(0, 1, 2, 3), (4, 5, 6, 7), (8, 9, 10, 11), (12, 13, 14, 15)]


def test_sixteen_gpus_in_eights_split_by_socket():
    partition = best_partition(build_topology(sixteen()), 8)
    assert partition.method == "greedy + local search" and partition.candidates == 6435
    assert sorted(partition.groups) == [tuple(range(8)), tuple(range(8, 16))]


def test_eight_gpus_are_solved_exhaustively():
    partition = best_partition(build_topology(real_snapshot("hgx8-h100-nvswitch")), 2)
    assert partition.method == "exhaustive" and partition.candidates == 105


def test_greedy_start_is_repaired_by_swaps():
    """Bridges 0-3 and 1-2 with 0/1 on one switch: a greedy pick of 0 with 1 would strand both bridges."""
    gpus = [{"uuid": f"GPU-{i}"} for i in range(4)]
    links = {(0, 1): ("PIX", 0, "none"), (2, 3): ("PIX", 0, "none"), (0, 3): ("PHB", 4, "direct"),
             (1, 2): ("PHB", 4, "direct"), (0, 2): ("PHB", 0, "none"), (1, 3): ("PHB", 0, "none")}
    topology = build_topology(synthetic_snapshot(gpus, links, {0: "0-31"}))
    from gpubal.placement import groups as grouping

    cache = {}

    def cost(members):
        return cache.setdefault(members, grouping.group_cost(topology, members))

    repaired = grouping._swap_refine([(0, 1), (2, 3)], cost)
    assert sorted(repaired) == [(0, 3), (1, 2)]


# --- the command -------------------------------------------------------------------------------------------


def test_cli_topo_terminal_prints_groups_and_settings():
    result = RUNNER.invoke(app, ["topo", "--group-size", "2"] + profile_args("pcie4-l40s-2numa"))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "PCIe switch groups (PIX/PXB): {GPU 0, GPU 1}; {GPU 2, GPU 3}" in out
    assert "group 0: GPU 0, 1  link PXB  NUMA 0" in out
    assert "CUDA_DEVICE_ORDER=PCI_BUS_ID CUDA_VISIBLE_DEVICES=2,3" in out
    assert "numactl --cpunodebind=1 --membind=1 vllm serve MODEL --tensor-parallel-size 2 --port 8001" in out
    assert "NUMAMask=1" in out and "least_conn;" in out


def test_cli_topo_json_round_trips_the_groups():
    result = RUNNER.invoke(app, ["topo", "--format", "json"] + profile_args("hgx8-h100-nvswitch"))
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["nvlink_cliques"] == [list(range(8))]
    sizes = {layout["group_size"]: layout for layout in document["layouts"]}
    assert sorted(sizes) == [1, 2, 4, 8]
    assert [g["gpus"] for g in sizes[4]["groups"]] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert sizes[4]["groups"][0]["cpu_binding"] == "numactl --cpunodebind=0 --membind=0"
    assert document["numa_domains"][1] == {"node": 1, "gpus": [4, 5, 6, 7], "cpu_list": "56-111,168-223"}


def test_cli_topo_bad_group_size_exits_2():
    result = RUNNER.invoke(app, ["topo", "--group-size", "3"] + profile_args("h200x2"))
    assert result.exit_code == 2
    assert "does not divide" in result.stderr


@pytest.mark.parametrize("name, root", [("h200x1", None), ("h200x2", None), ("hgx8-h100-nvswitch", None),
                                        ("pcie4-l40s-2numa", None), ("rtx3090x2-nvlink-bridge", None),
                                        ("mixed-h100-a100", None), ("lost-gpu", None), ("old-driver-470", None),
                                        ("downtrained", None), ("a100-mig-instances", "a100-mig"),
                                        ("no-driver", None)])
def test_cli_topo_works_on_every_profile(name, root):
    for output_format in ("terminal", "json"):
        result = RUNNER.invoke(app, ["topo", "--format", output_format] + profile_args(name, root))
        # no driver, no GPU to place: the advice is still printed, and the exit code says it is empty
        assert result.exit_code == (1 if name == "no-driver" else 0), (name, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr


def test_mig_gpu_advice_points_to_mig_uuids():
    advice = advise(real_snapshot_with_root("a100-mig-instances", "a100-mig"))
    assert any("MIG device UUIDs" in note for note in advice.notes)


def real_snapshot_with_root(name, root):
    from gpubal.doctor.collect import collect_snapshot
    from gpubal.doctor.probes.files import HostFiles
    from gpubal.doctor.probes.nvml import ReplayAdapter

    return collect_snapshot(ReplayAdapter.from_file(str(FIXTURES / "nvml" / f"{name}.json")),
                            HostFiles(str(FIXTURES / "roots" / root)))


@pytest.mark.parametrize("name, size", [("hgx8-h100-nvswitch", 2), ("hgx8-h100-nvswitch", 4),
                                        ("pcie4-l40s-2numa", 2)])
def test_local_search_finds_the_exhaustive_optimum_on_real_shapes(name, size):
    from gpubal.placement import groups as grouping

    topology = build_topology(real_snapshot(name))
    indices = [gpu.index for gpu in topology.gpus]
    cache = {}

    def cost(members):
        return cache.setdefault(members, grouping.group_cost(topology, members))

    exact = grouping._exhaustive(indices, size, cost)
    searched = grouping._local_search(topology, indices, size, cost)
    assert sorted(cost(g) for g in searched) == sorted(cost(g) for g in exact)
