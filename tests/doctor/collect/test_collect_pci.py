"""The PCIe platform facts: ACS controls parsed from a real `lspci -vvv` (tests/fixtures/lspci, source in the
file), and GPU paths and IOMMU group types read from a sysfs tree built the way the kernel lays it out
(device directories nested under their bridges, /sys/bus/pci/devices and iommu_group as symbolic links)."""

import os
from pathlib import Path

import pytest
from helpers import known

from gpubal.doctor.collect.pci import collect_pci, parse_acs_controls
from gpubal.model import Known, Reason, Unavailable
from gpubal.doctor.probes.files import HostFiles
from helpers.paths import FIXTURES

LSPCI = FIXTURES / "lspci" / "comet-lake-root-ports.txt"


def test_acs_controls_of_a_real_lspci_are_read_per_bridge():
    controls = parse_acs_controls(LSPCI.read_text(), "lspci -vvv")
    # 00:1b.0 redirects (its ACSCtl line); 00:01.0 has no ACS capability at all
    assert controls == Known({"0000:00:1b.0": ["SrcValid", "ReqRedir", "CmpltRedir"]}, "lspci -vvv")


def test_lspci_as_a_normal_user_says_it_needs_root():
    text = "00:1b.0 PCI bridge: Intel Corporation Comet Lake PCI Express Root Port #17\n\tCapabilities: <access denied>\n"
    controls = parse_acs_controls(text, "lspci -vvv")
    assert isinstance(controls, Unavailable) and controls.reason is Reason.NO_PERMISSION


def _device(root: Path, chain, iommu_type=None):
    """/sys/devices/pci0000:00/<chain...> with /sys/bus/pci/devices/<last> linking to it."""
    directory = root / "sys" / "devices" / "pci0000:00"
    for bdf in chain:
        directory = directory / bdf
    directory.mkdir(parents=True, exist_ok=True)
    links = root / "sys" / "bus" / "pci" / "devices"
    links.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(directory, links), links / chain[-1])
    if iommu_type is not None:
        group = root / "sys" / "kernel" / "iommu_groups" / chain[-1].replace(":", "_")
        group.mkdir(parents=True)
        (group / "type").write_text(iommu_type + "\n")
        os.symlink(os.path.relpath(group, directory), directory / "iommu_group")


@pytest.fixture
def pcie_only_host(h200x2_snapshot, tmp_path):
    """The recorded 2x H200 GPUs moved behind a PCIe switch (no NVLink), IOMMU in translated mode on one."""
    from helpers import with_gpu, with_pair

    snapshot = with_gpu(h200x2_snapshot, 0, pci_bus_id=known("00000000:06:00.0"))
    snapshot = with_gpu(snapshot, 1, pci_bus_id=known("00000000:07:00.0"))
    snapshot = with_pair(snapshot, 0, 1, nvlink_count=known(0), nvlink_route=known("none"))
    _device(tmp_path, ["0000:00:1b.0", "0000:04:00.0", "0000:05:00.0", "0000:06:00.0"], iommu_type="DMA-FQ")
    _device(tmp_path, ["0000:00:1b.0", "0000:04:00.0", "0000:05:01.0", "0000:07:00.0"], iommu_type="identity")
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "cmdline").write_text("BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on\n")
    return snapshot, HostFiles(str(tmp_path))


def test_paths_group_types_and_command_line_come_from_sysfs(pcie_only_host):
    snapshot, files = pcie_only_host
    ran = []

    def lspci(argv, timeout_s):
        ran.append(argv)
        return LSPCI.read_text()

    pci = collect_pci(files, snapshot.gpus, snapshot.pairs, lspci)
    assert pci.gpu_pci_paths.value == {"0": ["0000:00:1b.0", "0000:04:00.0", "0000:05:00.0"],
                                       "1": ["0000:00:1b.0", "0000:04:00.0", "0000:05:01.0"]}
    assert pci.iommu_group_types.value == {"0000:06:00.0": "DMA-FQ", "0000:07:00.0": "identity"}
    assert pci.kernel_command_line.value == "BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on"
    assert ran == [["lspci", "-vvv"]]  # a pair without NVLink: ACS matters, so lspci ran
    assert "0000:00:1b.0" in pci.acs_controls.value


def test_lspci_is_not_run_when_every_pair_has_nvlink(h200x2_snapshot, tmp_path):
    def lspci(argv, timeout_s):  # pragma: no cover - must not be called
        raise AssertionError("lspci ran on an NVLink host")

    pci = collect_pci(HostFiles(str(tmp_path)), h200x2_snapshot.gpus, h200x2_snapshot.pairs, lspci)
    assert isinstance(pci.acs_controls, Unavailable) and pci.acs_controls.reason is Reason.NOT_SUPPORTED


def test_a_gpu_in_no_iommu_group_is_untranslated(pcie_only_host, tmp_path):
    snapshot, _ = pcie_only_host
    other = tmp_path / "no-iommu"
    _device(other, ["0000:00:1b.0", "0000:04:00.0", "0000:05:00.0", "0000:06:00.0"])
    _device(other, ["0000:00:1b.0", "0000:04:00.0", "0000:05:01.0", "0000:07:00.0"])
    pci = collect_pci(HostFiles(str(other)), snapshot.gpus, snapshot.pairs, lambda argv, t: "")
    assert pci.iommu_group_types.value == {"0000:06:00.0": "none", "0000:07:00.0": "none"}
