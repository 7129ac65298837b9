"""Hand-made dumps for what the real corpus lacks: a 2-GPU NVLink bridge, NIC rows, wrapped and glued
lines, terminal escapes, an old SOC legend, the p2p command line, XML attacks, gzip and broken input."""

from __future__ import annotations

import gzip

import pytest

from gpubal.doctor.ingest.dumps import InputError, read_dump, snapshot_from_dumps
from gpubal.doctor.ingest.common import parse_lines
from gpubal.doctor.ingest.smi_xml import SmiXmlParser
from gpubal.doctor.ingest.topo import TopologyParser
from helpers.paths import FIXTURES

LEGEND = """
Legend:

  X    = Self
  NV#  = Connection traversing a bonded set of # NVLinks
"""
NV4_BRIDGE = "\tGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\nGPU0\t X \tNV4\t0-15\t0\nGPU1\tNV4\t X \t0-15\t0\n" + LEGEND
NIC_ROWS = """\
        GPU0    GPU1    NIC0    NIC1    CPU Affinity    NUMA Affinity   GPU NUMA ID
GPU0     X      SYS     PXB     SYS     0-31,64-95      0               N/A
GPU1    SYS      X      SYS     PXB     32-63,96-127    1               N/A
NIC0    PXB     SYS      X      SYS
NIC1    SYS     PXB     SYS      X
""" + LEGEND + """
NIC Legend:

  NIC0: mlx5_0
  NIC1: mlx5_1
"""


def topo(text: str):
    return parse_lines(TopologyParser(), text.splitlines(keepends=True))


def write(tmp_path, text, name="dump.txt"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def test_a_two_gpu_nvlink_bridge(tmp_path):
    snapshot = snapshot_from_dumps([write(tmp_path, NV4_BRIDGE)]).snapshot
    (pair,) = snapshot.pairs.value
    assert pair.nvlink_count.value == 4
    assert pair.subject() == "gpu:0-gpu:1"


def test_nic_rows_are_not_gpus_and_cpu_lists_keep_their_ranges():
    result = topo(NIC_ROWS)
    matrix = result.topo()
    assert matrix.gpu_indices() == [0, 1]
    assert matrix.cell("NIC0", "GPU0") == "PXB"
    assert result.nic_names == {"NIC0": "mlx5_0", "NIC1": "mlx5_1"}
    assert matrix.affinity["GPU1"] == {"cpu_affinity": "32-63,96-127", "numa_affinity": "1", "gpu_numa_id": "N/A"}


def test_old_nic_names_as_columns():
    text = "\tGPU0\tGPU1\tmlx5_0\tCPU Affinity\nGPU0\t X \tPIX\tPHB\t0-11\nGPU1\tPIX\t X \tPHB\t0-11\nmlx5_0\tPHB\tPHB\t X \n"
    matrix = topo(text).topo()
    assert matrix.devices == ["GPU0", "GPU1", "mlx5_0"] and result_links(text) == {"0-1": "PIX"}


def result_links(text):
    return topo(text).links()


def test_rows_glued_onto_one_line_by_markdown():
    glued = "GPU0 GPU1 CPU Affinity NUMA Affinity GPU0 X NV2 0-7 0 GPU1 NV2 X 0-7 0\n"
    matrix = topo(glued).topo()
    assert matrix.cell("GPU1", "GPU0") == "NV2" and matrix.affinity["GPU1"]["numa_affinity"] == "0"


def test_rows_and_header_wrapped_over_lines():
    wrapped = "  GPU0  GPU1  GPU2  CPU Affinity\nNUMA Affinity\nGPU0  X  SYS  SYS\n 0-7  0\nGPU1 SYS X PHB 8-15 1\nGPU2 SYS PHB X 8-15 1\n"
    matrix = topo(wrapped).topo()
    assert matrix.affinity["GPU0"] == {"cpu_affinity": "0-7", "numa_affinity": "0"}
    assert topo(wrapped).links() == {"0-1": "SYS", "0-2": "SYS", "1-2": "PHB"}


def test_ansi_escapes_and_carriage_returns_are_ignored():
    coloured = "\t\x1b[4mGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\x1b[0m\r\nGPU0\t X \t\x1b[32mNV18\x1b[0m\t0-31\t0\r\nGPU1\tNV18\t X \t0-31\t0\r\n"
    assert topo(coloured).links() == {"0-1": "NV18"}


def test_old_soc_word_means_across_sockets(tmp_path):
    snapshot = snapshot_from_dumps([write(tmp_path, "\tGPU0\tGPU1\tCPU Affinity\nGPU0\t X \tSOC\t0-7\nGPU1\tSOC\t X \t8-15\n")]).snapshot
    assert snapshot.pairs.value[0].pcie_path.value == "SYS"


def test_p2p_matrix_with_its_command_line_becomes_a_fact(tmp_path):
    text = "$ nvidia-smi topo -p2p r\n \tGPU0\tGPU1\t\n GPU0\tX\tCNS\t\n GPU1\tCNS\tX\t\n"
    pair = snapshot_from_dumps([write(tmp_path, text)]).snapshot.pairs.value[0]
    assert pair.p2p_read.value == "chipset_not_supported"
    assert pair.p2p_read.source.endswith("nvidia-smi topo -p2p r")


def test_a_cut_matrix_is_read_as_far_as_it_goes(tmp_path):
    snapshot = snapshot_from_dumps([write(tmp_path, "\tGPU0\tGPU1\tGPU2\nGPU0\t X \tSYS\n")]).snapshot
    assert [(pair.gpu_a, pair.gpu_b, pair.pcie_path.value) for pair in snapshot.pairs.value] == [(0, 1, "SYS")]
    assert topo("\tGPU0\tGPU1\tGPU2\nGPU0\t X \tSYS\n").topo().cut_rows == ["GPU0"]


def test_a_cut_row_takes_its_pair_from_the_other_half_of_the_matrix():
    matrix = topo("\tGPU0\tGPU1\tGPU2\nGPU0\t X \tNV4\nGPU1\tNV4\t X \tPHB\nGPU2\tPHB\tPHB\t X\n")
    assert matrix.links() == {"0-1": "NV4", "0-2": "PHB", "1-2": "PHB"}


def test_cells_run_together_are_split_so_later_columns_keep_their_place():
    text = ("\tGPU0\tGPU1\tGPU2\tCPU Affinity\tNUMA Affinity\n"
            "GPU0\t X \tNV18NV18\t0-55,112-167N/A\nGPU1\tNV18\t X \tNV18\t0-55,112-167\tN/A\n"
            "GPU2\tNV18\tNV18\t X \t0-55,112-167\tN/A\n")
    matrix = topo(text).topo()
    assert matrix.cells["GPU0"] == ["X", "NV18", "NV18"]
    assert matrix.affinity["GPU0"] == {"cpu_affinity": "0-55,112-167", "numa_affinity": "N/A"}


def test_a_matrix_without_its_header_row_is_read_from_its_rows():
    text = ("GPU0     X      NV12    NV12    PXB     48-63,176-191   3               N/A\n"
            "GPU1    NV12     X      NV12    PXB     48-63,176-191   3               N/A\n"
            "GPU2    NV12    NV12     X      SYS     16-31,144-159   1               N/A\n")
    matrix = topo(text).topo()
    assert matrix.devices == ["GPU0", "GPU1", "GPU2", "NIC0"] and not matrix.header_copied
    assert matrix.affinity["GPU2"] == {"cpu_affinity": "16-31,144-159", "numa_affinity": "1", "gpu_numa_id": "N/A"}
    assert topo(text).links() == {"0-1": "NV12", "0-2": "NV12", "1-2": "NV12"}


def test_empty_affinity_cells_stay_empty_instead_of_taking_the_next_value():
    text = ("\tGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\n"
            "GPU0\t X \tNV4\t\t\tN/A\t\tN/A\nGPU1\tNV4\t X \t\t\tN/A\t\tN/A\n")
    matrix = topo(text).topo()
    assert matrix.affinity["GPU0"] == {"cpu_affinity": "", "numa_affinity": "N/A", "gpu_numa_id": "N/A"}


def test_prompts_quote_markers_and_fences_around_a_matrix_are_not_cells():
    text = ("```\n> user@host:~$ nvidia-smi topo -m\n>         GPU0    GPU1    CPU Affinity    NUMA Affinity\n"
            "> GPU0     X      NV4     0-15            0\n> GPU1    NV4      X      0-15            0\n"
            "> user@host:~$ nvidia-smi -L\n```\n")
    matrix = topo(text).topo()
    assert topo(text).links() == {"0-1": "NV4"}
    assert matrix.affinity["GPU1"] == {"cpu_affinity": "0-15", "numa_affinity": "0"}


def test_nvswitch_is_inferred_only_when_direct_links_are_impossible():
    eight = "  " + " ".join(f"GPU{i}" for i in range(8)) + "\n" + "".join(
        f"GPU{i} " + " ".join("X" if i == j else "NV18" for j in range(8)) + "\n" for i in range(8))
    routes = {value for path, value, _ in topo(eight).observations() if path[-1] == "nvlink_route"}
    assert routes == {"nvswitch"}
    routes = {value for path, value, _ in topo(NV4_BRIDGE).observations() if path[-1] == "nvlink_route"}
    assert routes == set()


# --- XML hardening ---------------------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE nvidia_smi_log [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
]>
<nvidia_smi_log><driver_version>&lol2;</driver_version></nvidia_smi_log>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE nvidia_smi_log [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<nvidia_smi_log><driver_version>&xxe;</driver_version></nvidia_smi_log>
"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, EXTERNAL], ids=["entity-expansion", "external-entity"])
def test_xml_entities_are_refused_before_parsing(tmp_path, text):
    result = parse_lines(SmiXmlParser(), text.splitlines())
    assert result.problems and "refused" in result.problems[0]
    assert result.driver_version is None
    with pytest.raises(InputError, match="refused"):
        read_dump(write(tmp_path, text))


def test_truncated_xml_is_reported(tmp_path):
    text = '<?xml version="1.0" ?>\n<nvidia_smi_log>\n<driver_version>550.54.15</driver_version>\n<gpu id="00000000:01:00.0">\n<product_name>NVIDIA A100'
    with pytest.raises(InputError, match="truncated"):
        read_dump(write(tmp_path, text))


# --- streams and bad input -------------------------------------------------------------------------

def test_gzip_is_recognised_by_content_not_name(tmp_path):
    path = write(tmp_path, gzip.compress(NV4_BRIDGE.encode()), name="report.log")
    assert read_dump(path).formats == ["nvidia-smi topo"]


def test_a_bug_report_reads_the_sections_it_holds(tmp_path):
    report = ("____________________________________________\nStart of NVIDIA bug report log file.\n"
              "nvidia-bug-report.sh Version: 35186745\n"
              "*** /proc/driver/nvidia/version\nNVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n"
              "Linux gpu01 5.15.0-91-generic #101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023 x86_64 GNU/Linux\n"
              + "filler line\n" * 5000 + NV4_BRIDGE)
    path = write(tmp_path, gzip.compress(report.encode()), name="nvidia-bug-report.log.gz")
    snapshot = snapshot_from_dumps([path]).snapshot
    assert snapshot.driver.kernel_module_version.value == "535.104.05"
    assert snapshot.driver.kernel_module_flavor.value == "proprietary"
    assert snapshot.host.kernel_release.value == "5.15.0-91-generic"
    assert snapshot.pairs.value[0].nvlink_count.value == 4


@pytest.mark.parametrize("content, message", [
    (b"", "empty input"),
    (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4, "binary data"),
    (gzip.compress(b"hello world\n")[:12], "gzip data is corrupt or truncated"),
    (b"just some notes\nnothing from nvidia-smi here\n", "unknown format"),
])
def test_bad_input_is_one_clear_line(tmp_path, content, message):
    with pytest.raises(InputError) as error:
        read_dump(write(tmp_path, content))
    assert message in str(error.value) and str(tmp_path) in str(error.value)
    assert "\n" not in str(error.value)


def test_a_gzip_cut_in_the_middle_names_the_file_and_what_was_recognised(tmp_path):
    packed = gzip.compress((NV4_BRIDGE + "filler\n" * 200_000).encode(), compresslevel=1)
    path = write(tmp_path, packed[: len(packed) // 2], name="cut.gz")
    with pytest.raises(InputError, match=r"truncated after \d+ lines \(.*\) \(recognised: nvidia-smi topo\)"):
        read_dump(path)


def test_a_timestamp_that_is_no_date_does_not_date_the_dump(tmp_path):
    text = "Mon Feb 31 25:61:00 2026\n| NVIDIA-SMI 580.82.07    Driver Version: 580.82.07    CUDA Version: 13.0 |\n"
    snapshot = snapshot_from_dumps([write(tmp_path, text)]).snapshot
    assert "dated" not in snapshot.origin and snapshot.driver.version.value == "580.82.07"


def test_r610_query_reads_the_kmd_and_umd_versions_and_cuda_na(tmp_path):
    # the shape R610's -q prints: the old names kept with a deprecation note (wording from
    # https://github.com/PrismML-Eng/Bonsai-demo/pull/122), the new names beside them
    text = ("==============NVSMI LOG==============\n\nTimestamp : Sun Jun  7 08:16:57 2026\n"
            "Driver Version : 610.43.02 [Deprecated; will be removed in CUDA 14.0. Use KMD Version instead]\n"
            "KMD Version : 610.43.02\nCUDA Version : N/A [Deprecated; will be removed in CUDA 14.0. Use CUDA UMD "
            "Version instead]\nCUDA UMD Version : N/A\n\nAttached GPUs : 1\nGPU 00000000:63:00.0\n"
            "    Product Name : NVIDIA B200\n")
    snapshot = snapshot_from_dumps([write(tmp_path, text)]).snapshot
    assert snapshot.driver.version.value == "610.43.02"
    assert snapshot.driver.cuda_driver_version.detail.startswith("CUDA Version: N/A")
    assert snapshot.collected_at == "2026-06-07T08:16:57"


def test_dumps_dated_differently_are_judged_as_of_the_latest(tmp_path):
    table = "{}\n| NVIDIA-SMI 580.82.07    Driver Version: 580.82.07    CUDA Version: 13.0 |\n"
    older = write(tmp_path, table.format("Mon Jan  5 10:00:00 2026"), "a.txt")
    newer = write(tmp_path, table.format("Tue Mar 10 09:30:00 2026"), "b.txt")
    ingested = snapshot_from_dumps([older, newer])
    assert ingested.snapshot.collected_at == "2026-03-10T09:30:00" and not ingested.conflicts


def test_an_nvidia_smi_error_and_its_prompt_are_the_nvml_status(tmp_path):
    text = "root@x:/# nvidia-smi\nFailed to initialize NVML: Unknown Error\n"
    status = snapshot_from_dumps([write(tmp_path, text)]).snapshot.driver.nvml_status
    assert status.detail == "Failed to initialize NVML: Unknown Error (NVML_ERROR_UNKNOWN)"


def test_an_nvlink_list_that_stops_early_without_a_marker_is_partial(tmp_path):
    # nvidia-smi prints every link, up or <inactive>: 2 lines where the other H100 has 4 means a cut paste
    links = "".join(f"         Link {n}: 26.562 GB/s\n" for n in range(4))
    text = ("GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-a)\n" + links +
            "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-b)\n" + links[:2 * len(links) // 4])
    gpus = snapshot_from_dumps([write(tmp_path, text)]).snapshot.gpu_list()
    assert len(gpus[0].nvlinks.value) == 4
    assert gpus[1].nvlinks.detail.startswith("partial: GPU 1 shows 2 link lines where another NVIDIA H100 80GB HBM3 shows 4")


def test_indented_text_before_a_query_dump_is_not_a_gpu(tmp_path):
    # a bug report's lspci and dmesg come before its nvidia-smi -q part
    text = ("Start of NVIDIA bug report log file\n00:06.0 3D controller: NVIDIA Corporation\n    Subsystem\n"
            "        Flags : bus master\n==============NVSMI LOG==============\n\nAttached GPUs : 1\n"
            "GPU 00000000:00:06.0\n    Product Name : NVIDIA H200\n")
    gpus = snapshot_from_dumps([write(tmp_path, text)]).snapshot.gpu_list()
    assert [gpu.pci_bus_id.value for gpu in gpus] == ["00000000:00:06.0"]


def test_a_grep_excerpt_of_two_gpus_fabric_sections_is_two_gpus(tmp_path):
    text = ("    Fabric\n        State                  : Completed\n        Status                 : Success\n--\n"
            "    Fabric\n        State                  : In Progress\n        Status                 : N/A\n")
    gpus = snapshot_from_dumps([write(tmp_path, text)]).snapshot.gpu_list()
    assert [gpu.fabric_state.value for gpu in gpus] == ["completed", "in_progress"]
    assert "GPUs numbered in the order printed" in gpus[1].fabric_state.source


def test_several_commands_pasted_in_one_file_are_each_read(tmp_path):
    # the same lent H200's real outputs, pasted one after another behind their prompts, in a quoted reply
    dumps = FIXTURES / "dumps"
    parts = [("nvidia-smi", "smi/h200x1-lent-vm-smi.txt"), ("nvidia-smi topo -m", "topo/h200x1-lent-vm-topo.txt"),
             ("nvidia-smi -L", "smi-L/h200x1-lent-vm-smi-L.txt"), ("nvidia-smi -q", "smi-q/h200x1-lent-vm-smi-q.txt")]
    text = "".join(f"user@h200:~$ {command}\n{(dumps / sample).read_text()}" for command, sample in parts)
    quoted = "".join(f"> {line}\n" for line in text.splitlines())
    for pasted in (text, quoted):
        ingested = snapshot_from_dumps([write(tmp_path, pasted)])
        dump = ingested.recognised[str(tmp_path / "dump.txt")]
        assert {"nvidia-smi", "nvidia-smi topo", "nvidia-smi -L", "nvidia-smi -q"} <= set(dump)
        assert not ingested.conflicts
        (gpu,) = ingested.snapshot.gpu_list()
        assert gpu.name.value == "NVIDIA H200" and gpu.numa_node.value == 0


def test_a_long_glued_cell_that_is_no_matrix_cell_reads_in_linear_time():
    import time

    from gpubal.doctor.ingest.topo import _split_glued

    started = time.monotonic()
    assert _split_glued(["NV18" * 40 + "NV"]) == ["NV18" * 40 + "NV"]  # not cells: kept as it is
    assert _split_glued(["NV18" * 40]) == ["NV18"] * 40
    assert time.monotonic() - started < 0.5  # before: backtracking took minutes


REAL_TABLE = FIXTURES / "dumps" / "smi" / "cbio-gtx680-331-bracket-prompt.txt"  # 3 GPUs, 0-2


def cut_table(drop_gpu_lines: slice, marker: str = "...") -> str:
    """The real 3-GPU table with some GPU rows removed, and `marker` where they were (empty: no marker)."""
    lines = REAL_TABLE.read_text(encoding="utf-8").splitlines()
    kept = lines[:drop_gpu_lines.start] + ([marker] if marker else []) + lines[drop_gpu_lines.stop:]
    return "\n".join(kept) + "\n"


def test_a_whole_table_counts_its_gpus(tmp_path):
    snapshot = snapshot_from_dumps([str(REAL_TABLE)]).snapshot
    assert snapshot.driver.device_count.value == 3


@pytest.mark.parametrize("text, shown", [
    (cut_table(slice(14, 17)), [0, 1]),  # GPU 2's rows cut, `...` in their place
    (cut_table(slice(11, 14), marker=""), [0, 2]),  # GPU 1's rows removed without a marker: a gap
])
def test_a_cut_gpu_list_does_not_say_how_many_gpus_the_host_has(tmp_path, text, shown):
    snapshot = snapshot_from_dumps([write(tmp_path, text)]).snapshot
    assert [gpu.index for gpu in snapshot.gpus.value] == shown  # the GPUs shown are still read
    count = snapshot.driver.device_count
    assert count.reason.value == "not_in_input" and "paste" in count.detail


def test_site_policy_gpu_count_is_not_evaluated_on_a_cut_list(tmp_path):
    from gpubal.doctor.engine import evaluate
    from gpubal.doctor.policy import parse_policy
    from gpubal.model import Outcome
    from gpubal.rules import find_rule

    policy = parse_policy("[expect]\ngpu_count = 3\n", "site.toml")
    rule = [find_rule("site-policy-gpu-count")]
    whole = evaluate(snapshot_from_dumps([str(REAL_TABLE)]).snapshot, rule, policy)
    cut = evaluate(snapshot_from_dumps([write(tmp_path, cut_table(slice(14, 17)))]).snapshot, rule, policy)
    assert [r.outcome for r in whole.results] == [Outcome.PASSED]
    assert [r.outcome for r in cut.results] == [Outcome.NOT_EVALUATED]
