"""The "Clocks Event Reasons" (older drivers: "Clocks Throttle Reasons") block of `nvidia-smi -q`, text
and XML, read into Gpu.clock_event_reasons: the reasons printed "Active", under gpubal's names. With it,
pcie-link-downtrained can judge the link generation of a pasted dump instead of leaving it unevaluated."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpubal.doctor.engine import evaluate
from gpubal.doctor.ingest.dumps import snapshot_from_dumps
from gpubal.model import Known, Outcome, Reason, Unavailable
from gpubal.rules.pcie_link_downtrained import pcie_link_downtrained as pcie_link_downtrained
from helpers.paths import FIXTURES, REPO

DUMPS = FIXTURES / "dumps"
CAPTURES = REPO.parent / "shared" / "captures" / "h200x2"
if not CAPTURES.is_dir():
    CAPTURES = Path("/work/shared/captures/h200x2")
needs_captures = pytest.mark.skipif(not CAPTURES.is_dir(), reason="the h200x2 captures are not here")


def reasons(*paths) -> list:
    snapshot = snapshot_from_dumps([str(path) for path in paths]).snapshot
    return [gpu.clock_event_reasons for gpu in snapshot.gpu_list()]


# What each real sample prints, GPU by GPU: the lent H200 VM says every reason "Not Active"; both GPUs of
# the idle HGX host say "Idle : Active" and nothing else; the A100 (MIG, older driver, "throttle" tags) says
# every reason "Not Active".
@pytest.mark.parametrize("sample, expected", [
    ("smi-q/h200x1-lent-vm-smi-q.txt", [[]]),
    ("smi-q/h200x2-hgx-nvswitch-smi-q.txt", [["gpu_idle"], ["gpu_idle"]]),
    ("smi-q-xml/h200x1-lent-vm-smi-q-xml.txt", [[]]),
    ("smi-q-xml/netdata-a100-sxm4-mig-2x3g.txt", [[]]),
])
def test_the_real_samples_say_what_is_active(sample, expected):
    facts = reasons(DUMPS / sample)
    assert all(isinstance(fact, Known) for fact in facts)
    assert [fact.value for fact in facts] == expected


@needs_captures
def test_the_h200x2_text_and_xml_agree_that_both_gpus_are_idle():
    facts = reasons(CAPTURES / "smi-q.txt", CAPTURES / "smi-q-xml.txt")
    assert [fact.value for fact in facts] == [["gpu_idle"], ["gpu_idle"]]
    assert all("nvidia-smi -q -x" in fact.source for fact in facts)  # merged from both, no conflict


# Hand-made, not a capture: an older driver's "Clocks Throttle Reasons" on a busy GPU whose link trained
# at Gen3 in a Gen4 slot. "Unknown" is a reason gpubal does not name; N/A counts as not active.
HAND_MADE_TEXT = """\
==============NVSMI LOG==============

Driver Version                            : 470.82.01
CUDA Version                              : 11.4

Attached GPUs                             : 1
GPU 00000000:3B:00.0
    Product Name                          : NVIDIA A100-PCIE-40GB
    PCI
        GPU Link Info
            PCIe Generation
                Max                       : 4
                Current                   : 3
            Link Width
                Max                       : 16x
                Current                   : 16x
    Clocks Throttle Reasons
        Idle                              : {idle}
        Applications Clocks Setting       : Not Active
        SW Power Cap                      : {power}
        HW Slowdown                       : Active
            HW Thermal Slowdown           : N/A
            HW Power Brake Slowdown       : {brake}
        Sync Boost                        : Not Active
        SW Thermal Slowdown               : Not Active
        Display Clock Setting             : Not Active
        Unknown                           : Active
    FB Memory Usage
        Total                             : 40536 MiB
"""


def write(tmp_path, text, name="smi-q.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_hand_made_throttle_block_names_only_the_active_reasons(tmp_path):
    (fact,) = reasons(write(tmp_path, HAND_MADE_TEXT.format(idle="Not Active", power="Active", brake="Active")))
    assert fact.value == ["sw_power_cap", "hw_slowdown", "hw_power_brake_slowdown"]


def test_a_busy_gpu_below_its_link_generation_is_now_judged_from_a_paste(tmp_path):
    snapshot = snapshot_from_dumps([str(write(tmp_path, HAND_MADE_TEXT.format(
        idle="Not Active", power="Active", brake="Not Active")))]).snapshot
    (result,) = evaluate(snapshot, [pcie_link_downtrained]).results
    assert result.outcome is Outcome.FINDING
    (found,) = result.findings
    assert "Gen3 while busy, below the Gen4" in found.message
    assert found.evidence["gpu:0.clock_event_reasons"] == ["sw_power_cap", "hw_slowdown"]


def test_an_idle_gpu_below_its_link_generation_passes(tmp_path):
    snapshot = snapshot_from_dumps([str(write(tmp_path, HAND_MADE_TEXT.format(
        idle="Active", power="Not Active", brake="Not Active")))]).snapshot
    (result,) = evaluate(snapshot, [pcie_link_downtrained]).results
    assert result.outcome is Outcome.PASSED


def test_a_block_of_only_n_a_is_not_read_as_no_reason_active(tmp_path):
    text = HAND_MADE_TEXT.format(idle="N/A", power="N/A", brake="N/A")
    text = text.replace(": Not Active", ": N/A").replace("HW Slowdown                       : Active",
                                                         "HW Slowdown                       : N/A")
    (fact,) = reasons(write(tmp_path, text))
    assert isinstance(fact, Unavailable) and fact.reason is Reason.NOT_IN_INPUT
    snapshot = snapshot_from_dumps([str(tmp_path / "smi-q.txt")]).snapshot
    (result,) = evaluate(snapshot, [pcie_link_downtrained]).results
    assert result.outcome is Outcome.NOT_EVALUATED and result.missing_fact == "gpu:0.clock_event_reasons"


def test_hand_made_xml_with_throttle_tags(tmp_path):
    # Hand-made, not a capture: the older XML tag names, one reason active, whitespace around a value.
    text = """<?xml version="1.0" ?>
<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v11.dtd">
<nvidia_smi_log>
<driver_version>470.82.01</driver_version>
<attached_gpus>1</attached_gpus>
<gpu id="00000000:3B:00.0">
<product_name>NVIDIA A100-PCIE-40GB</product_name>
<clocks_throttle_reasons>
<clocks_throttle_reason_gpu_idle>Not Active</clocks_throttle_reason_gpu_idle>
<clocks_throttle_reason_sw_thermal_slowdown>
  Active
</clocks_throttle_reason_sw_thermal_slowdown>
<clocks_throttle_reason_display_clocks_setting>Active</clocks_throttle_reason_display_clocks_setting>
</clocks_throttle_reasons>
</gpu>
</nvidia_smi_log>
"""
    (fact,) = reasons(write(tmp_path, text, "smi-q-x.xml"))
    assert fact.value == ["sw_thermal_slowdown", "display_clock_setting"]
