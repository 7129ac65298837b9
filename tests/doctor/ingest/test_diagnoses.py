"""The diagnoses an expert reads from the real dumps, raised by the same rules that judge a live host."""

from __future__ import annotations


import pytest

from gpubal.doctor.engine import evaluate
from gpubal.doctor.ingest.dumps import snapshot_from_dumps
from gpubal.model import Known, Outcome, Unavailable
from gpubal.rules import all_rules
from helpers.paths import FIXTURES

DUMPS = FIXTURES / "dumps"


def findings(*samples: str):
    report = evaluate(snapshot_from_dumps([str(DUMPS / sample) for sample in samples]).snapshot, all_rules())
    return report, {(finding.rule_id, finding.subject) for finding in report.findings()}


def test_one_gpu_per_socket_crosses_numa():
    _, found = findings("topo/club3090-2x3090-sys-two-sockets-legend-cut.txt")
    assert ("gpu-pair-crosses-numa", "gpu:0-gpu:1") in found


def test_the_lone_gpu_on_the_second_socket_crosses_numa_to_every_other():
    _, found = findings("topo/club3090-5gpu-mixed-2numa.txt")
    crossing = {subject for rule, subject in found if rule == "gpu-pair-crosses-numa"}
    assert crossing == {"gpu:0-gpu:1", "gpu:0-gpu:2", "gpu:0-gpu:3", "gpu:0-gpu:4"}


@pytest.mark.parametrize("sample", ["topo/aws-p4d-8xa100-nv12-nvswitch.txt", "topo/aws-g6e12xl-4gpu-node.txt",
                                    "topo/club3090-2x5090-phb-tabs.txt"])
def test_pairs_under_one_socket_or_on_nvlink_pass(sample):
    report, found = findings(sample)
    assert not any(rule == "gpu-pair-crosses-numa" for rule, _ in found)
    assert any(r.rule_id == "gpu-pair-crosses-numa" and r.outcome is Outcome.PASSED for r in report.results)


def test_inactive_nvlinks_on_the_v100():
    report, found = findings("nvlink-s/azhpc-v100-inactive-links-elided.txt")
    assert ("nvlink-link-inactive", "gpu:3") in found
    finding = next(f for f in report.findings() if f.rule_id == "nvlink-link-inactive")
    assert "3" in finding.message and "5" in finding.message


def test_mig_with_instances_is_not_a_finding_and_persistence_off_is():
    report, found = findings("smi-q-xml/netdata-a100-sxm4-mig-2x3g.txt")
    assert ("persistence-mode-off", "gpu:0") in found
    mig = [r for r in report.results if r.rule_id in ("mig-enabled-without-instances", "mig-pending-reboot")]
    assert mig and all(r.outcome is Outcome.PASSED for r in mig)


def test_mig_listed_by_smi_l_only_is_not_judged_without_instances_details():
    report, _ = findings("smi-L/telegraf-a100x4-mig-gpu0.txt")
    result = next(r for r in report.results if r.rule_id == "mig-mixed-across-gpus")
    assert result.outcome is Outcome.NOT_EVALUATED and result.missing_reason.startswith("not_in_input")


def test_an_undated_end_of_life_is_not_judged_on_a_dump_older_than_the_matrix():
    # R510 is listed as ended without a date; the XML is dated January 2023 by its own timestamp
    report, found = findings("smi-q-xml/netdata-a100-sxm4-mig-2x3g.txt")
    assert report.snapshot.collected_at == "2023-01-27T11:32:31"
    result = next(r for r in report.results if r.rule_id == "driver-branch-end-of-life")
    assert result.outcome is Outcome.NOT_EVALUATED and "dated 2023-01-27" in result.missing_fact


# Hand-made, not a capture: the `nvidia-smi -L` of a 4-GPU host (the issue the Ollama sample comes from is a
# 4x L4 studio); the UUIDs are made up.
SMI_L_4_GPUS = "".join(f"GPU {i}: NVIDIA L4 (UUID: GPU-{i}{i}{i}{i}{i}{i}{i}{i}-0000-0000-0000-00000000000{i})\n"
                       for i in range(4))


def _hidden_gpus(report):
    return next(r for r in report.results if r.rule_id == "ollama-hidden-gpus")


def test_cuda_visible_0_to_7_on_a_4_gpu_host_hides_none_of_its_gpus(tmp_path):
    # CUDA stops at "4", the first index that matches no GPU; by then 0-3, every GPU there is, are visible.
    # Entries naming GPUs that do not exist are not what this rule checks: no finding.
    smi_l = tmp_path / "smi-L.txt"
    smi_l.write_text(SMI_L_4_GPUS)
    log = DUMPS / "ollama-log" / "server-config-cuda-visible-0-7-wrapped.txt"
    report = evaluate(snapshot_from_dumps([str(log), str(smi_l)]).snapshot, all_rules())
    result = _hidden_gpus(report)
    assert result.outcome is Outcome.PASSED and not result.findings


def test_the_ollama_log_alone_leaves_hidden_gpus_not_evaluated():
    report, _ = findings("ollama-log/server-config-cuda-visible-0-7-wrapped.txt")
    result = _hidden_gpus(report)
    assert result.outcome is Outcome.NOT_EVALUATED and result.missing_fact == "gpus"
    assert result.missing_reason.startswith("not_in_input")


# What an expert reads from each real sample alone, named by a gpubal rule
EXPERT_DIAGNOSES = [
    ("ollama-log/h200-two-libcuda-cuinit-802.txt", "ollama-cuda-init-failed", "ollama"),
    ("ollama-log/h200-two-libcuda-cuinit-802.txt", "ollama-several-libcuda-versions", "host"),
    ("ollama-log/h200-two-libcuda-cuinit-802.txt", "ollama-runs-on-cpu", "ollama"),
    ("ollama-log/a100-docker-init-failure-802-broken-word.txt", "ollama-cuda-init-failed", "ollama"),
    ("ollama-log/rtx6000-blackwell-init-failure-3.txt", "ollama-cuda-init-failed", "ollama"),
    ("ollama-log/ollama-ov-no-compatible-gpus-cpu.txt", "ollama-runs-on-cpu", "ollama"),
    ("ollama-log/compatible-gpu-libraries-empty-cpu-backend.txt", "ollama-runs-on-cpu", "ollama"),
    ("ollama-log/windows-amd-gfx1150-no-compatible-gpus-elided.txt", "ollama-runs-on-cpu", "ollama"),
    ("ollama-log/a2000-journald-debug-memory-in-use.txt", "ollama-gpu-memory-in-use", "ollama"),
    ("ollama-log/a100-driver-470-legacy-gpu-lines.txt", "ollama-driver-too-old", "host"),
    ("ollama-log/3gpu-pascal-inference-compute-redacted-ids.txt", "heterogeneous-gpus", "host"),
    ("collect-env/vllm15592-8xa100-pcie-driver-525-torch-cu124.txt", "framework-cuda-build", "host"),
    ("smi/rapidsai-v100-cuda-na-bold-shell-prompt.txt", "libcuda-unusable", "host"),
    ("ollama-log/jul2024-libcuda-418-elfclass32-undefined-symbol.txt", "ollama-cuda-init-failed", "ollama"),
    ("ollama-log/jul2024-libcuda-418-elfclass32-undefined-symbol.txt", "ollama-runs-on-cpu", "ollama"),
    ("ollama-log/jul2024-libcuda-418-elfclass32-undefined-symbol.txt", "driver-branch-end-of-life", "host"),
    ("smi/ros-docker-quadro-p620-cuda-na-prompt.txt", "libcuda-unusable", "host"),
]


@pytest.mark.parametrize("sample, rule_id, subject", EXPERT_DIAGNOSES,
                         ids=lambda value: value.rsplit("/", 1)[-1] if "/" in value else value)
def test_the_expert_diagnosis_is_a_finding(sample, rule_id, subject):
    _, found = findings(sample)
    assert (rule_id, subject) in found


def test_cuinit_802_in_the_log_names_fabric_manager():
    report, _ = findings("ollama-log/h200-two-libcuda-cuinit-802.txt")
    finding = next(f for f in report.findings() if f.rule_id == "ollama-cuda-init-failed")
    assert "Fabric Manager" in finding.message and finding.fix.url.endswith("fabric-manager-user-guide/index.html")


def test_gpus_ollama_lists_run_the_per_gpu_rules():
    # the Pascal GPUs of the log become snapshot GPUs: Ollama's floor (5.0) passes them, vLLM's rule does not apply
    report, _ = findings("ollama-log/3gpu-pascal-inference-compute-redacted-ids.txt")
    ollama_floor = [r for r in report.results if r.rule_id == "ollama-gpu-unsupported"]
    assert len(ollama_floor) == 3 and all(r.outcome is Outcome.PASSED for r in ollama_floor)


@pytest.mark.parametrize("sample", ["collect-env/vllm18285-macos-torch-cpu-only-no-cuda.txt",
                                    "ollama-log/rtx4090-inference-compute-and-debug-trace.txt",
                                    "ollama-log/h100-engine-inference-compute-name-cuda0.txt",
                                    "collect-env/vllm9293-wsl-rtx4070-laptop-driver-551.txt",
                                    "ollama-log/a100-journald-libcuda-550-with-lib32-copy.txt"])
def test_healthy_samples_raise_no_error_or_warning(sample):
    report, _ = findings(sample)
    assert [f.rule_id for f in report.findings() if f.severity.value in ("error", "warning")] == []


def test_hidden_gpus_are_not_judged_on_the_gpus_ollama_itself_lists(tmp_path):
    # A hand-written server config line (0.5+ form) before a real log: CUDA_VISIBLE_DEVICES=1 and the one GPU
    # Ollama then sees, which Ollama numbers 0 and the host calls 1.
    # Its own list cannot tell which GPUs it was kept from: not evaluated, never "hides every GPU".
    log = tmp_path / "ollama.log"
    log.write_text(
        'time=2025-02-09T17:56:22.872+08:00 level=INFO source=routes.go:1187 msg="server config" '
        'env="map[CUDA_VISIBLE_DEVICES:1 OLLAMA_DEBUG:true]"\n'
        + (DUMPS / "ollama-log" / "rtx4090-inference-compute-and-debug-trace.txt").read_text())
    report = evaluate(snapshot_from_dumps([str(log)]).snapshot, all_rules())
    result = _hidden_gpus(report)
    assert result.outcome is Outcome.NOT_EVALUATED and "could see" in result.missing_reason


def test_a_2024_log_on_driver_470_is_judged_as_of_its_date():
    # R470 was still supported in June 2024; the Ollama of then ran on it (it listed the A100 through CUDA 11.4)
    report, found = findings("ollama-log/a100-driver-470-legacy-gpu-lines.txt")
    assert report.snapshot.collected_at.startswith("2024-06-06")
    assert not any(rule == "driver-branch-end-of-life" for rule, _ in found)
    assert next(f for f in report.findings() if f.rule_id == "ollama-driver-too-old").severity.value == "info"


def test_a_driver_library_that_will_not_load_is_said_without_an_invented_error_number():
    # the 418 libcuda copies fail to load (wrong ELF class, a missing symbol): the log prints no CUDA error
    report, _ = findings("ollama-log/jul2024-libcuda-418-elfclass32-undefined-symbol.txt")
    found = [f for f in report.findings() if f.rule_id == "ollama-cuda-init-failed"]
    assert len(found) == 1
    assert "lists under this number" not in found[0].message and "error without" not in found[0].message
    assert found[0].evidence["error"] == "none printed"


# Desktop GPUs that drive the screen (`Disp.A On`, `Display Active : Enabled`): persistence off is no fault
# there, the display server keeps the GPU initialised (NVIDIA, Driver Persistence)
DISPLAY_DRIVING = ["smi/frogging-rtx4070-550.40.07-prompt.txt", "smi/mistralrs-rtx5070-r610-name-cut.txt",
                   "smi-q/nvct-gtx1080ti-440-smi-a-fenced.txt", "smi-q/nvidia-docker-gtx1080-396-no-cuda-line.txt",
                   "smi-q/nvidia-docker-quadro-m1000m-375-4digit-domain.txt"]


@pytest.mark.parametrize("sample", DISPLAY_DRIVING, ids=lambda value: value.rsplit("/", 1)[-1])
def test_persistence_off_on_a_gpu_driving_a_display_is_not_a_finding(sample):
    report, found = findings(sample)
    assert not any(rule == "persistence-mode-off" for rule, _ in found)
    assert only(report, "persistence-mode-off", "gpu:0").outcome is Outcome.PASSED


@pytest.mark.parametrize("sample", ["smi/rapidsai-v100-cuda-na-bold-shell-prompt.txt",  # Disp.A Off
                                    "smi-q-xml/netdata-a100-sxm4-mig-2x3g.txt",  # <display_active>Disabled
                                    "smi/cbio-gtx680-331-bracket-prompt.txt"],  # Disp.A N/A: unknown
                         ids=lambda value: value.rsplit("/", 1)[-1])
def test_persistence_off_on_a_headless_gpu_is_still_a_finding(sample):
    _, found = findings(sample)
    assert ("persistence-mode-off", "gpu:0") in found


def only(report, rule_id, subject):
    return next(r for r in report.results if r.rule_id == rule_id and r.subject == subject)


def test_ollama_0_1_2x_used_mem_line_holds_free_memory():
    # 0.1.21-0.1.27 logged NVML's free memory as `usedMem`; the log's own CheckVRAM line (977M = free less
    # the 1 GiB Ollama keeps back) agrees, so the MX130 had 2.0 of 2.0 GiB *free*: nothing held by others
    report, found = findings("ollama-log/feb2024-wsl-mx130-legacy-bytes-memory-used.txt")
    gpu = report.snapshot.ollama.log_gpus.value[0]
    assert (gpu.total_bytes, gpu.available_bytes) == (2147483648, 2098724864)
    assert not any(rule == "ollama-gpu-memory-in-use" for rule, _ in found)
    assert only(report, "ollama-gpu-memory-in-use", "host").outcome is Outcome.PASSED


@pytest.mark.parametrize("sample, shown", [
    ("smi/frogging-rtx4070-550.40.07-prompt.txt", True),  # table, `Disp.A On`
    ("smi/h100-sxm-x8-565.txt", False),  # table, `Disp.A Off`
    ("smi-q/nvct-gtx1080ti-440-smi-a-fenced.txt", True),  # -q, `Display Active : Enabled`
    ("smi-q-xml/netdata-a100-sxm4-mig-2x3g.txt", False),  # -q -x, `<display_active>Disabled`
], ids=lambda value: value.rsplit("/", 1)[-1] if isinstance(value, str) else str(value))
def test_display_active_is_read_from_each_nvidia_smi_form(sample, shown):
    report, _ = findings(sample)
    fact = report.snapshot.gpu_list()[0].display_active
    assert isinstance(fact, Known) and fact.value is shown


@pytest.mark.parametrize("sample", ["smi/cbio-gtx680-331-bracket-prompt.txt",  # `Disp.A N/A`
                                    "smi-q/sysmon-gtx780-450-prompt.txt"])  # `Display Active : N/A`
def test_display_active_n_a_stays_unknown(sample):
    report, _ = findings(sample)
    assert isinstance(report.snapshot.gpu_list()[0].display_active, Unavailable)
