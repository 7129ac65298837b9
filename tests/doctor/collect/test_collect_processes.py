"""The process table, read from real processes this test starts: each child has an environment, a CPU
affinity and a command line chosen here, and the collector must read them back from /proc as they are.

NVML's side (which PIDs hold which GPU) comes from the recorded 2x H200 profile with the child's PID added
to one GPU's compute processes, the shape nvmlDeviceGetComputeRunningProcesses answers in."""

from __future__ import annotations

import copy
import json
import os
import pwd
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest

from gpubal.doctor.collect import collect_snapshot
from gpubal.doctor.collect.processes import collect_processes, gpu_holders, process_names
from gpubal.model import GpuProcess, Known, Reason, Unavailable
from gpubal.snapshot_file import snapshot_from_json, snapshot_to_json
from gpubal.doctor.probes.files import HostFiles
from gpubal.doctor.probes.nvml import ReplayAdapter
from helpers.paths import FIXTURES

LIVE = HostFiles("/")
NOT_IN_CONTAINER = Known("none", "test")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux /proc")


def _wait_for_exec(child: subprocess.Popen, word: str) -> None:
    """Until the child runs its own program (its cmdline names `word`), not the forked Python."""
    for _ in range(200):
        try:
            if word in Path(f"/proc/{child.pid}/cmdline").read_bytes().decode(errors="replace"):
                return
        except OSError:
            pass
        time.sleep(0.01)
    raise AssertionError(f"child {child.pid} never showed {word!r} in its cmdline")


@pytest.fixture
def child_factory():
    children: List[subprocess.Popen] = []

    def start(argv: List[str], environment: Dict[str, str], cpus=None) -> subprocess.Popen:
        child = subprocess.Popen(argv, env=environment, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        children.append(child)
        _wait_for_exec(child, argv[-1])
        if cpus is not None:
            os.sched_setaffinity(child.pid, cpus)
        return child

    yield start
    for child in children:
        child.kill()
        child.wait()


def _sleeper(marker: str) -> List[str]:
    """A Python that waits on its stdin; the last argument marks it in its own cmdline."""
    return [sys.executable, "-c", "import sys; sys.stdin.read()", marker]


def _profile_holding(pid_by_gpu: Dict[int, List[int]]) -> ReplayAdapter:
    profile = json.loads((FIXTURES / "nvml" / "h200x2.json").read_text())
    profile = copy.deepcopy(profile)
    for index, device in enumerate(profile["devices"]):
        device["running_processes"] = [{"pid": pid, "used_bytes": 512 << 20} for pid in pid_by_gpu.get(index, [])]
    return ReplayAdapter(profile, "h200x2.json with test PIDs")


def _table(adapter: ReplayAdapter, host_container=NOT_IN_CONTAINER, gpus=None) -> List[GpuProcess]:
    """The process table as collect_snapshot builds it, from this host's real /proc."""
    adapter.start()
    holders, failure = gpu_holders(adapter, [0, 1])
    if gpus is None:
        gpus = Known([], "test")
    table = collect_processes(LIVE, process_names(LIVE), holders, failure, gpus, host_container)
    assert isinstance(table, Known), table
    return table.value


def _entry(table: List[GpuProcess], pid: int) -> GpuProcess:
    found = [process for process in table if process.pid == pid]
    assert found, f"PID {pid} not in the table: {[p.pid for p in table]}"
    return found[0]


def test_a_gpu_process_is_read_back_with_its_environment_affinity_and_user(child_factory):
    cpu = min(os.sched_getaffinity(0))
    environment = {"PATH": os.environ.get("PATH", "/usr/bin"), "CUDA_VISIBLE_DEVICES": "1,0",
                   "CUDA_DEVICE_ORDER": "PCI_BUS_ID", "NCCL_P2P_LEVEL": "NVL", "OLLAMA_AUTH_TOKEN": "hunter2",
                   "HOME": "/nonexistent"}
    child = child_factory(_sleeper("gpu-holder"), environment, cpus={cpu})
    entry = _entry(_table(_profile_holding({1: [child.pid]})), child.pid)
    assert entry.found_by == "nvml"
    assert entry.gpus_held == Known([1], "nvmlDeviceGetComputeRunningProcesses")
    assert entry.gpu_environment.value == {"CUDA_VISIBLE_DEVICES": "1,0", "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
                                           "NCCL_P2P_LEVEL": "NVL"}  # the token dropped, HOME not asked for
    assert entry.gpu_environment.source == f"/proc/{child.pid}/environ (as the process started)"
    assert entry.cpus_allowed == Known(str(cpu), f"/proc/{child.pid}/status Cpus_allowed_list")
    assert isinstance(entry.memory_nodes_allowed, Known) and entry.memory_nodes_allowed.value[0].isdigit()
    assert entry.user.value == pwd.getpwuid(os.getuid()).pw_name
    assert entry.command_line.value.endswith("-c import sys; sys.stdin.read() gpu-holder")
    assert entry.program.value.startswith("python")  # the kernel's name for it: not a known server
    assert isinstance(entry.cgroup, Known) and entry.cgroup.value.startswith("/")
    assert isinstance(entry.gpu_libraries, Known) and entry.gpu_libraries.value == []  # no CUDA in this child


def test_the_numa_node_of_the_gpus_held_comes_from_the_gpus(child_factory, h200x2_snapshot):
    child = child_factory(_sleeper("numa"), {"PATH": "/usr/bin"})
    entry = _entry(_table(_profile_holding({0: [child.pid], 1: [child.pid]}), gpus=h200x2_snapshot.gpus), child.pid)
    assert entry.gpus_held.value == [0, 1]
    expected = sorted({gpu.numa_node.value for gpu in h200x2_snapshot.gpu_list()})
    assert entry.gpu_numa_nodes.value == expected


def _script(tmp_path: Path, name: str) -> str:
    """An executable named like a server: the kernel names the process after the script (comm)."""
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\nimport sys\nsys.stdin.read()\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_an_idle_vllm_server_is_found_by_name_and_its_api_key_is_not_shown(child_factory, tmp_path):
    argv = [_script(tmp_path, "vllm"), "serve", "Qwen/Qwen3-8B", "--tensor-parallel-size", "2",
            "--api-key", "sk-live-123", "--hf-token=hf_abc", "--max-num-batched-tokens", "8192", "--end"]
    child = child_factory(argv, {"PATH": "/usr/bin", "CUDA_VISIBLE_DEVICES": "GPU-5f1a"})
    entry = _entry(_table(_profile_holding({})), child.pid)
    assert entry.found_by == "name"
    assert entry.program.value == "vllm"
    assert entry.gpus_held.value == []  # idle: NVML lists it on no GPU
    command = entry.command_line.value
    assert "sk-live-123" not in command and "hf_abc" not in command
    assert "--api-key (secret dropped)" in command and "--hf-token=(secret dropped)" in command
    assert "--tensor-parallel-size 2" in command and "--max-num-batched-tokens 8192" in command


def test_ollama_serve_is_found_by_name_and_ollama_run_is_not(child_factory, tmp_path):
    ollama = _script(tmp_path, "ollama")
    server = child_factory([ollama, "serve"], {"PATH": "/usr/bin", "OLLAMA_SCHED_SPREAD": "1"})
    client = child_factory([ollama, "run", "llama3"], {"PATH": "/usr/bin"})
    table = _table(_profile_holding({}))
    assert _entry(table, server.pid).program.value == "ollama"
    assert _entry(table, server.pid).gpu_environment.value == {"OLLAMA_SCHED_SPREAD": "1"}
    assert client.pid not in [process.pid for process in table]


def test_a_pid_nvml_gives_that_is_not_visible_here_says_why():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: its PID names no process now
    entry = _entry(_table(_profile_holding({0: [gone.pid]}), host_container=Known("docker", "test")), gone.pid)
    assert entry.gpus_held.value == [0]
    assert isinstance(entry.command_line, Unavailable) and entry.command_line.reason is Reason.NOT_FOUND
    assert "NVML gives the host's PIDs" in entry.command_line.detail


def test_inside_a_container_a_pid_that_maps_no_gpu_is_not_taken_for_the_gpu_process(child_factory):
    child = child_factory(_sleeper("same-number"), {"PATH": "/usr/bin"})
    entry = _entry(_table(_profile_holding({0: [child.pid]}), host_container=Known("docker", "test")), child.pid)
    assert isinstance(entry.command_line, Unavailable)
    assert "maps no GPU device or libcuda" in entry.command_line.detail


def test_another_users_environment_is_no_permission_not_empty():
    if os.access("/proc/1/environ", os.R_OK):
        try:
            Path("/proc/1/environ").read_bytes()
            pytest.skip("this user may read PID 1's environment (root with ptrace rights)")
        except OSError:
            pass
    adapter = _profile_holding({0: [1]})
    entry = _entry(_table(adapter), 1)
    assert isinstance(entry.gpu_environment, Unavailable)
    assert entry.gpu_environment.reason is Reason.NO_PERMISSION
    assert isinstance(entry.cpus_allowed, Known)  # status is readable by everyone


def test_a_gpu_that_cannot_list_its_processes_leaves_gpus_held_unknown(child_factory):
    child = child_factory(_sleeper("unknown-holder"), {"PATH": "/usr/bin"})
    profile = json.loads((FIXTURES / "nvml" / "h200x2.json").read_text())
    profile["devices"][0]["running_processes"] = [{"pid": child.pid}]
    profile["devices"][1]["running_processes"] = {"error": "no_permission", "source": "nvmlDeviceGetComputeRunningProcesses_v3"}
    entry = _entry(_table(ReplayAdapter(profile)), child.pid)
    assert isinstance(entry.gpus_held, Unavailable) and entry.gpus_held.reason is Reason.NO_PERMISSION
    assert isinstance(entry.gpu_numa_nodes, Unavailable)


def test_the_process_table_round_trips_through_a_snapshot(child_factory):
    child = child_factory(_sleeper("round-trip"), {"PATH": "/usr/bin", "CUDA_VISIBLE_DEVICES": "0"})
    snapshot = collect_snapshot(_profile_holding({0: [child.pid]}), LIVE)
    assert isinstance(snapshot.processes, Known)
    assert snapshot_from_json(snapshot_to_json(snapshot)) == snapshot


def test_a_snapshot_written_before_processes_were_read_still_loads(h200x2_snapshot):
    data = json.loads(snapshot_to_json(h200x2_snapshot))
    del data["processes"]
    loaded = snapshot_from_json(json.dumps(data))
    assert isinstance(loaded.processes, Unavailable) and loaded.processes.reason is Reason.NOT_IN_INPUT


def test_cgroup_names_the_unit_or_container():
    from gpubal.doctor.collect.processes import _cgroup, _container

    v2 = "0::/system.slice/ollama.service\n"
    assert _cgroup(v2, "/proc/9").value == "/system.slice/ollama.service"
    hybrid = "4:memory:/docker/0123abcd\n1:name=systemd:/docker/0123abcd\n0::/\n"
    assert _cgroup(hybrid, "/proc/9").value == "/docker/0123abcd"
    assert _container(hybrid, "/proc/9").value == "docker"
    assert _container("0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-1.scope\n", "/proc/9").value \
        == "kubernetes"
    assert _container(v2, "/proc/9").value == "none"


def test_a_vllm_server_s_model_heads_come_from_its_local_config(child_factory, tmp_path):
    model = tmp_path / "Qwen3-8B"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"num_attention_heads": 32, "num_key_value_heads": 8}))
    argv = [_script(tmp_path, "vllm"), "serve", str(model), "--tensor-parallel-size", "3"]
    child = child_factory(argv, {"PATH": "/usr/bin"})
    entry = _entry(_table(_profile_holding({})), child.pid)
    assert entry.model_config == Known({"num_attention_heads": 32, "num_key_value_heads": 8},
                                       f"{model}/config.json")


def test_an_sglang_server_s_hub_model_is_found_in_its_hf_home(child_factory, tmp_path):
    repo = tmp_path / "hf" / "hub" / "models--Qwen--Qwen2.5-VL-7B-Instruct"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abc\n")
    (repo / "snapshots" / "0123abc").mkdir(parents=True)
    (repo / "snapshots" / "0123abc" / "config.json").write_text(json.dumps(
        {"architectures": ["Qwen2_5_VLForConditionalGeneration"], "text_config": {"num_attention_heads": 28}}))
    script = tmp_path / "launch.py"
    script.write_text("import sys\nsys.stdin.read()\n")
    argv = [sys.executable, "-m", "sglang.launch_server", "--model-path", "Qwen/Qwen2.5-VL-7B-Instruct", "--tp", "2"]
    argv = [sys.executable, str(script), "-m", "sglang.launch_server"] + argv[3:]
    child = child_factory(argv, {"PATH": "/usr/bin", "HF_HOME": str(tmp_path / "hf")})
    entry = _entry(_table(_profile_holding({})), child.pid)
    assert entry.program.value == "sglang"
    assert entry.model_config.value == {"num_attention_heads": 28}


def test_a_server_whose_model_is_not_on_disk_says_where_it_looked(child_factory, tmp_path):
    argv = [_script(tmp_path, "vllm"), "serve", "org/not-downloaded", "-tp", "2"]
    child = child_factory(argv, {"PATH": "/usr/bin", "HF_HUB_CACHE": str(tmp_path / "empty")})
    config = _entry(_table(_profile_holding({})), child.pid).model_config
    assert isinstance(config, Unavailable) and config.reason is Reason.NOT_FOUND
    assert config.source == f"{tmp_path}/empty/models--org--not-downloaded/refs/main"
