"""nvlink-pair-fewer-links on topology matrices read from text: the scenarios by name."""

from __future__ import annotations

from gpubal.doctor.engine import evaluate
from gpubal.doctor.ingest.dumps import snapshot_from_dumps
from gpubal.model import Outcome, Severity
from gpubal.rules.nvlink_pair_fewer_links import nvlink_pair_fewer_links as rule


def matrix(count: int, cell) -> str:
    text = "\t" + "\t".join(f"GPU{i}" for i in range(count)) + "\n"
    for i in range(count):
        text += f"GPU{i}\t" + "\t".join(" X " if i == j else cell(i, j) for j in range(count)) + "\n"
    return text


def judge(tmp_path, text):
    path = tmp_path / "topo.txt"
    path.write_text(text)
    report = evaluate(snapshot_from_dumps([str(path)]).snapshot, [rule])
    (result,) = report.results
    return result


def test_an_nvswitch_host_with_every_pair_at_nv12_passes(tmp_path):
    assert judge(tmp_path, matrix(8, lambda i, j: "NV12")).outcome is Outcome.PASSED


def test_a_dgx1_hybrid_cube_mesh_with_nv1_and_nv2_pairs_passes(tmp_path):
    # DGX-1 (V100): each GPU has NV1 and NV2 to four peers and 6 links in all; the rest are SYS or NODE
    nv = {(0, 1): 1, (0, 2): 1, (0, 3): 2, (0, 4): 2, (1, 2): 2, (1, 3): 1, (1, 5): 2, (2, 3): 2, (2, 6): 1,
          (3, 7): 1, (4, 5): 1, (4, 6): 1, (4, 7): 2, (5, 6): 2, (5, 7): 1, (6, 7): 2}
    result = judge(tmp_path, matrix(8, lambda i, j: f"NV{nv[(min(i, j), max(i, j))]}"
                                    if (min(i, j), max(i, j)) in nv else "SYS"))
    assert result.outcome is Outcome.PASSED


def test_two_bridged_pairs_pass(tmp_path):
    bridged = ({0, 1}, {2, 3})
    assert judge(tmp_path, matrix(4, lambda i, j: "NV4" if {i, j} in bridged else "PHB")).outcome is Outcome.PASSED


def test_a_gpu_with_one_link_fewer_to_every_peer_is_a_warning(tmp_path):
    result = judge(tmp_path, matrix(4, lambda i, j: "NV11" if 2 in (i, j) else "NV12"))
    (found,) = result.findings
    assert found.severity is Severity.WARNING and found.subject == "gpu:2"
    assert found.evidence == {"gpu:2.nvlinks_to_peers": {"0": 11, "1": 11, "3": 11}, "most_nvlinks_to_peers": 35}
    assert found.fix.commands[:2] == ("nvidia-smi nvlink -s -i 2", "nvidia-smi nvlink -e -i 2")


def test_a_gpu_without_nvlink_beside_a_full_mesh_is_a_warning(tmp_path):
    result = judge(tmp_path, matrix(4, lambda i, j: "SYS" if 3 in (i, j) else "NV12"))
    (found,) = result.findings
    assert found.subject == "gpu:3" and found.evidence["nvlinked_gpus"] == [0, 1, 2]


def test_a_third_gpu_without_a_bridge_beside_one_bridged_pair_passes(tmp_path):
    result = judge(tmp_path, matrix(3, lambda i, j: "NV4" if {i, j} == {0, 1} else "PHB"))
    assert result.outcome is Outcome.PASSED


def test_a_matrix_cut_short_is_not_evaluated(tmp_path):
    text = "\tGPU0\tGPU1\tGPU2\nGPU0\t X \tNV12\tNV12\nGPU1\tNV12\t X \n"
    result = judge(tmp_path, text)
    assert result.outcome is Outcome.NOT_EVALUATED and result.missing_fact == "gpu:1-gpu:2.nvlink_count"
