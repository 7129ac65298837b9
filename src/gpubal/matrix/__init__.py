"""The compatibility matrix: versioned facts about CUDA, drivers, GPUs and libraries, each with its source.

The data live in ``matrix/data/*.toml`` (one file per topic) and every row carries the URL it was checked
against. The package has four modules, one job each:

- ``rows``: the immutable rows and the :class:`Matrix` that holds them;
- ``schema``: validation of the TOML documents (``parse_matrix``, ``MatrixError``);
- ``loading``: reading the package's own data files (or their parsed cache) once per process;
- ``queries``: the lookups rules make, pure functions of a :class:`Matrix`, so rules can be tested with
  hand-built matrices.

Everything public is importable from ``gpubal.matrix`` itself:

    >>> m = load_matrix()
    >>> cuda_release(m, "12.4.0").min_linux_driver
    '550.54.14'

``MATRIX_VERSION`` is the newest ``matrix_date`` of the data files; it is computed on first access, so
importing this package (rule discovery imports it) costs no file reads.
"""

from __future__ import annotations

from typing import Any

from .loading import CACHE_FILE, DATA_DIR, fingerprints, load_matrix, read_matrix_documents, write_cache
from .queries import (
    arch_for_compute_capability,
    branch_is_end_of_life,
    cuda_minor_releases,
    cuda_release,
    cuda_supports_compute_capability,
    cudnn_builds,
    compute_capability_for_name,
    cudnn_variant,
    driver_branch,
    driver_branch_name,
    min_driver_for_cuda,
    minor_compat,
    nccl_release,
    ollama_min_driver,
    ollama_nonexistent,
    xid_entry,
    ollama_setting,
    release_branch,
    vllm_compute_capability_floor,
)
from .rows import (
    CudaRelease,
    CudnnBuild,
    CudnnVariant,
    DriverBranch,
    GpuArch,
    GpuComputeCapability,
    Matrix,
    MinorVersionCompat,
    NcclRelease,
    OllamaBundle,
    OllamaChange,
    OllamaDriverOverride,
    OllamaNonexistent,
    OllamaRequirement,
    OllamaSetting,
    OtherEngineFlag,
    XidEntry,
    PytorchNcclPin,
    ReleaseBranch,
    VllmRequirement,
)
from .schema import MATRIX_FILES, MatrixError, parse_matrix


__all__ = [
    "MATRIX_FILES",
    "MatrixError",
    "CudaRelease",
    "ReleaseBranch",
    "MinorVersionCompat",
    "GpuArch",
    "DriverBranch",
    "CudnnBuild",
    "CudnnVariant",
    "NcclRelease",
    "PytorchNcclPin",
    "OllamaDriverOverride",
    "OllamaRequirement",
    "OllamaChange",
    "OllamaBundle",
    "OllamaSetting",
    "OllamaNonexistent",
    "OtherEngineFlag",
    "XidEntry",
    "Matrix",
    "load_matrix",
    "parse_matrix",
    "read_matrix_documents",
    "cuda_release",
    "cuda_minor_releases",
    "min_driver_for_cuda",
    "minor_compat",
    "release_branch",
    "arch_for_compute_capability",
    "cuda_supports_compute_capability",
    "driver_branch_name",
    "driver_branch",
    "branch_is_end_of_life",
    "cudnn_builds",
    "cudnn_variant",
    "nccl_release",
    "ollama_min_driver",
    "ollama_setting",
    "ollama_nonexistent",
    "xid_entry",
    "compute_capability_for_name",
    "vllm_compute_capability_floor",
    "GpuComputeCapability",
    "VllmRequirement",
    "fingerprints",
    "write_cache",
    "DATA_DIR",
    "CACHE_FILE",
]


def __getattr__(name: str) -> Any:  # PEP 562: MATRIX_VERSION is read lazily
    if name == "MATRIX_VERSION":
        return load_matrix().version
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
