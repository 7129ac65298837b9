"""Which programs run on the host, from /proc/*/comm (the kernel keeps a name's first 15 characters), and
the processes that use GPUs: those NVML lists on a GPU, and model servers found by name even while idle."""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

from ...model import Fact, Gpu, GpuProcess, Known, Reason, Unavailable
from ..probes.files import HostFiles
from ..probes.nvml import NvmlAdapter
from ...common.secret_values import SECRET_WORDS, looks_secret
from .model_config import MODEL_OPTIONS, collect_model_config


def process_names(files: HostFiles) -> Fact[Dict[int, str]]:
    entries = files.list_dir("/proc")
    if isinstance(entries, Unavailable):
        return entries
    names = {}
    for entry in entries:
        if entry.isdigit():
            comm = files.read_line(f"/proc/{entry}/comm")
            if isinstance(comm, str):
                names[int(entry)] = comm
    return Known(names, "/proc/*/comm")


def program_running(processes: Fact[Dict[int, str]], program: str, container: Fact[str]) -> Fact[bool]:
    if isinstance(processes, Unavailable):
        return processes
    comm_name = program[:15]
    for pid, comm in sorted(processes.value.items()):
        if comm == comm_name:
            return Known(True, f"/proc/{pid}/comm")
    if isinstance(container, Known) and container.value != "none":
        return Unavailable(Reason.NOT_FOUND, "/proc/*/comm",
                           f"no {program} process visible; from inside a container the host's are hidden")
    return Known(False, "/proc/*/comm")


# --- processes that use GPUs ---------------------------------------------------------------------------

NVML_PROCESSES_SOURCE = "nvmlDeviceGetComputeRunningProcesses"
# What decides which GPUs a process sees and how it talks to them; read from its environment at start.
GPU_ENVIRONMENT_PREFIXES = ("CUDA_", "NVIDIA_", "NCCL_", "OLLAMA_", "GPU_DEVICE_ORDINAL", "HIP_VISIBLE_DEVICES",
                            "ROCR_VISIBLE_DEVICES")
# The libraries whose copy decides what a process can do: the driver's libcuda, the CUDA runtime, NCCL.
# Wheels may name a copy with a hash (libcudart-9335f6a2.so.11.0).
_GPU_LIBRARY = re.compile(r"/lib(?:cuda|cudart|nccl)(?:-[0-9a-f]+)?\.so(?:\.[0-9.]+)?$")
# Names the kernel keeps for processes that may be a server started through Python or renamed itself
# (vLLM titles its processes VLLM::EngineCore, SGLang sglang::scheduler; torch workers pt_main_thread).
_MAYBE_SERVER_COMMS = ("python", "vllm", "VLLM", "sglang", "pt_main_thread", "llama-server", "ollama")
_SECRET_OPTION_WORDS = {word.lower() for word in SECRET_WORDS} | {"apikey", "api_key"}
MAPS_LIMIT_BYTES = 32 << 20  # a large PyTorch process maps a few thousand files: about 1 MiB of text


def gpu_holders(nvml: NvmlAdapter, gpu_indexes: Sequence[int]) -> Tuple[Dict[int, List[int]], Optional[Unavailable]]:
    """PID -> the GPUs NVML lists it on, and why one GPU could not say (None when all did)."""
    holders: Dict[int, List[int]] = {}
    failure: Optional[Unavailable] = None
    for index in gpu_indexes:
        answer = nvml.device(index, "running_processes")
        if isinstance(answer, Unavailable):
            failure = failure or Unavailable(answer.reason, answer.source or NVML_PROCESSES_SOURCE,
                                             f"GPU {index}: {answer.detail}" if answer.detail else f"GPU {index}")
            continue
        for entry in answer:
            if isinstance(entry, dict) and isinstance(entry.get("pid"), int):
                gpus = holders.setdefault(entry["pid"], [])
                if index not in gpus:
                    gpus.append(index)
    return holders, failure


def collect_processes(files: HostFiles, names: Fact[Dict[int, str]], holders: Dict[int, List[int]],
                      holders_failure: Optional[Unavailable], gpus: Fact[List[Gpu]],
                      host_container: Fact[str]) -> Fact[List[GpuProcess]]:
    """Every process NVML lists on a GPU and every model server found by name, each read from /proc."""
    servers: Dict[int, str] = {}
    command_lines: Dict[int, Union[str, Unavailable]] = {}  # each file is read once: /proc reads cost
    if isinstance(names, Known):
        for pid, comm in names.value.items():
            program = _server_program(files, pid, comm, command_lines)
            if program is not None:
                servers[pid] = program
    if isinstance(names, Unavailable) and not holders:
        return names
    if holders_failure is not None and not holders and not servers:
        return holders_failure  # an empty table would claim that no process uses a GPU
    passwd = _passwd(files)
    numa_by_gpu = {gpu.index: gpu.numa_node for gpu in gpus.value} if isinstance(gpus, Known) else {}
    processes = []
    for pid in sorted(set(servers) | set(holders)):
        found_by = ", ".join(way for way, found in (("nvml", pid in holders), ("name", pid in servers)) if found)
        comm = names.value.get(pid) if isinstance(names, Known) else None
        if pid not in command_lines:
            command_lines[pid] = files.read_text(f"/proc/{pid}/cmdline")
        processes.append(_process(files, pid, servers.get(pid), comm, command_lines[pid], found_by, holders,
                                  holders_failure, numa_by_gpu, passwd, host_container))
    sources = ["/proc/*/comm, cmdline"] + ([] if holders_failure else [NVML_PROCESSES_SOURCE])
    return Known(processes, ", ".join(sources))


def _server_program(files: HostFiles, pid: int, comm: str,
                    command_lines: Dict[int, Union[str, Unavailable]]) -> Optional[str]:
    if not comm.startswith(_MAYBE_SERVER_COMMS):
        return None
    if comm.startswith("ollama_llama"):  # the runner binary of Ollama before its own engine
        return "ollama"
    if comm == "llama-server":
        return "llama.cpp"
    command_lines[pid] = files.read_text(f"/proc/{pid}/cmdline")
    argv = _argv(command_lines[pid])
    if argv is None:
        return None
    if comm == "ollama":
        return "ollama" if any(arg in ("serve", "runner") for arg in argv[1:3]) else None
    for arg in argv[:4]:
        base = arg.rsplit("/", 1)[-1]
        for program in ("vllm", "sglang"):
            if base == program or base.startswith(program + "."):
                return program
        if base.startswith("llama_cpp.server"):  # llama-cpp-python's server: python -m llama_cpp.server
            return "llama.cpp"
    if comm.startswith(("VLLM", "vllm")):
        return "vllm"
    return "sglang" if comm.startswith("sglang") else None


def _argv(text: Union[str, Unavailable]) -> Optional[List[str]]:
    if isinstance(text, Unavailable) or not text:
        return None
    return text.rstrip("\0").split("\0")


def _process(files: HostFiles, pid: int, program: Optional[str], comm: Optional[str],
             command_line: Union[str, Unavailable], found_by: str, holders: Dict[int, List[int]],
             holders_failure: Optional[Unavailable], numa_by_gpu: Dict[int, Fact[int]],
             passwd: Dict[str, str], host_container: Fact[str]) -> GpuProcess:
    proc = f"/proc/{pid}"
    status = files.read_text(f"{proc}/status")
    maps = files.read_text(f"{proc}/maps", limit_bytes=MAPS_LIMIT_BYTES)
    gpus_held: Fact[List[int]] = (holders_failure if holders_failure is not None
                                  else Known(sorted(holders.get(pid, [])), NVML_PROCESSES_SOURCE))
    hidden = _not_this_process(pid, status, maps, found_by, host_container)
    if hidden is not None:
        return GpuProcess(pid=pid, program=hidden, found_by=found_by, command_line=hidden, user=hidden,
                          cgroup=hidden, container=hidden, gpu_environment=hidden, cpus_allowed=hidden,
                          memory_nodes_allowed=hidden, gpus_held=gpus_held,
                          gpu_numa_nodes=_gpu_numa_nodes(gpus_held, numa_by_gpu), gpu_libraries=hidden,
                          dev_shm_bytes=hidden)
    if comm is None:  # a PID NVML gave that the first look at /proc did not list
        comm = files.read_line(f"{proc}/comm")
    cgroup_text = files.read_text(f"{proc}/cgroup")
    environ = files.read_text(f"{proc}/environ")
    extra = {"dev_shm_bytes": process_dev_shm_bytes(files, pid)}
    if program in MODEL_OPTIONS:
        extra["model_config"] = collect_model_config(files, pid, program, _argv(command_line), environ,
                                                     _home(files, status))
    return GpuProcess(
        pid=pid,
        program=Known(program, f"{proc}/comm, cmdline") if program else (
            comm if isinstance(comm, Unavailable) else Known(comm, f"{proc}/comm")),
        found_by=found_by,
        command_line=_command_line(command_line, proc),
        user=_user(status, proc, passwd),
        cgroup=_cgroup(cgroup_text, proc),
        container=_container(cgroup_text, proc),
        gpu_environment=_environment(environ, proc),
        cpus_allowed=_status_field(status, "Cpus_allowed_list", proc),
        memory_nodes_allowed=_status_field(status, "Mems_allowed_list", proc),
        gpus_held=gpus_held,
        gpu_numa_nodes=_gpu_numa_nodes(gpus_held, numa_by_gpu),
        gpu_libraries=_libraries(maps, proc),
        **extra,
    )


def process_dev_shm_bytes(files: HostFiles, pid: int) -> Fact[int]:
    """The size of /dev/shm in the process's own mount namespace, from /proc/PID/mountinfo (readable by
    every user, unlike /proc/PID/root): a container's /dev/shm is its own tmpfs, 64 MiB under Docker
    unless --shm-size says otherwise."""
    source = f"/proc/{pid}/mountinfo"
    text = files.read_text(source)
    if isinstance(text, Unavailable):
        return text
    size = None
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4] == "/dev/shm" and " - " in line:
            size = line.split(" - ", 1)[1].split()  # filesystem type, source, super options
    if size is None:
        return Unavailable(Reason.NOT_FOUND, source, "no /dev/shm mount in the process's mount namespace")
    if not size or size[0] != "tmpfs":
        return Unavailable(Reason.NOT_SUPPORTED, source, f"/dev/shm is {size[0] if size else 'of no type'}, not tmpfs")
    match = re.search(r"(?:^|,)size=(\d+)([kmg]?)", size[2] if len(size) > 2 else "")
    if match is None:
        meminfo = files.read_text("/proc/meminfo")  # tmpfs without size=: half of the RAM
        total = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE) if isinstance(meminfo, str) else None
        if total is None:
            return meminfo if isinstance(meminfo, Unavailable) else Unavailable(Reason.ERROR, "/proc/meminfo",
                                                                                "no MemTotal line")
        return Known(int(total.group(1)) * 1024 // 2, f"{source} (no size=, tmpfs default: half of MemTotal)")
    scale = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[match.group(2)]
    return Known(int(match.group(1)) * scale, f"{source} (size= of /dev/shm)")


def _not_this_process(pid: int, status: Union[str, Unavailable], maps: Union[str, Unavailable], found_by: str,
                      host_container: Fact[str]) -> Optional[Unavailable]:
    """Why the /proc entry of a PID NVML gave does not describe that process, or None when it does. NVML
    gives the host's PIDs; in a container with its own PID namespace the same number is another process,
    or none."""
    proc = f"/proc/{pid}"
    in_container = not (isinstance(host_container, Known) and host_container.value == "none")
    where = " (NVML gives the host's PIDs; gpubal runs in a container with its own)" if in_container else ""
    if isinstance(status, Unavailable) and status.reason is Reason.NOT_FOUND:
        return Unavailable(Reason.NOT_FOUND, proc, f"no such process here{where or ' (it may have exited)'}")
    if found_by == "nvml" and in_container and isinstance(maps, str) and "/dev/nvidia" not in maps \
            and "libcuda" not in maps:
        return Unavailable(Reason.NOT_FOUND, proc, f"PID {pid} here maps no GPU device or libcuda: another process"
                                                   f"{where}")
    return None


def _command_line(text: Union[str, Unavailable], proc: str) -> Fact[str]:
    if isinstance(text, Unavailable):
        return text
    if not text:
        return Unavailable(Reason.NOT_FOUND, f"{proc}/cmdline", "empty: a kernel thread or a zombie")
    argv = text.rstrip("\0").split("\0")
    return Known(" ".join(_without_secrets(argv)), f"{proc}/cmdline")


def _without_secrets(argv: List[str]) -> List[str]:
    """The arguments with the values of options like --api-key or --hf-token, and of NAME=value words whose
    name looks secret, replaced: a process table is pasted into issues."""
    out: List[str] = []
    drop_next = False
    for arg in argv:
        if drop_next:
            out.append("(secret dropped)")
            drop_next = False
            continue
        if arg.startswith("-"):
            option, equals, _value = arg.partition("=")
            if _secret_option(option):
                if equals:
                    out.append(f"{option}=(secret dropped)")
                else:
                    out.append(arg)
                    drop_next = True
                continue
        elif "=" in arg and looks_secret(arg.partition("=")[0]) and re.fullmatch(r"[A-Za-z_]\w*", arg.partition("=")[0]):
            out.append(arg.partition("=")[0] + "=(secret dropped)")
            continue
        out.append(arg)
    return out


def _secret_option(option: str) -> bool:
    """--api-key and --hf-token are secrets; --max-num-batched-tokens and --tokenizer are not, so whole
    words count, not substrings."""
    words = [word for word in re.split(r"[-_]", option.lstrip("-").lower()) if word]
    return any(word in _SECRET_OPTION_WORDS for word in words)


def _passwd(files: HostFiles) -> Dict[str, str]:
    text = files.read_text("/etc/passwd")
    if isinstance(text, Unavailable):
        return {}
    users = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) > 2 and fields[2].isdigit():
            users.setdefault(fields[2], fields[0])
    return users


def _home(files: HostFiles, status: Union[str, Unavailable]) -> Optional[str]:
    """The process user's home directory from /etc/passwd, for the Hugging Face cache in it."""
    match = re.search(r"^Uid:\s*(\d+)", status, re.MULTILINE) if isinstance(status, str) else None
    text = files.read_text("/etc/passwd")
    if match is None or isinstance(text, Unavailable):
        return None
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) > 5 and fields[2] == match.group(1):
            return fields[5]
    return None


def _status_field(status: Union[str, Unavailable], name: str, proc: str) -> Fact[str]:
    if isinstance(status, Unavailable):
        return status
    match = re.search(rf"^{name}:\s*(\S*)\s*$", status, re.MULTILINE)
    if match is None:
        return Unavailable(Reason.NOT_FOUND, f"{proc}/status", f"no {name} line")
    return Known(match.group(1), f"{proc}/status {name}")


def _user(status: Union[str, Unavailable], proc: str, passwd: Dict[str, str]) -> Fact[str]:
    if isinstance(status, Unavailable):
        return status
    match = re.search(r"^Uid:\s*(\d+)", status, re.MULTILINE)  # real, effective, saved, filesystem
    if match is None:
        return Unavailable(Reason.NOT_FOUND, f"{proc}/status", "no Uid line")
    number = match.group(1)
    if number in passwd:
        return Known(passwd[number], f"{proc}/status Uid, /etc/passwd")
    return Known(number, f"{proc}/status Uid (not in /etc/passwd)")


def _cgroup(text: Union[str, Unavailable], proc: str) -> Fact[str]:
    """The path that names the unit or container: cgroup v2's, else (v1, or a hybrid host whose v2
    hierarchy is empty) the systemd or memory controller's."""
    if isinstance(text, Unavailable):
        return text
    lines = [line.split(":", 2) for line in text.splitlines() if line.count(":") >= 2]
    unified = [path for hierarchy, controllers, path in lines if hierarchy == "0" and controllers == ""]
    legacy = [path for _, controllers, path in lines
              if {"name=systemd", "memory"} & set(controllers.split(","))]
    for path in unified + legacy + [path for _, _, path in lines]:
        if path != "/":
            return Known(path, f"{proc}/cgroup")
    if lines:
        return Known("/", f"{proc}/cgroup")
    return Unavailable(Reason.NOT_FOUND, f"{proc}/cgroup", "no cgroup line")


def _container(text: Union[str, Unavailable], proc: str) -> Fact[str]:
    if isinstance(text, Unavailable):
        return text
    for needle, name in (("kubepods", "kubernetes"), ("libpod", "podman"), ("docker", "docker"),
                         ("containerd", "containerd"), ("lxc", "lxc")):
        if needle in text:
            return Known(name, f"{proc}/cgroup")
    return Known("none", f"{proc}/cgroup")


def _environment(text: Union[str, Unavailable], proc: str) -> Fact[Dict[str, str]]:
    if isinstance(text, Unavailable):
        if text.reason is Reason.NO_PERMISSION:
            return Unavailable(Reason.NO_PERMISSION, text.source,
                               "readable only by the process's user and root (run gpubal as either)")
        return text
    pairs = (entry.partition("=") for entry in text.split("\0") if "=" in entry)
    return Known({name: value for name, _, value in pairs
                  if name.startswith(GPU_ENVIRONMENT_PREFIXES) and not looks_secret(name)},
                 f"{proc}/environ (as the process started)")


def _gpu_numa_nodes(gpus_held: Fact[List[int]], numa_by_gpu: Dict[int, Fact[int]]) -> Fact[List[int]]:
    if isinstance(gpus_held, Unavailable):
        return gpus_held
    nodes: List[int] = []
    for index in gpus_held.value:
        node = numa_by_gpu.get(index)
        if node is None:
            return Unavailable(Reason.NOT_FOUND, f"gpu:{index}.numa_node", "GPU not in the snapshot")
        if isinstance(node, Unavailable):
            return node
        if node.value >= 0 and node.value not in nodes:
            nodes.append(node.value)
    return Known(sorted(nodes), "gpus_held, gpu:N.numa_node")


def _libraries(maps: Union[str, Unavailable], proc: str) -> Fact[List[str]]:
    if isinstance(maps, Unavailable):
        if maps.reason is Reason.NO_PERMISSION:
            return Unavailable(Reason.NO_PERMISSION, maps.source,
                               "readable only by the process's user and root (run gpubal as either)")
        return maps
    found = set()
    for line in maps.splitlines():
        slash = line.find("/")
        if slash >= 0 and "lib" in line:
            path = line[slash:].removesuffix(" (deleted)")
            if _GPU_LIBRARY.search(path):
                found.add(path)
    return Known(sorted(found), f"{proc}/maps")
