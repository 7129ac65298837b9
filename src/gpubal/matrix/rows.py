"""The rows of the compatibility matrix: one immutable named tuple per kind of row, and the Matrix that holds them.

Rows are named tuples, made with `tuple_record` rather than typing.NamedTuple: every start defines them (rule
discovery imports the matrix), and so they cost 40% less (gpubal.model's `tuple_record` has the figures).
Every row carries the URL it was checked against in ``source``.
"""

from __future__ import annotations  # the annotations are read by no one: tuple_record leaves them text

import functools
import re
from typing import Any, Iterable, Optional, Tuple

from packaging.version import Version

from ..model import record, tuple_record

# One Version per distinct string, parsed once: loading the matrix checked 764 version strings, of which
# 177 differ, and the rules compare the same few again on every run. A Version is never changed, so one
# object can serve everyone; a string that is no version raises InvalidVersion each time (not cached).
# Bounded: the rules also ask about the host's strings, and a fleet run reads many hosts.
version_of = functools.lru_cache(maxsize=4096)(Version)


DRIVER_BRANCH_NAME = re.compile(r"^R\d{3}$")  # how NVIDIA names a driver branch: "R535"

# The words NVIDIA's pages and nvidia-smi put before a model name differently ("NVIDIA V100" on the page,
# "Tesla V100-SXM2-16GB" from nvidia-smi; "GeForce RTX 3090" and "NVIDIA GeForce RTX 3090").
_BRAND_PREFIXES = ("nvidia ", "tesla ")


def model_key(name: str) -> str:
    """A GPU model name compared without case, spacing or the brand word before it."""
    key = " ".join(name.split()).lower()
    for prefix in _BRAND_PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix):]
    return key


@tuple_record
class CudaRelease:
    """A CUDA toolkit release and the Linux driver NVIDIA lists as corresponding to it."""

    version: str
    label: str
    min_linux_driver: str
    source: str

    @property
    def major(self) -> int:
        return version_of(self.version).major


@tuple_record
class ReleaseBranch:
    """A CUDA minor release (13.x) and the driver branch NVIDIA lists for it."""

    cuda: str
    driver_branch: str
    source: str
    note: Optional[str] = None


@tuple_record
class MinorVersionCompat:
    """The driver floor for CUDA minor version compatibility within one CUDA major."""

    major: int
    min_linux_driver: str
    not_supported: str
    source: str
    upper_branch_exclusive: Optional[str] = None
    note: Optional[str] = None
    error_source: Optional[str] = None


@tuple_record
class GpuArch:
    """A GPU architecture (or part of one) and the toolkits that can compile for it."""

    arch: str
    compute_capabilities: Tuple[str, ...]
    source: str
    first_cuda: Optional[str] = None
    last_cuda: Optional[str] = None
    removed_in: Optional[str] = None
    note: Optional[str] = None


@tuple_record
class DriverBranch:
    """An NVIDIA data-center driver branch (R535, R580, ...)."""

    branch: str
    source: str
    type: Optional[str] = None
    end_of_life: Optional[str] = None  # "YYYY-MM"
    max_cuda_major: Optional[int] = None
    status: Optional[str] = None  # "end_of_life" when NVIDIA says so without a date
    note: Optional[str] = None

    @property
    def number(self) -> int:
        return int(self.branch[1:])


@tuple_record
class CudnnBuild:
    """One cuDNN release built for one CUDA major ("cuDNN 9.5.1 for CUDA 12.x")."""

    version: str
    cuda_major: int
    cuda_versions: Tuple[str, ...]
    min_linux_driver: str
    compute_capabilities: Tuple[str, ...]
    source: str
    note: Optional[str] = None


@tuple_record
class CudnnVariant:
    """The CUDA majors NVIDIA builds one cuDNN release for, from its redistrib manifest: enough to judge
    the CUDA major where the release's support matrix (driver floor, compute capabilities) was not found."""

    version: str
    cuda_majors: Tuple[int, ...]
    released: str
    source: str
    note: Optional[str] = None


@tuple_record
class NcclRelease:
    """An NCCL release and the CUDA versions NVIDIA builds it for."""

    version: str
    cuda_builds: Tuple[str, ...]
    source: str
    note: Optional[str] = None


@tuple_record
class PytorchNcclPin:
    """The NCCL wheel a PyTorch release pins for one CUDA variant."""

    torch: str
    cuda: str
    package: str
    nccl: str
    source: str
    note: Optional[str] = None


@tuple_record
class OllamaDriverOverride:
    """A higher driver floor Ollama's docs give for a range of compute capabilities."""

    compute_capability_min: str
    compute_capability_max: str
    min_linux_driver: str


@tuple_record
class OllamaRequirement:
    """Ollama's stated NVIDIA requirements, as one edition of its docs words them."""

    edition: str
    min_compute_capability: str
    min_linux_driver: str
    wording: str
    source: str
    overrides: Tuple[OllamaDriverOverride, ...] = ()


@tuple_record
class OllamaChange:
    """A change to Ollama's NVIDIA support (a merged PR, a closed issue, a release)."""

    date: str
    kind: str
    summary: str
    source: str


@tuple_record
class OllamaBundle:
    """The runner or lib folders seen in one Ollama install or start-up log (what gpubal may find)."""

    ollama_version: str  # free text: "0.2.7", or "unknown (...)" where the source does not say
    platform: str
    log_text: str
    source: str
    runners: Tuple[str, ...] = ()
    lib_dirs: Tuple[str, ...] = ()
    note: Optional[str] = None


@tuple_record
class OllamaSetting:
    """An environment variable the Ollama server reads (or reads no longer)."""

    name: str
    category: str  # "ollama", "gpu_selection", "proxy"
    description: str
    source: str
    seen_in_version: Optional[str] = None  # earliest release seen reading it ("unknown" allowed)
    absent_in_version: Optional[str] = None  # a later release whose server config no longer lists it
    first_version: Optional[str] = None
    note: Optional[str] = None


@tuple_record
class OllamaNonexistent:
    """A setting, flag or capability people expect of Ollama that it does not have, and what exists."""

    name: str
    kind: str  # "env", "flag", "capability"
    exists_instead: Tuple[str, ...]
    explanation: str
    source: str


@tuple_record
class OtherEngineFlag:
    """A real multi-GPU flag of another serving engine (vLLM, SGLang)."""

    engine: str
    flag: str
    meaning: str
    source: str
    aliases: Tuple[str, ...] = ()


@tuple_record
class XidEntry:
    """One row of NVIDIA's Xid catalog: what the Xid means and what to do about it."""

    xid: int
    mnemonic: str
    description: str
    immediate_action: str  # the catalog's "Resolution Bucket (Immediate Action)"
    investigatory_action: str
    severity: str  # gpubal's grade of that action: "error", "warning", "info"
    catalog_says: str  # the catalog's words the grade rests on
    source: str
    note: Optional[str] = None


@tuple_record
class GpuComputeCapability:
    """GPU model names, as NVIDIA's CUDA GPUs pages list them, that share one compute capability."""

    compute_capability: str
    names: Tuple[str, ...]
    source: str
    note: Optional[str] = None


@tuple_record
class VllmRequirement:
    """The lowest compute capability one edition of vLLM's installation docs states for NVIDIA GPUs."""

    documented_in: str  # the vLLM release whose docs say it
    min_compute_capability: str
    wording: str
    source: str
    note: Optional[str] = None


@record
class Matrix:
    """The whole compatibility matrix."""

    matrix_dates: Tuple[Tuple[str, str], ...]  # (file stem, matrix_date)
    descriptions: Tuple[Tuple[str, str], ...]  # (file stem, [meta] description)
    cuda_releases: Tuple[CudaRelease, ...]
    release_branches: Tuple[ReleaseBranch, ...]
    minor_version_compat: Tuple[MinorVersionCompat, ...]
    gpu_archs: Tuple[GpuArch, ...]
    driver_branches: Tuple[DriverBranch, ...]
    cudnn: Tuple[CudnnBuild, ...]
    nccl_releases: Tuple[NcclRelease, ...]
    pytorch_nccl_pins: Tuple[PytorchNcclPin, ...]
    ollama_requirements: Tuple[OllamaRequirement, ...]
    ollama_changes: Tuple[OllamaChange, ...]
    ollama_bundles: Tuple[OllamaBundle, ...] = ()
    ollama_settings: Tuple[OllamaSetting, ...] = ()
    ollama_nonexistent: Tuple[OllamaNonexistent, ...] = ()
    other_engine_flags: Tuple[OtherEngineFlag, ...] = ()
    cudnn_variants: Tuple[CudnnVariant, ...] = ()
    xid_catalog: Tuple[XidEntry, ...] = ()
    gpu_compute_capabilities: Tuple[GpuComputeCapability, ...] = ()
    vllm_requirements: Tuple[VllmRequirement, ...] = ()

    @property
    def version(self) -> str:
        """The newest matrix_date over all files."""
        return max(d for _, d in self.matrix_dates)

    def all_rows(self) -> Iterable[Any]:
        yield from self.cuda_releases
        yield from self.release_branches
        yield from self.minor_version_compat
        yield from self.gpu_archs
        yield from self.driver_branches
        yield from self.cudnn
        yield from self.cudnn_variants
        yield from self.nccl_releases
        yield from self.pytorch_nccl_pins
        yield from self.ollama_requirements
        yield from self.ollama_changes
        yield from self.ollama_bundles
        yield from self.ollama_settings
        yield from self.ollama_nonexistent
        yield from self.other_engine_flags
        yield from self.xid_catalog
        yield from self.gpu_compute_capabilities
        yield from self.vllm_requirements
