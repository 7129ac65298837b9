"""Helpers for the rules about the software stack: CUDA versions in use, who uses which library copy,
and a way to say "the compatibility matrix has no row for this" (not evaluated, never a guess)."""

from __future__ import annotations

from typing import Dict, List, NoReturn, Tuple

from ..model import FactMissing, LibraryCopy, Reason, Stack, Unavailable, record, value_or

LIBRARY_NAMES = {"cudart": "CUDA runtime (libcudart)", "cudnn": "cuDNN", "nccl": "NCCL"}
RUNTIME_ORIGINS = ("LD_LIBRARY_PATH", "system", "toolkit")


@record
class CudaUse:
    """One place a CUDA version is used: a toolkit, a libcudart copy, or a framework's build."""

    version: str  # "13.0", "13.0.96", "12.8"
    what: str  # "CUDA toolkit /usr/local/cuda-13.0", "torch 2.11.0+cu130 (built for CUDA 13.0)"
    origin: str  # "toolkit", "system", "LD_LIBRARY_PATH", "wheel", "ollama", "framework"


def version_key(text: str) -> Tuple[int, ...]:
    """The release numbers of a version, as packaging's Version(text).release; () when it is no version.
    The versions a host reports are nearly all plain numbers and dots ("580.95.05", "13.0"): those are
    read here, as PEP 440 reads them, without a Version object; anything else ("2.11.0+cu130", "12.8rc1",
    " 12.8") goes to packaging, imported here rather than with the rules."""
    if text and text.isascii() and text.replace(".", "").isdigit() and "" not in text.split("."):
        return tuple(int(part) for part in text.split("."))
    from packaging.version import InvalidVersion, Version

    try:
        return Version(text).release
    except InvalidVersion:
        return ()


def major_minor(text: str) -> Tuple[int, int]:
    release = version_key(text) + (0, 0)
    return release[0], release[1]


def short_version(text: str, parts: int = 3) -> str:
    """"9.19.0.56" -> "9.19.0": wheels carry a build number that NVIDIA's tables leave out."""
    release = version_key(text)
    return ".".join(str(part) for part in release[:parts]) if release else text


def cuda_uses(stack: Stack) -> List[CudaUse]:
    """Every CUDA version some program on the host uses. Needs stack.libraries; toolkits and packages
    are added when known (a missing /usr/local is no toolkit, not an unknown)."""
    uses = [CudaUse(toolkit.version, f"CUDA toolkit {toolkit.path}", "toolkit")
            for toolkit in value_or(stack.cuda_toolkits, [])]
    for copy in stack.need("libraries"):
        if copy.name == "cudart":
            uses.append(CudaUse(copy.version, f"libcudart {copy.version} at {copy.path} ({copy.consumer})", copy.origin))
    for package in value_or(stack.python_packages, []):
        if package.cuda_version and package.cuda_version != "none":  # "none": a CPU-only build
            uses.append(CudaUse(package.cuda_version,
                                f"{package.name} {package.version} (built for CUDA {package.cuda_version})", "framework"))
    return uses


def consumer_cuda(copy: LibraryCopy, stack: Stack) -> Tuple[str, str]:
    """The CUDA version the consumer of a cuDNN or NCCL copy runs with, and how gpubal knows; ("", "")
    when the snapshot does not say."""
    if copy.origin == "wheel":
        for package in value_or(stack.python_packages, []):
            if f"{package.name} {package.version}" in copy.consumer and package.cuda_version:
                return package.cuda_version, f"{package.name} {package.version} is built for CUDA {package.cuda_version}"
        wheel = copy.path.rsplit("(", 1)[-1]
        for major in ("11", "12", "13"):
            if f"-cu{major}" in wheel or f"/cu{major}/" in copy.path:
                return major, f"the wheel is the CUDA {major} build"
        return "", ""
    runtimes = [c for c in value_or(stack.libraries, []) if c.name == "cudart" and c.origin in RUNTIME_ORIGINS]
    if copy.origin == "ollama":
        runtimes = [c for c in value_or(stack.libraries, []) if c.name == "cudart" and c.path.startswith(
            copy.path.rsplit("/", 1)[0] + "/")]
    if runtimes:
        return runtimes[0].version, f"libcudart {runtimes[0].version} at {runtimes[0].path}"
    return "", ""


def copies_by_consumer(copies: List[LibraryCopy]) -> Dict[str, List[LibraryCopy]]:
    grouped: Dict[str, List[LibraryCopy]] = {}
    for copy in copies:
        grouped.setdefault(copy.consumer, []).append(copy)
    return grouped


def matrix_lacks(what: str, data_file: str) -> NoReturn:
    """Not evaluated: the matrix has no row for `what` (gpubal does not guess compatibility)."""
    raise FactMissing(f"matrix: {what}", Unavailable(
        Reason.NOT_FOUND, f"matrix/data/{data_file}", f"the compatibility matrix has no row for {what}"))
