"""P2P over PCIe: the recorded 2x H200 made PCIe-only (no NVLink), its GPUs behind one PCIe switch
(root port 00:1b.0, switch upstream port 04:00.0, downstream ports 05:00.0 and 05:01.0). The ACS flags of
the switch ports are those a PLX switch showed in https://github.com/HeyMeco/Rockchip-pcie-devices/issues/6
(ACSCtl: SrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+)."""

import dataclasses

import pytest
from helpers import assert_actionable, known, only_result, unavailable, with_host, with_pair

from gpubal.doctor.engine import evaluate
from gpubal.model import Known, Outcome, PciPlatform, Reason, Severity
from gpubal.rules.p2p_redirected_by_acs import p2p_redirected_by_acs as acs_rule
from gpubal.rules.p2p_through_translating_iommu import p2p_through_translating_iommu as iommu_rule

PLX_REDIRECT = ["SrcValid", "ReqRedir", "CmpltRedir", "UpstreamFwd"]
SWITCH_PATHS = {"0": ["0000:00:1b.0", "0000:04:00.0", "0000:05:00.0"],
                "1": ["0000:00:1b.0", "0000:04:00.0", "0000:05:01.0"]}


def _platform(paths=SWITCH_PATHS, acs=None, types=None, cmdline="BOOT_IMAGE=/vmlinuz intel_iommu=on"):
    return PciPlatform(kernel_command_line=known(cmdline),
                       iommu_group_types=known(types or {"0000:00:06.0": "identity", "0000:00:07.0": "identity"}),
                       gpu_pci_paths=known(paths),
                       acs_controls=known(acs if acs is not None else {}))


@pytest.fixture(scope="module")
def pcie_only(h200x2_snapshot):
    snapshot = with_pair(h200x2_snapshot, 0, 1, nvlink_count=known(0), nvlink_route=known("none"))
    return with_host(snapshot, virtualization=known("none"))


def _run(snapshot, rule, **platform):
    changed = dataclasses.replace(snapshot, pci=_platform(**platform))
    return only_result(evaluate(changed, [rule]), "gpu:0-gpu:1")


def test_acs_redirect_on_the_switch_ports_is_a_warning_naming_them(pcie_only):
    result = _run(pcie_only, acs_rule, acs={"0000:05:00.0": PLX_REDIRECT, "0000:05:01.0": PLX_REDIRECT})
    (found,) = result.findings
    assert found.severity is Severity.WARNING
    assert "0000:05:00.0 (ReqRedir+ CmpltRedir+)" in found.message
    assert "sudo setpci -v -s 0000:05:01.0 ECAP_ACS+0x6.w=0000" in found.fix.commands
    assert found.fix.url.endswith("#pci-access-control-services-acs")
    assert_actionable(found.fix)


def test_source_validation_alone_does_not_redirect(pcie_only):
    only_source_validation = {"0000:05:00.0": ["SrcValid"], "0000:05:01.0": ["SrcValid"]}
    assert _run(pcie_only, acs_rule, acs=only_source_validation).outcome is Outcome.PASSED


def test_gpus_under_different_root_ports_are_not_judged_on_acs(pcie_only):
    apart = {"0": ["0000:00:1b.0"], "1": ["0000:00:1c.0"]}
    redirect = {"0000:00:1b.0": ["SrcValid", "ReqRedir", "CmpltRedir"]}  # the real Comet Lake root port
    assert _run(pcie_only, acs_rule, paths=apart, acs=redirect).outcome is Outcome.PASSED


def test_nvlink_pairs_pass_without_looking(h200x2_snapshot):
    for rule in (acs_rule, iommu_rule):
        result = only_result(evaluate(h200x2_snapshot, [rule]), "gpu:0-gpu:1")
        assert result.outcome is Outcome.PASSED


def test_acs_unreadable_is_not_evaluated(pcie_only):
    changed = dataclasses.replace(pcie_only, pci=dataclasses.replace(
        _platform(), acs_controls=unavailable(Reason.NO_PERMISSION)))
    assert only_result(evaluate(changed, [acs_rule]), "gpu:0-gpu:1").outcome is Outcome.NOT_EVALUATED


def test_a_translating_iommu_is_a_warning_with_iommu_pt(pcie_only):
    result = _run(pcie_only, iommu_rule, types={"0000:00:06.0": "DMA-FQ", "0000:00:07.0": "DMA-FQ"})
    (found,) = result.findings
    assert found.severity is Severity.WARNING and "GPU 0: DMA-FQ, GPU 1: DMA-FQ" in found.message
    assert found.evidence["pci.kernel_command_line"] == "BOOT_IMAGE=/vmlinuz intel_iommu=on"
    assert any("iommu=pt" in command for command in found.fix.commands)
    assert_actionable(found.fix)


def test_passthrough_or_no_iommu_passes(pcie_only):
    assert _run(pcie_only, iommu_rule).outcome is Outcome.PASSED
    assert _run(pcie_only, iommu_rule, types={"0000:00:06.0": "none", "0000:00:07.0": "none"}).outcome \
        is Outcome.PASSED


def test_a_virtual_machine_is_left_to_its_host(pcie_only):
    vm = with_host(pcie_only, virtualization=known("kvm"))
    result = _run(vm, iommu_rule, types={"0000:00:06.0": "DMA", "0000:00:07.0": "DMA"})
    assert result.outcome is Outcome.PASSED
