"""`python -m torch.utils.collect_env` and `vllm collect-env` output into facts: the driver version, the
GPUs, OS, CPU and NUMA layout (lscpu), cuDNN copies, Python packages, and CUDA/NCCL variables.

The topology matrix that `vllm collect-env` embeds is read by the topology parser on the same stream.
collect_env's "CUDA runtime version" is what nvcc reports, not a runtime any process loads: it becomes a
toolkit (nvcc found, directory unknown), not a library. "CUDA used to build PyTorch" and "PyTorch
version" are facts whether or not `[pip3]` lines follow; `PyTorch version: N/A` leaves torch out of a
package list that is known, and `CUDA used to build PyTorch: None` marks a CPU-only build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

from ...common.cpulist import parse_cpulist
from ...model import CudaToolkit, LibraryCopy, NumaNode, PythonPackage
from ...common.secret_values import looks_secret
from .common import Observation, Parser, clean

SECTION = "collect_env"
_KEY_VALUE = re.compile(r"^([A-Za-z](?:[\w .()/+-]*[\w.()/+-])?)\s*:\s*((?:.*\S)?)\s*$")
_GPU = re.compile(r"^\s*GPU (\d+): (.*?\S)(?: \(UUID: [^)]{0,100}\))?\s*$")
_PACKAGE = re.compile(r"^\[(pip3?|conda)\]\s+([A-Za-z0-9_.-]+)\s*(?:==|\s)\s*([\w.+!-]+)")
_CUDNN_FILE = re.compile(r"(?<!\S)(/\S*/libcudnn\.so\.(\d+\.\d+\.\d+))\s*$")
_ENVIRONMENT = re.compile(r"^((?:CUDA|NCCL|TORCH|PYTORCH|VLLM|LD_LIBRARY_PATH|OMP|NVIDIA|CUBLAS|CUDNN)\w*)=(.*)$")
_NUMA_CPUS = re.compile(r"^NUMA node(\d+) CPU\(s\)$")


@dataclass
class CollectEnv:
    tool: str = ""  # "torch" or "vllm"
    values: Dict[str, str] = field(default_factory=dict)  # "PyTorch version" -> "2.11.0+cu130", as printed
    gpus: Dict[int, str] = field(default_factory=dict)
    cudnn_files: List[str] = field(default_factory=list)
    packages: Dict[str, str] = field(default_factory=dict)
    environment: Dict[str, str] = field(default_factory=dict)
    format_name: str = "collect_env"

    @property
    def found(self) -> bool:
        return bool(self.tool)

    @property
    def problems(self) -> List[str]:
        return []

    def value(self, *keys: str) -> Optional[str]:
        for key in keys:
            text = self.values.get(key)
            if text and text not in ("N/A", "Could not collect", "None", "No CUDA"):
                return text
        return None

    @property
    def driver_version(self) -> Optional[str]:
        return self.value("Nvidia driver version")

    @property
    def torch_version(self) -> Optional[str]:
        return self.value("PyTorch version")

    @property
    def torch_cuda_build(self) -> str:
        """The CUDA torch was built for ("12.1"), "none" for a CPU-only build, "" when the dump does not say."""
        text = self.values.get("CUDA used to build PyTorch", "")
        if text == "None" or (self.torch_version or "").endswith("+cpu"):
            return "none"
        return text if re.fullmatch(r"(?<![\d.])\d+\.\d+(?:\.\d+)?", text) else ""

    @property
    def cuda_runtime_version_nvcc(self) -> Optional[str]:
        return self.value("CUDA runtime version")

    @property
    def cudnn_version(self) -> Optional[str]:
        text = self.value("cuDNN version")
        if text and re.fullmatch(r"[\d.]+", text):
            return text
        versions = sorted({re.search(r"\.so\.([\d.]+)$", path).group(1) for path in self.cudnn_files})
        return versions[0] if len(versions) == 1 else None

    def observations(self) -> Iterable[Observation]:
        section = "vllm collect-env" if self.tool == "vllm" else "torch collect_env"
        if self.driver_version:
            yield ("driver", "version"), self.driver_version, section
        for index, name in self.gpus.items():
            yield ("gpu", index, "present"), True, section
            yield ("gpu", index, "name"), name, section
        os_text = self.value("OS")
        if os_text:
            yield ("host", "os_release"), re.sub(r"(?<!\s)\s*\((x86_64|aarch64|ppc64le)\)$", "", os_text), section
        model = self.value("Model name")
        if model:
            yield ("host", "cpu_model"), model, section
        cpus = self.value("CPU(s)")
        if cpus and cpus.isdigit():
            yield ("host", "cpu_count"), int(cpus), section
        hypervisor = self.value("Hypervisor vendor")
        if hypervisor:
            yield ("host", "virtualization"), hypervisor.lower(), section
        nodes = self._numa_nodes()
        if nodes is not None:
            yield ("host", "numa_nodes"), nodes, section
        libraries = [LibraryCopy(name="cudnn", version=version, path=path, origin="system", consumer="",
                                 version_source="file name, as collect_env listed it")
                     for path, version in (_CUDNN_FILE.search(f).groups() for f in self.cudnn_files
                                           if _CUDNN_FILE.search(f))]
        if libraries:
            yield ("stack", "libraries"), libraries, section
        if self.packages or "PyTorch version" in self.values:
            # torch's own lines say what it is even when no [pip3] list follows; "N/A" says it is not there
            listed = dict(self.packages)
            if self.torch_version:
                listed.setdefault("torch", self.torch_version)
            packages = []
            for name, version in sorted(listed.items()):
                cuda = ""
                if name == "torch":
                    cuda = self.torch_cuda_build
                    torch = self.torch_version or ""
                    version = torch if torch.startswith(version) else version
                packages.append(PythonPackage(name=name, version=version, location="", cuda_version=cuda,
                                              requires=()))
            yield ("stack", "python_packages"), packages, section
        nvcc = self.cuda_runtime_version_nvcc
        if nvcc and re.fullmatch(r"(?<![\d.])\d+\.\d+(?:\.\d+)?", nvcc):
            yield ("stack", "cuda_toolkits"), [CudaToolkit(path="nvcc on PATH (collect_env names no directory)",
                                                           version=nvcc, has_nvcc=True)], section
        if self.environment:
            yield ("stack", "environment"), dict(self.environment), section

    def _numa_nodes(self) -> Optional[List[NumaNode]]:
        count = self.value("NUMA node(s)")
        nodes = []
        for key, text in self.values.items():
            match = _NUMA_CPUS.match(key)
            if match:
                try:
                    parse_cpulist(text)
                except ValueError:
                    return None
                nodes.append(NumaNode(int(match.group(1)), text))
        if not nodes or (count is not None and count.isdigit() and int(count) != len(nodes)):
            return None
        return sorted(nodes, key=lambda node: node.node_id)


class CollectEnvParser(Parser):
    name = "collect_env"

    def __init__(self) -> None:
        self.result = CollectEnv()
        self._list: Optional[str] = None  # the key whose value goes on over the next lines

    def feed(self, raw: str) -> None:
        line = clean(raw).rstrip()
        stripped = line.strip()
        result = self.result
        if not stripped:
            self._list = None
            return
        # vLLM's sectioned format prints OS and compiler lines before "PyTorch version"
        if (stripped.startswith("PyTorch version") or stripped == "Collecting environment information...") \
                and not result.tool:
            result.tool = "torch"
        if stripped.startswith(("vLLM Version", "vLLM Build Flags")) or stripped == "vLLM Info":
            result.tool = "vllm"
        if self._list == "gpus":
            match = _GPU.match(line)
            if match:
                result.gpus[int(match.group(1))] = match.group(2)
                return
            self._list = None
        if self._list == "cudnn":
            if stripped.startswith("/"):
                result.cudnn_files.append(stripped)
                return
            self._list = None
        package = _PACKAGE.match(stripped)
        if package:
            result.packages[package.group(2).lower().replace("_", "-")] = package.group(3)
            return
        environment = _ENVIRONMENT.match(stripped)
        if environment and not looks_secret(environment.group(1)):
            result.environment[environment.group(1)] = environment.group(2)
            return
        match = _KEY_VALUE.match(stripped)
        if match is None or not result.tool:
            return
        key, value = match.group(1), match.group(2)
        if key == "GPU models and configuration":
            gpu = _GPU.match(value) if value else None
            if gpu:
                result.gpus[int(gpu.group(1))] = gpu.group(2)
            self._list = "gpus"
            result.values[key] = value
            return
        if key == "cuDNN version":
            if value.startswith("Probably one of the following") or not value:
                self._list = "cudnn"
            elif value.startswith("/"):
                result.cudnn_files.append(value)
                self._list = "cudnn"
        if key == "CUDA_MODULE_LOADING set to" and value:
            result.environment["CUDA_MODULE_LOADING"] = value
        if key == "vLLM Version":
            result.packages["vllm"] = value.split()[0] if value else ""
        result.values.setdefault(key, value)

    def finish(self) -> CollectEnv:
        return self.result
