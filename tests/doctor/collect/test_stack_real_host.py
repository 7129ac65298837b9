"""The stack collector against this machine's real files, not a fixture: the CUDA 13 toolkit that the
development and CI machines carry in /usr/local/cuda-13.0 (assembled from NVIDIA's wheels, so it has no
version.json). Skipped where that toolkit is not installed."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from gpubal.doctor.collect.processes import process_names
from gpubal.doctor.collect.stack import collect_stack
from gpubal.model import Known
from gpubal.doctor.probes.files import HostFiles

TOOLKIT = Path("/usr/local/cuda-13.0")
pytestmark = pytest.mark.skipif(not (TOOLKIT / "include" / "cuda_runtime_api.h").exists(),
                                reason="no CUDA 13.0 toolkit in /usr/local/cuda-13.0 on this machine")


def _runtime_version_on_disk() -> str:
    """What the toolkit says of itself: its runtime wheel's dist-info, else CUDART_VERSION in the header."""
    dist_info = TOOLKIT / "dist-info"
    if dist_info.is_dir():
        for entry in os.listdir(dist_info):
            match = re.fullmatch(r"nvidia_cuda_runtime-(\d+\.\d+\.\d+)\.dist-info", entry)
            if match:
                return match.group(1)
    header = (TOOLKIT / "include" / "cuda_runtime_api.h").read_text()
    number = int(re.search(r"#define CUDART_VERSION\s+(\d+)", header).group(1))
    return f"{number // 1000}.{number % 1000 // 10}"


def test_the_real_cuda_13_toolkit_is_found_with_its_version():
    files = HostFiles("/")
    stack = collect_stack(files, {}, (), process_names(files), Known("none", "test"))
    toolkits = {toolkit.path: toolkit for toolkit in stack.cuda_toolkits.value}
    assert str(TOOLKIT) in toolkits
    assert toolkits[str(TOOLKIT)].version == _runtime_version_on_disk()
    assert toolkits[str(TOOLKIT)].version.startswith("13.0")
    assert toolkits[str(TOOLKIT)].has_nvcc == (TOOLKIT / "bin" / "nvcc").exists()


def test_its_libcudart_is_listed_once_with_the_toolkits_version():
    files = HostFiles("/")
    stack = collect_stack(files, {}, (), process_names(files), Known("none", "test"))
    runtime = _runtime_version_on_disk()
    copies = [copy for copy in stack.libraries.value
              if copy.name == "cudart" and os.path.realpath(copy.path).startswith(os.path.realpath(TOOLKIT))]
    assert copies, "the toolkit's libcudart.so.13 was not found"
    assert len({os.path.realpath(copy.path) for copy in copies}) == len(copies)  # one entry per real file
    assert all(copy.version == runtime for copy in copies)
