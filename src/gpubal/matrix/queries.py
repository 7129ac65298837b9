"""The lookups rules make in the matrix: pure functions of a :class:`~gpubal.matrix.rows.Matrix` (or of one
row), so that a rule can be tested with a hand-built matrix."""

from __future__ import annotations

import datetime as _dt
import re
from typing import Optional, Tuple

from packaging.version import InvalidVersion, Version

from .rows import (DRIVER_BRANCH_NAME, CudaRelease, CudnnBuild, CudnnVariant, DriverBranch, GpuArch,
                   GpuComputeCapability, Matrix, MinorVersionCompat, NcclRelease, OllamaNonexistent,
                   OllamaRequirement, OllamaSetting, ReleaseBranch, VllmRequirement, XidEntry, model_key,
                   version_of)


def _v(value: str) -> Version:
    return version_of(value)


def cuda_release(matrix: Matrix, version: str) -> Optional[CudaRelease]:
    """The row for an exact toolkit release ("12.4.1"); "12.4" means "12.4.0"."""
    want = _v(version)
    return next((r for r in matrix.cuda_releases if _v(r.version) == want), None)


def cuda_minor_releases(matrix: Matrix, major: int, minor: int) -> Tuple[CudaRelease, ...]:
    """All listed releases (GA and updates) of one CUDA minor version, oldest first."""
    return tuple(r for r in matrix.cuda_releases if _v(r.version).release[:2] == (major, minor))


def min_driver_for_cuda(matrix: Matrix, version: str) -> Optional[str]:
    """The corresponding driver of a toolkit release; for "X.Y" or an unlisted X.Y.Z, the lowest driver
    listed for that minor version. None when the matrix has no row for that minor version."""
    exact = cuda_release(matrix, version) if len(_v(version).release) >= 3 else None
    if exact is not None:
        return exact.min_linux_driver
    rel = _v(version).release
    rows = cuda_minor_releases(matrix, rel[0], rel[1] if len(rel) > 1 else 0)
    if not rows:
        return None
    return min((r.min_linux_driver for r in rows), key=_v)


def minor_compat(matrix: Matrix, major: int) -> Optional[MinorVersionCompat]:
    return next((c for c in matrix.minor_version_compat if c.major == major), None)


def release_branch(matrix: Matrix, cuda: str) -> Optional[ReleaseBranch]:
    """The driver branch NVIDIA lists for a CUDA minor release ("13.4" or "13.4.1")."""
    rel = _v(cuda).release
    return next((b for b in matrix.release_branches if _v(b.cuda).release[:2] == rel[:2]), None)


def arch_for_compute_capability(matrix: Matrix, cc: str) -> Optional[GpuArch]:
    want = _v(cc)
    return next((a for a in matrix.gpu_archs if any(_v(x) == want for x in a.compute_capabilities)), None)


def cuda_supports_compute_capability(matrix: Matrix, cuda: str, cc: str) -> Optional[bool]:
    """Whether toolkit `cuda` can compile for `cc`: True, False, or None when the matrix cannot tell
    (unknown compute capability, or an older toolkit than the first one the matrix knows of)."""
    arch = arch_for_compute_capability(matrix, cc)
    if arch is None:
        return None
    c = _v(cuda)
    if arch.removed_in is not None and c >= _v(arch.removed_in):
        return False
    if arch.first_cuda is not None:
        return c >= _v(arch.first_cuda)
    return None if arch.removed_in is None else True


def driver_branch_name(driver_version: str) -> str:
    """"535.104.05" -> "R535"."""
    major = _v(driver_version).release[0]
    return f"R{major}"


def driver_branch(matrix: Matrix, branch_or_version: str) -> Optional[DriverBranch]:
    name = branch_or_version if DRIVER_BRANCH_NAME.match(branch_or_version) else driver_branch_name(branch_or_version)
    return next((b for b in matrix.driver_branches if b.branch == name), None)


def branch_is_end_of_life(branch: DriverBranch, on: _dt.date) -> Optional[bool]:
    """True when NVIDIA lists the branch as end of life by `on` (a month's end counts as its last day),
    False when it is still within its dated support, None when the matrix has no date or status."""
    if branch.status == "end_of_life":
        return True
    if branch.end_of_life is None:
        return None
    year, month = (int(x) for x in branch.end_of_life.split("-"))
    first_after = _dt.date(year + (month == 12), month % 12 + 1, 1)
    return on >= first_after


def cudnn_builds(matrix: Matrix, version: str) -> Tuple[CudnnBuild, ...]:
    want = _v(version)
    return tuple(b for b in matrix.cudnn if _v(b.version) == want)


def cudnn_variant(matrix: Matrix, version: str) -> Optional[CudnnVariant]:
    want = _v(version)
    return next((v for v in matrix.cudnn_variants if _v(v.version) == want), None)


def nccl_release(matrix: Matrix, version: str) -> Optional[NcclRelease]:
    want = _v(version)
    return next((r for r in matrix.nccl_releases if _v(r.version) == want), None)


def ollama_min_driver(requirement: OllamaRequirement, cc: str) -> str:
    """The driver floor one edition of Ollama's docs gives for a GPU of compute capability `cc`."""
    c = _v(cc)
    floor = requirement.min_linux_driver
    for o in requirement.overrides:
        if _v(o.compute_capability_min) <= c <= _v(o.compute_capability_max) and _v(o.min_linux_driver) > _v(floor):
            floor = o.min_linux_driver
    return floor


def ollama_setting(matrix: Matrix, name: str) -> Optional[OllamaSetting]:
    return next((setting for setting in matrix.ollama_settings if setting.name == name), None)


def ollama_nonexistent(matrix: Matrix, name: str) -> Optional[OllamaNonexistent]:
    """A setting ("OLLAMA_SCHEDULER") or a flag of `ollama serve` ("--gpus") that Ollama does not have."""
    return next((entry for entry in matrix.ollama_nonexistent
                 if entry.name == name or (entry.kind == "flag" and entry.name.split()[-1] == name)), None)


def xid_entry(matrix: Matrix, xid: int) -> Optional[XidEntry]:
    """The catalog row of an Xid, or None where gpubal has not verified its action."""
    return next((entry for entry in matrix.xid_catalog if entry.xid == xid), None)


# What nvidia-smi prints after a listed model name that does not make it another model: a form factor or
# memory size after a dash ("-SXM2-16GB", "-PCIE-40GB") or after a space ("80GB HBM3", "PCIe", "NVL",
# "Ada Generation"). Anything else ("Ti", "SUPER", "Laptop GPU", "D", "(Pascal)") may be another model.
_VARIANT_SUFFIX = re.compile(r"(?:-[\w-]*|(?: (?:\d+ ?GB|PCIe|SXM\d?|NVL|HBM\d\w*|Generation))+)", re.IGNORECASE)


def compute_capability_for_name(matrix: Matrix, name: str) -> Optional[Tuple[str, str, GpuComputeCapability]]:
    """(compute capability, the name as NVIDIA lists it, its row) for a GPU name as nvidia-smi, NVML or a
    log prints it; None when no listed name fits. A name nvidia-smi cut short ("Tesla V100-SXM2...") fits
    only when the visible part goes past the model's name into its variant, so the cut hid no "Ti"."""
    printed = name.strip()
    truncated = printed.endswith("...")
    key = model_key(printed[:-3].rstrip() if truncated else printed)
    if not key:
        return None
    best = None
    for row in matrix.gpu_compute_capabilities:
        for listed in row.names:
            listed_key = model_key(listed)
            if key == listed_key:
                match = "" if truncated else "exact"
            elif key.startswith(listed_key) and _VARIANT_SUFFIX.fullmatch(key[len(listed_key):]):
                match = "variant"
            else:
                continue
            if match and (best is None or len(listed_key) > len(model_key(best[1]))):
                best = (row.compute_capability, listed, row)
    return best


def vllm_compute_capability_floor(matrix: Matrix, vllm_version: Optional[str]) -> Tuple[Optional[VllmRequirement], Optional[VllmRequirement]]:
    """The documented floors that bound an installed vLLM's: (the lowest it can be, the highest it can be).
    A release at or before an edition's has at most that edition's floor; at or after, at least. Where
    both are the same edition, the floor is known exactly. Unknown version: the first and the last edition."""
    rows = matrix.vllm_requirements
    if not rows:
        return None, None
    try:
        version = version_of(vllm_version) if vllm_version else None
    except InvalidVersion:
        version = None
    if version is None:
        return rows[0], rows[-1]
    at_or_before = [row for row in rows if version_of(row.documented_in) <= version]
    at_or_after = [row for row in rows if version_of(row.documented_in) >= version]
    low = at_or_before[-1] if at_or_before else rows[0]
    high = at_or_after[0] if at_or_after else rows[-1]
    return low, high
