"""The topology class every report names: a pure function of the Snapshot, from real matrices in the corpus
and synthetic hosts for the layouts no sample shows."""


from helpers import known, synthetic_snapshot, unavailable, with_snapshot

from gpubal.doctor.ingest.dumps import snapshot_from_dumps
from gpubal.model import Reason
from gpubal.common.topology_class import classify_topology
from helpers.paths import FIXTURES

DUMPS = FIXTURES / "dumps"


def of_dump(name):
    return classify_topology(snapshot_from_dumps([str(DUMPS / name)]).snapshot)


def test_the_p4d_matrix_is_a_full_nvswitch_mesh_over_two_sockets():
    found = of_dump("topo/aws-p4d-8xa100-nv12-nvswitch.txt")
    assert found.classes == ("full NVSwitch mesh", "GPUs split over 2 NUMA nodes")
    assert "all 28 GPU pairs joined by NVLink (NV12), through NVSwitch" in found.evidence
    assert "NUMA node 0: GPU0, GPU1, GPU2, GPU3; NUMA node 1: GPU4, GPU5, GPU6, GPU7" in found.evidence


def test_pcie_pairs_across_sockets():
    found = of_dump("topo/club3090-5gpu-mixed-2numa.txt")
    assert found.classes == ("PCIe only, pairs cross sockets", "GPUs split over 2 NUMA nodes")
    assert any(line.startswith("PHB (through one host bridge)") and "SYS (across sockets): GPU0-GPU1" in line
               for line in found.evidence)


def test_a_pair_whose_route_the_matrix_does_not_tell_is_not_called_bridged():
    found = of_dump("topo/h200x2-hgx-nvswitch-topo.txt")
    assert found.classes[0] == "NVLink pair"
    assert "whether through NVSwitch or a bridge is not in the input" in found.evidence[0]


def test_two_bridged_pairs():
    gpus = [{"uuid": f"GPU-{i}", "numa": 0} for i in range(4)]
    links = {(0, 1): ("PHB", 4, "direct"), (2, 3): ("PHB", 4, "direct"), (0, 2): ("SYS", 0, "none"),
             (0, 3): ("SYS", 0, "none"), (1, 2): ("SYS", 0, "none"), (1, 3): ("SYS", 0, "none")}
    found = classify_topology(synthetic_snapshot(gpus, links, {0: "0-31"}))
    assert found.classes == ("NVLink bridged pairs", "all GPUs on one NUMA node")
    assert "NVLink (NV4) joins GPU0-GPU1, GPU2-GPU3 only; the other pairs talk over PCIe" in found.evidence


def test_one_numa_node_per_gpu():
    gpus = [{"uuid": "GPU-0", "numa": 0}, {"uuid": "GPU-1", "numa": 1}]
    found = classify_topology(synthetic_snapshot(gpus, {(0, 1): ("SYS", 0, "none")}, {0: "0-15", 1: "16-31"}))
    assert found.classes == ("PCIe only, every pair across sockets", "one NUMA node per GPU")


def test_gpus_without_a_matrix_say_the_links_are_unknown(h200x2_snapshot):
    snapshot = with_snapshot(h200x2_snapshot, pairs=unavailable(Reason.NOT_IN_INPUT, "no topo -m pasted"))
    found = classify_topology(snapshot)
    assert found.classes == ("links between GPUs unknown", "all GPUs on one NUMA node")


def test_no_gpus_no_class(h200x2_snapshot):
    assert classify_topology(with_snapshot(h200x2_snapshot, gpus=unavailable(Reason.NOT_FOUND))) is None
