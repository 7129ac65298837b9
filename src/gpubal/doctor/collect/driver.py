"""Facts about the NVIDIA driver: user-space library (NVML), kernel module, UVM, persistence daemon."""

from __future__ import annotations

import re
from typing import Dict, Optional

from ...model import Driver, Fact, Known, Reason, Unavailable
from ..probes.files import HostFiles
from ..probes.nvml import NvmlAdapter
from .answers import as_int, as_str, to_fact
from .processes import program_running

_MODULE_VERSION = re.compile(r"NVRM version:.{0,200}?\s(\d+\.\d+(?:\.\d+)?)\s")


def collect_driver(nvml: NvmlAdapter, nvml_failure: Optional[Unavailable], files: HostFiles,
                   container: Fact[str], processes: Fact[Dict[int, str]]) -> Driver:
    module_text = files.read_text("/proc/driver/nvidia/version")
    return Driver(
        nvml_status=nvml_failure if nvml_failure is not None else Known("ok", "nvmlInit"),
        version=_nvml_text(nvml, nvml_failure, "driver_version", "nvmlSystemGetDriverVersion"),
        nvml_version=_nvml_text(nvml, nvml_failure, "nvml_version", "nvmlSystemGetNVMLVersion"),
        cuda_driver_version=_cuda_driver_version(nvml, nvml_failure),
        kernel_module_version=_module_version(module_text),
        kernel_module_flavor=_module_flavor(module_text),
        uvm_module_loaded=_uvm_loaded(files),
        uvm_device_present=Known(files.exists("/dev/nvidia-uvm"), "/dev/nvidia-uvm"),
        persistenced_running=program_running(processes, "nvidia-persistenced", container),
        device_count=_device_count(nvml, nvml_failure),
    )


def _nvml_text(nvml: NvmlAdapter, failure: Optional[Unavailable], query: str, source: str) -> Fact[str]:
    if failure is not None:
        return failure
    return to_fact(nvml.system(query), source, as_str)


def _cuda_driver_version(nvml: NvmlAdapter, failure: Optional[Unavailable]) -> Fact[str]:
    if failure is not None:
        return failure
    # 13000 means 13.0, 12080 means 12.8
    return to_fact(nvml.system("cuda_driver_version"), "nvmlSystemGetCudaDriverVersion_v2",
                   lambda version: f"{as_int(version) // 1000}.{as_int(version) % 1000 // 10}")


def _device_count(nvml: NvmlAdapter, failure: Optional[Unavailable]) -> Fact[int]:
    if failure is not None:
        return failure
    return to_fact(nvml.system("device_count"), "nvmlDeviceGetCount", _count)


def _count(answer) -> int:
    count = as_int(answer)
    if count < 0 or count > 4096:
        raise ValueError("not a device count")
    return count


def _module_version(text) -> Fact[str]:
    if isinstance(text, Unavailable):
        return text
    match = _MODULE_VERSION.search(text)
    if not match:
        return Unavailable(Reason.ERROR, "/proc/driver/nvidia/version", "no version on the NVRM line")
    return Known(match.group(1), "/proc/driver/nvidia/version")


def _module_flavor(text) -> Fact[str]:
    if isinstance(text, Unavailable):
        return text
    if "NVRM version" not in text:
        return Unavailable(Reason.ERROR, "/proc/driver/nvidia/version", "no NVRM line")
    flavor = "open" if "Open Kernel Module" in text else "proprietary"
    return Known(flavor, "/proc/driver/nvidia/version")


def _uvm_loaded(files: HostFiles) -> Fact[bool]:
    if files.exists("/sys/module/nvidia_uvm"):
        return Known(True, "/sys/module/nvidia_uvm")
    modules = files.read_text("/proc/modules")
    if isinstance(modules, Unavailable):
        return modules
    loaded = any(line.split(" ", 1)[0] == "nvidia_uvm" for line in modules.splitlines())
    return Known(loaded, "/proc/modules")
