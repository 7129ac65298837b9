"""The 2x H200 HGX dumps in the corpus read together: `nvidia-smi -q` and `topo -m` make one snapshot
of two H200s joined by NV18 with the NVSwitch fabric up, and `gpubal doctor --from` finds nothing wrong."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from gpubal.cli import app
from gpubal.doctor.ingest.dumps import snapshot_from_dumps
from helpers.paths import FIXTURES

DUMPS = FIXTURES / "dumps"
SMI_Q = DUMPS / "smi-q" / "h200x2-hgx-nvswitch-smi-q.txt"
TOPO = DUMPS / "topo" / "h200x2-hgx-nvswitch-topo.txt"


def test_smi_q_and_topo_make_two_h200_on_nv18_with_fabric_completed():
    ingested = snapshot_from_dumps([str(SMI_Q), str(TOPO)])
    assert ingested.conflicts == []
    assert ingested.recognised == {str(SMI_Q): ["nvidia-smi -q"], str(TOPO): ["nvidia-smi topo"]}
    snapshot = ingested.snapshot
    gpus = snapshot.gpu_list()
    assert [gpu.index for gpu in gpus] == [0, 1]
    assert [gpu.name.value for gpu in gpus] == ["NVIDIA H200", "NVIDIA H200"]
    assert [gpu.pci_bus_id.value for gpu in gpus] == ["00000000:00:06.0", "00000000:00:07.0"]
    assert [(gpu.fabric_state.value, gpu.fabric_status.value) for gpu in gpus] == [("completed", "success")] * 2
    assert [(gpu.numa_node.value, gpu.cpu_affinity.value) for gpu in gpus] == [(0, "0-31")] * 2
    (pair,) = snapshot.pairs.value
    assert (pair.gpu_a, pair.gpu_b, pair.nvlink_count.value) == (0, 1, 18)
    assert pair.nvlink_count.source == f"{TOPO}: nvidia-smi topo -m"
    assert snapshot.driver.version.value == "580.159.04"


def _doctor(*args: str):
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 keeps stderr apart already
        runner = CliRunner()
    return runner.invoke(app, ["doctor", "--from", str(SMI_Q), "--from", str(TOPO), *args])


def test_doctor_from_the_h200x2_dumps_raises_no_warning_or_error():
    result = _doctor("--format", "json", "--fail-on", "never")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # no conflict between the two dumps
    report = json.loads(result.stdout)
    assert (report["verdict"]["errors"], report["verdict"]["warnings"], report["verdict"]["crashed"]) == (0, 0, 0)
    assert [f for f in report["findings"] if f["severity"] in ("error", "warning")] == []
    passed = {(r["rule_id"], r["subject"]) for r in report["results"] if r["outcome"] == "passed"}
    assert {("nvswitch-fabric-not-ready", "gpu:0"), ("nvswitch-fabric-not-ready", "gpu:1"),
            ("pcie-link-downtrained", "gpu:0"), ("gpu-pair-crosses-numa", "gpu:0-gpu:1")} <= passed


def test_doctor_from_the_h200x2_dumps_exits_0_by_default():
    result = _doctor()
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "Findings: 0 errors, 0 warnings" in result.stdout


def test_the_vbios_version_is_read_from_smi_q_text_and_xml():
    gpus = snapshot_from_dumps([str(SMI_Q)]).snapshot.gpu_list()
    assert [gpu.vbios_version.value for gpu in gpus] == ["96.00.A5.00.1A"] * 2  # VBIOS Version, as printed
    xml = DUMPS / "smi-q-xml" / "netdata-a100-sxm4-mig-2x3g.txt"
    (gpu,) = snapshot_from_dumps([str(xml)]).snapshot.gpu_list()
    assert gpu.vbios_version.value == "92.00.45.00.03"  # <vbios_version>


def test_a_dump_without_a_vbios_line_leaves_the_vbios_version_unknown():
    from gpubal.model import Reason, Unavailable

    gpus = snapshot_from_dumps([str(TOPO)]).snapshot.gpu_list()
    assert all(isinstance(gpu.vbios_version, Unavailable) and gpu.vbios_version.reason is Reason.NOT_IN_INPUT
               for gpu in gpus)
