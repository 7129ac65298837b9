"""The process table in each report: the recorded 2x H200 snapshot with three processes of the kinds the
collector meets (a vLLM server holding both GPUs, an idle `ollama serve` of another user whose environment
is hidden, and a PID NVML gave that /proc here does not show)."""

from __future__ import annotations

import dataclasses

import pytest

from gpubal.doctor.engine import evaluate
from gpubal.model import GpuProcess, Known, Reason, Unavailable
from gpubal.reports.markdown import render_markdown
from gpubal.reports.html import render_html
from gpubal.reports.summary import process_table
from helpers.goldens import check_golden, terminal_text, without_trailing_spaces


def _k(value, source="/proc/4242/status"):
    return Known(value, source)


VLLM = GpuProcess(
    pid=4242, program=_k("vllm", "/proc/4242/comm, cmdline"), found_by="nvml, name",
    command_line=_k("/opt/vllm/bin/python3 -m vllm.entrypoints.openai.api_server --model Qwen/Qwen3-8B "
                    "--tensor-parallel-size 2 --api-key (secret dropped)", "/proc/4242/cmdline"),
    user=_k("svc-llm", "/proc/4242/status Uid, /etc/passwd"),
    cgroup=_k("/system.slice/vllm.service", "/proc/4242/cgroup"), container=_k("none", "/proc/4242/cgroup"),
    gpu_environment=_k({"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": "1,0", "NCCL_P2P_LEVEL": "NVL"},
                       "/proc/4242/environ (as the process started)"),
    cpus_allowed=_k("0-15", "/proc/4242/status Cpus_allowed_list"),
    memory_nodes_allowed=_k("0", "/proc/4242/status Mems_allowed_list"),
    gpus_held=_k([0, 1], "nvmlDeviceGetComputeRunningProcesses"),
    gpu_numa_nodes=_k([0], "gpus_held, gpu:N.numa_node"),
    gpu_libraries=_k(["/opt/vllm/lib/python3.12/site-packages/nvidia/cuda_runtime/lib/libcudart.so.12",
                      "/opt/vllm/lib/python3.12/site-packages/nvidia/nccl/lib/libnccl.so.2",
                      "/usr/lib/x86_64-linux-gnu/libcuda.so.580.95.05"], "/proc/4242/maps"),
    model_config=_k({"num_attention_heads": 32, "num_key_value_heads": 8},
                    "/home/svc-llm/.cache/huggingface/hub/models--Qwen--Qwen3-8B/snapshots/0123abc/config.json"),
)
HIDDEN = Unavailable(Reason.NO_PERMISSION, "/proc/977/environ",
                     "readable only by the process's user and root (run gpubal as either)")
OLLAMA = dataclasses.replace(
    VLLM, pid=977, program=_k("ollama", "/proc/977/comm, cmdline"), found_by="name",
    command_line=_k("/usr/local/bin/ollama serve", "/proc/977/cmdline"), user=_k("ollama"),
    cgroup=_k("/system.slice/ollama.service", "/proc/977/cgroup"), gpu_environment=HIDDEN,
    cpus_allowed=_k("0-31"), memory_nodes_allowed=_k("0"), gpus_held=_k([], "nvmlDeviceGetComputeRunningProcesses"),
    gpu_numa_nodes=_k([], "gpus_held, gpu:N.numa_node"), gpu_libraries=dataclasses.replace(HIDDEN, source="/proc/977/maps"))
GONE = Unavailable(Reason.NOT_FOUND, "/proc/5150", "no such process here (it may have exited)")
VANISHED = GpuProcess(pid=5150, program=GONE, found_by="nvml", command_line=GONE, user=GONE, cgroup=GONE,
                      container=GONE, gpu_environment=GONE, cpus_allowed=GONE, memory_nodes_allowed=GONE,
                      gpus_held=_k([1], "nvmlDeviceGetComputeRunningProcesses"),
                      gpu_numa_nodes=_k([0], "gpus_held, gpu:N.numa_node"), gpu_libraries=GONE)


@pytest.fixture(scope="module")
def report(h200x2_snapshot):
    snapshot = dataclasses.replace(h200x2_snapshot, processes=Known(
        [OLLAMA, VLLM, VANISHED], "/proc/*/comm, cmdline, nvmlDeviceGetComputeRunningProcesses"))
    return evaluate(snapshot, [])


def test_terminal_process_table_matches_golden(report, update_goldens):
    text = without_trailing_spaces(terminal_text(report))
    check_golden("h200x2-processes.txt", text[text.index("Processes"):text.index("Findings")], update_goldens)


def test_a_hidden_environment_says_why_instead_of_looking_empty(report):
    rows = {row[0]: row for row in process_table(report).rows}
    assert rows["977"][7] == "unknown (no permission)"
    assert rows["4242"][7] == "1,0"
    assert rows["5150"][1] == "not visible"


def test_markdown_and_html_show_the_table_and_each_command(report):
    markdown = render_markdown(report, redact=False)
    assert "### Processes using GPUs, and model servers" in markdown
    assert "| `4242` | `vllm` | `svc-llm` | `0,1` | `0` | `0-15` | `0` | `1,0` | `1,0` |" in markdown
    assert "--tensor-parallel-size 2 --api-key (secret dropped)" in markdown
    html = render_html(report, redact=False)
    assert '<section id="processes">' in html and "/system.slice/vllm.service" in html


def test_redacted_reports_replace_the_user_names(report):
    markdown = render_markdown(report, redact=True)
    assert "svc-llm" not in markdown.split("<!-- gpubal-snapshot")[0]
    assert "`user-1`" in markdown


def test_a_list_that_ends_early_says_where_and_what_it_ignores(h200x2_snapshot):
    ends_early = dataclasses.replace(VLLM, gpu_environment=Known({"CUDA_VISIBLE_DEVICES": "1,-1,0"}, "test"))
    report = evaluate(dataclasses.replace(h200x2_snapshot, processes=Known([ends_early], "test")), [])
    (pid, lines), = process_table(report).details
    sees = dict(lines)["CUDA sees"]
    assert sees.startswith("GPU 1 (GPU-ef0d3f05-6806-164c-47f3-28be3d1fcbc3) — CUDA_VISIBLE_DEVICES=1,-1,0")
    assert "the list ends at '-1', which names no GPU here; 0 ignored" in sees


def test_a_process_name_that_looks_like_markup_is_printed_as_written(h200x2_snapshot):
    hostile = dataclasses.replace(VLLM, program=Known("[bold red]vllm[/]", "/proc/4242/comm"),
                                  user=Known("[link=http://x]u[/link]", "test"))
    report = evaluate(dataclasses.replace(h200x2_snapshot, processes=Known([hostile], "test")), [])
    text = terminal_text(report)
    assert "[bold red]vllm[/]" in text and "[link=http://x]u[/link]" in text
