"""The compatibility matrix: versioned facts about CUDA, drivers, GPUs and libraries, each with its source.

The data live in ``matrix/data/*.toml`` (one file per topic) and every row carries the URL it was checked
against. This module reads those files from the package itself (``importlib.resources``; nothing else is
read), validates them against a fixed schema and exposes them as named tuples (immutable rows that cost a
tenth of a frozen dataclass to define: ~2.5 ms each on a slow VM, paid at every start). Everything else here
is a pure function of a :class:`Matrix`, so rules can be tested with hand-built matrices.

    >>> m = load_matrix()
    >>> cuda_release(m, "12.4.0").min_linux_driver
    '550.54.14'

``MATRIX_VERSION`` is the newest ``matrix_date`` of the data files; it is computed on first access, so
importing this module (rule discovery imports every module of the package) costs no file reads.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Tuple

from packaging.version import InvalidVersion, Version


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
]

MATRIX_FILES: Tuple[str, ...] = (
    "cuda_driver",
    "gpu_arch_cuda",
    "driver_branches",
    "cudnn",
    "nccl",
    "ollama",
    "ollama_settings",
    "xid_catalog",
)

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_BRANCH_RE = re.compile(r"^R\d{3}$")
_BRANCH_TYPES = ("Long Term Support Branch", "Production Branch", "New Feature Branch")
_BRANCH_STATUSES = ("end_of_life",)
_OLLAMA_CHANGE_KINDS = ("pull_request", "issue", "release", "docs")
_XID_SEVERITIES = ("error", "warning", "info")


class MatrixError(ValueError):
    """A data file does not follow the matrix schema."""


# --------------------------------------------------------------------------------------------- rows


class CudaRelease(NamedTuple):
    """A CUDA toolkit release and the Linux driver NVIDIA lists as corresponding to it."""

    version: str
    label: str
    min_linux_driver: str
    source: str

    @property
    def major(self) -> int:
        return Version(self.version).major


class ReleaseBranch(NamedTuple):
    """A CUDA minor release (13.x) and the driver branch NVIDIA lists for it."""

    cuda: str
    driver_branch: str
    source: str
    note: Optional[str] = None


class MinorVersionCompat(NamedTuple):
    """The driver floor for CUDA minor version compatibility within one CUDA major."""

    major: int
    min_linux_driver: str
    not_supported: str
    source: str
    upper_branch_exclusive: Optional[str] = None
    note: Optional[str] = None
    error_source: Optional[str] = None


class GpuArch(NamedTuple):
    """A GPU architecture (or part of one) and the toolkits that can compile for it."""

    arch: str
    compute_capabilities: Tuple[str, ...]
    source: str
    first_cuda: Optional[str] = None
    last_cuda: Optional[str] = None
    removed_in: Optional[str] = None
    note: Optional[str] = None


class DriverBranch(NamedTuple):
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


class CudnnBuild(NamedTuple):
    """One cuDNN release built for one CUDA major ("cuDNN 9.5.1 for CUDA 12.x")."""

    version: str
    cuda_major: int
    cuda_versions: Tuple[str, ...]
    min_linux_driver: str
    compute_capabilities: Tuple[str, ...]
    source: str
    note: Optional[str] = None


class CudnnVariant(NamedTuple):
    """The CUDA majors NVIDIA builds one cuDNN release for, from its redistrib manifest: enough to judge
    the CUDA major where the release's support matrix (driver floor, compute capabilities) was not found."""

    version: str
    cuda_majors: Tuple[int, ...]
    released: str
    source: str
    note: Optional[str] = None


class NcclRelease(NamedTuple):
    """An NCCL release and the CUDA versions NVIDIA builds it for."""

    version: str
    cuda_builds: Tuple[str, ...]
    source: str
    note: Optional[str] = None


class PytorchNcclPin(NamedTuple):
    """The NCCL wheel a PyTorch release pins for one CUDA variant."""

    torch: str
    cuda: str
    package: str
    nccl: str
    source: str
    note: Optional[str] = None


class OllamaDriverOverride(NamedTuple):
    """A higher driver floor Ollama's docs give for a range of compute capabilities."""

    compute_capability_min: str
    compute_capability_max: str
    min_linux_driver: str


class OllamaRequirement(NamedTuple):
    """Ollama's stated NVIDIA requirements, as one edition of its docs words them."""

    edition: str
    min_compute_capability: str
    min_linux_driver: str
    wording: str
    source: str
    overrides: Tuple[OllamaDriverOverride, ...] = ()


class OllamaChange(NamedTuple):
    """A change to Ollama's NVIDIA support (a merged PR, a closed issue, a release)."""

    date: str
    kind: str
    summary: str
    source: str


class OllamaBundle(NamedTuple):
    """The runner or lib folders seen in one Ollama install or start-up log (what gpubal may find)."""

    ollama_version: str  # free text: "0.2.7", or "unknown (...)" where the source does not say
    platform: str
    log_text: str
    source: str
    runners: Tuple[str, ...] = ()
    lib_dirs: Tuple[str, ...] = ()
    note: Optional[str] = None


class OllamaSetting(NamedTuple):
    """An environment variable the Ollama server reads (or reads no longer)."""

    name: str
    category: str  # "ollama", "gpu_selection", "proxy"
    description: str
    source: str
    seen_in_version: Optional[str] = None  # earliest release seen reading it ("unknown" allowed)
    absent_in_version: Optional[str] = None  # a later release whose server config no longer lists it
    first_version: Optional[str] = None
    note: Optional[str] = None


class OllamaNonexistent(NamedTuple):
    """A setting, flag or capability people expect of Ollama that it does not have, and what exists."""

    name: str
    kind: str  # "env", "flag", "capability"
    exists_instead: Tuple[str, ...]
    explanation: str
    source: str


class OtherEngineFlag(NamedTuple):
    """A real multi-GPU flag of another serving engine (vLLM, SGLang)."""

    engine: str
    flag: str
    meaning: str
    source: str
    aliases: Tuple[str, ...] = ()


class XidEntry(NamedTuple):
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


@dataclass(frozen=True)
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


# ---------------------------------------------------------------------------------------- validation

# Per table: (required keys, optional keys). Types are checked by the field parsers below.
_SCHEMA: Dict[Tuple[str, str], Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    ("cuda_driver", "release"): (("version", "label", "min_linux_driver", "source"), ()),
    ("cuda_driver", "release_branch"): (("cuda", "driver_branch", "source"), ("note",)),
    ("cuda_driver", "minor_version_compatibility"): (
        ("major", "min_linux_driver", "not_supported", "source"),
        ("upper_branch_exclusive", "note", "error_source"),
    ),
    ("gpu_arch_cuda", "arch"): (
        ("arch", "compute_capabilities", "source"),
        ("first_cuda", "last_cuda", "removed_in", "note"),
    ),
    ("driver_branches", "branch"): (
        ("branch", "source"),
        ("type", "end_of_life", "max_cuda_major", "status", "note"),
    ),
    ("cudnn", "build"): (
        ("version", "cuda_major", "cuda_versions", "min_linux_driver", "compute_capabilities", "source"),
        ("note",),
    ),
    ("cudnn", "variant"): (("version", "cuda_majors", "released", "source"), ("note",)),
    ("nccl", "release"): (("version", "cuda_builds", "source"), ("note",)),
    ("nccl", "pytorch_pin"): (("torch", "cuda", "package", "nccl", "source"), ("note",)),
    ("ollama", "requirement"): (
        ("edition", "min_compute_capability", "min_linux_driver", "wording", "source"),
        ("override",),
    ),
    ("ollama", "change"): (("date", "kind", "summary", "source"), ()),
    ("ollama", "bundle_observed"): (("ollama_version", "platform", "log_text", "source"), ("runners", "lib_dirs", "note")),
    ("ollama_settings", "setting"): (
        ("name", "category", "description", "description_source", "description_verified", "source"),
        ("seen_in_version", "seen_in_source", "seen_date", "absent_in_version", "absent_in_source", "first_version",
         "first_version_source", "first_version_evidence", "vendor", "notes", "notes_source"),
    ),
    ("ollama_settings", "nonexistent"): (
        ("name", "kind", "exists_instead", "explanation", "source", "evidence"), ("serve_help_flags", "faq_quote"),
    ),
    ("ollama_settings", "other_engine_flag"): (("engine", "flag", "meaning", "source"), ("aliases", "evidence", "notes")),
    ("xid_catalog", "xid"): (
        ("xid", "mnemonic", "description", "immediate_action", "investigatory_action", "severity", "catalog_says",
         "source"), ("note",),
    ),
}
_SETTING_CATEGORIES = ("ollama", "gpu_selection", "proxy")
_NONEXISTENT_KINDS = ("env", "flag", "capability")
_OVERRIDE_KEYS = ("compute_capability_min", "compute_capability_max", "min_linux_driver")


class _Row:
    """Typed access to one TOML table with error messages that name the row."""

    def __init__(self, stem: str, table: str, index: int, data: Any) -> None:
        self.where = f"{stem}.toml [[{table}]] #{index + 1}"
        if not isinstance(data, Mapping):
            raise MatrixError(f"{self.where}: not a table")
        self.data = data
        required, optional = _SCHEMA[(stem, table)]
        missing = [k for k in required if k not in data]
        if missing:
            raise MatrixError(f"{self.where}: missing required key(s) {', '.join(missing)}")
        unknown = sorted(set(data) - set(required) - set(optional))
        if unknown:
            raise MatrixError(f"{self.where}: unknown key(s) {', '.join(unknown)}")
        self.source()  # every row must cite a source

    def fail(self, key: str, why: str) -> MatrixError:
        return MatrixError(f"{self.where}: {key}: {why}")

    def text(self, key: str, optional: bool = False) -> Optional[str]:
        if key not in self.data:
            if optional:
                return None
            raise self.fail(key, "missing")
        value = self.data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected a non-empty string, got {value!r}")
        return value

    def req_text(self, key: str) -> str:
        value = self.text(key)
        assert value is not None
        return value

    def url(self, key: str, optional: bool = False) -> Optional[str]:
        value = self.text(key, optional)
        if value is not None and (not value.startswith("https://") or len(value) <= len("https://")):
            raise self.fail(key, f"must be an https:// URL, got {value!r}")
        return value

    def source(self) -> str:
        value = self.url("source")
        assert value is not None
        return value

    def version(self, key: str, optional: bool = False) -> Optional[str]:
        value = self.text(key, optional)
        if value is not None:
            _check_version(value, lambda why: self.fail(key, why))
        return value

    def req_version(self, key: str) -> str:
        value = self.version(key)
        assert value is not None
        return value

    def versions(self, key: str) -> Tuple[str, ...]:
        value = self.data[key]
        if not isinstance(value, list) or not value:
            raise self.fail(key, f"expected a non-empty list of version strings, got {value!r}")
        for item in value:
            if not isinstance(item, str):
                raise self.fail(key, f"expected version strings, got {item!r}")
            _check_version(item, lambda why: self.fail(key, why))
        if len(set(value)) != len(value):
            raise self.fail(key, "duplicate entries")
        return tuple(value)

    def strings(self, key: str, optional: bool = False, urls: bool = False) -> Tuple[str, ...]:
        if key not in self.data and optional:
            return ()
        value = self.data[key]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(key, f"expected a non-empty list of strings, got {value!r}")
        if urls and not all(v.startswith("https://") and len(v) > len("https://") for v in value):
            raise self.fail(key, f"expected https:// URLs, got {value!r}")
        return tuple(value)

    def boolean(self, key: str) -> bool:
        value = self.data[key]
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value

    def integer(self, key: str, optional: bool = False) -> Optional[int]:
        if key not in self.data and optional:
            return None
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(key, f"expected a non-negative integer, got {value!r}")
        return value


def _check_version(value: str, fail: Any) -> None:
    try:
        Version(value)
    except InvalidVersion:
        raise fail(f"{value!r} is not a version") from None


def _tables(doc: Mapping[str, Any], stem: str, table: str) -> List[Any]:
    rows = doc.get(table, [])
    if not isinstance(rows, list):
        raise MatrixError(f"{stem}.toml: {table} must be an array of tables ([[{table}]])")
    return rows


def _check_header(stem: str, doc: Mapping[str, Any]) -> Tuple[str, str]:
    date = doc.get("matrix_date")
    if not isinstance(date, str) or not _DATE_RE.match(date):
        raise MatrixError(f"{stem}.toml: matrix_date must be a 'YYYY-MM-DD' string, got {date!r}")
    try:
        _dt.date.fromisoformat(date)
    except ValueError:
        raise MatrixError(f"{stem}.toml: matrix_date {date!r} is not a calendar date") from None
    meta = doc.get("meta")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("description"), str) or not meta["description"].strip():
        raise MatrixError(f"{stem}.toml: [meta] description is required")
    tables = {t for (s, t) in _SCHEMA if s == stem}
    unknown = sorted(set(doc) - tables - {"matrix_date", "meta"})
    if unknown:
        raise MatrixError(f"{stem}.toml: unknown top-level key(s) {', '.join(unknown)}")
    return date, meta["description"]


def _unique(items: Iterable[Any], what: str) -> None:
    seen = set()
    for item in items:
        if item in seen:
            raise MatrixError(f"duplicate {what}: {item!r}")
        seen.add(item)


def _parse_cuda_driver(doc: Mapping[str, Any]) -> Tuple[Tuple[CudaRelease, ...], Tuple[ReleaseBranch, ...], Tuple[MinorVersionCompat, ...]]:
    releases = []
    for i, data in enumerate(_tables(doc, "cuda_driver", "release")):
        r = _Row("cuda_driver", "release", i, data)
        releases.append(
            CudaRelease(
                version=r.req_version("version"),
                label=r.req_text("label"),
                min_linux_driver=r.req_version("min_linux_driver"),
                source=r.source(),
            )
        )
    _unique((Version(x.version) for x in releases), "CUDA release version")

    branches = []
    for i, data in enumerate(_tables(doc, "cuda_driver", "release_branch")):
        r = _Row("cuda_driver", "release_branch", i, data)
        name = r.req_text("driver_branch")
        if not _BRANCH_RE.match(name):
            raise r.fail("driver_branch", f"expected 'R' and three digits, got {name!r}")
        branches.append(ReleaseBranch(cuda=r.req_version("cuda"), driver_branch=name, source=r.source(), note=r.text("note", True)))
    _unique((Version(x.cuda) for x in branches), "release_branch cuda")

    compat = []
    for i, data in enumerate(_tables(doc, "cuda_driver", "minor_version_compatibility")):
        r = _Row("cuda_driver", "minor_version_compatibility", i, data)
        major = r.integer("major")
        assert major is not None
        compat.append(
            MinorVersionCompat(
                major=major,
                min_linux_driver=r.req_version("min_linux_driver"),
                not_supported=r.req_text("not_supported"),
                source=r.source(),
                upper_branch_exclusive=r.version("upper_branch_exclusive", True),
                note=r.text("note", True),
                error_source=r.url("error_source", True),
            )
        )
    _unique((x.major for x in compat), "minor_version_compatibility major")
    return tuple(releases), tuple(branches), tuple(compat)


def _parse_archs(doc: Mapping[str, Any]) -> Tuple[GpuArch, ...]:
    archs = []
    for i, data in enumerate(_tables(doc, "gpu_arch_cuda", "arch")):
        r = _Row("gpu_arch_cuda", "arch", i, data)
        arch = GpuArch(
            arch=r.req_text("arch"),
            compute_capabilities=r.versions("compute_capabilities"),
            source=r.source(),
            first_cuda=r.version("first_cuda", True),
            last_cuda=r.version("last_cuda", True),
            removed_in=r.version("removed_in", True),
            note=r.text("note", True),
        )
        if arch.first_cuda and arch.last_cuda and Version(arch.first_cuda) > Version(arch.last_cuda):
            raise r.fail("first_cuda", "is newer than last_cuda")
        if arch.last_cuda and arch.removed_in and Version(arch.last_cuda) >= Version(arch.removed_in):
            raise r.fail("removed_in", "must be newer than last_cuda")
        archs.append(arch)
    _unique((Version(cc) for a in archs for cc in a.compute_capabilities), "compute capability")
    return tuple(archs)


def _parse_branches(doc: Mapping[str, Any]) -> Tuple[DriverBranch, ...]:
    branches = []
    for i, data in enumerate(_tables(doc, "driver_branches", "branch")):
        r = _Row("driver_branches", "branch", i, data)
        name = r.req_text("branch")
        if not _BRANCH_RE.match(name):
            raise r.fail("branch", f"expected 'R' and three digits, got {name!r}")
        kind = r.text("type", True)
        if kind is not None and kind not in _BRANCH_TYPES:
            raise r.fail("type", f"expected one of {_BRANCH_TYPES}, got {kind!r}")
        eol = r.text("end_of_life", True)
        if eol is not None and not _MONTH_RE.match(eol):
            raise r.fail("end_of_life", f"expected 'YYYY-MM', got {eol!r}")
        status = r.text("status", True)
        if status is not None and status not in _BRANCH_STATUSES:
            raise r.fail("status", f"expected one of {_BRANCH_STATUSES}, got {status!r}")
        if eol is None and status is None:
            raise r.fail("end_of_life", "a branch needs an end_of_life date or status = \"end_of_life\"")
        branches.append(
            DriverBranch(
                branch=name,
                source=r.source(),
                type=kind,
                end_of_life=eol,
                max_cuda_major=r.integer("max_cuda_major", True),
                status=status,
                note=r.text("note", True),
            )
        )
    _unique((b.branch for b in branches), "driver branch")
    return tuple(branches)


def _parse_cudnn(doc: Mapping[str, Any]) -> Tuple[CudnnBuild, ...]:
    builds = []
    for i, data in enumerate(_tables(doc, "cudnn", "build")):
        r = _Row("cudnn", "build", i, data)
        major = r.integer("cuda_major")
        assert major is not None
        build = CudnnBuild(
            version=r.req_version("version"),
            cuda_major=major,
            cuda_versions=r.versions("cuda_versions"),
            min_linux_driver=r.req_version("min_linux_driver"),
            compute_capabilities=r.versions("compute_capabilities"),
            source=r.source(),
            note=r.text("note", True),
        )
        wrong = [v for v in build.cuda_versions if Version(v).major != major]
        if wrong:
            raise r.fail("cuda_versions", f"{wrong} are not CUDA {major}.x")
        builds.append(build)
    _unique(((Version(b.version), b.cuda_major, b.cuda_versions) for b in builds), "cuDNN build")
    return tuple(builds)


def _parse_cudnn_variants(doc: Mapping[str, Any]) -> Tuple[CudnnVariant, ...]:
    variants = []
    for i, data in enumerate(_tables(doc, "cudnn", "variant")):
        r = _Row("cudnn", "variant", i, data)
        majors = data.get("cuda_majors")
        if not isinstance(majors, list) or not majors or not all(isinstance(m, int) and m > 0 for m in majors):
            raise r.fail("cuda_majors", "must be a non-empty list of CUDA major numbers")
        variants.append(CudnnVariant(version=r.req_version("version"), cuda_majors=tuple(majors),
                                     released=r.req_text("released"), source=r.source(), note=r.text("note", True)))
    _unique((Version(v.version) for v in variants), "cuDNN variant")
    return tuple(variants)


def _parse_nccl(doc: Mapping[str, Any]) -> Tuple[Tuple[NcclRelease, ...], Tuple[PytorchNcclPin, ...]]:
    releases = []
    for i, data in enumerate(_tables(doc, "nccl", "release")):
        r = _Row("nccl", "release", i, data)
        releases.append(
            NcclRelease(version=r.req_version("version"), cuda_builds=r.versions("cuda_builds"), source=r.source(), note=r.text("note", True))
        )
    _unique((Version(x.version) for x in releases), "NCCL release")
    pins = []
    for i, data in enumerate(_tables(doc, "nccl", "pytorch_pin")):
        r = _Row("nccl", "pytorch_pin", i, data)
        pins.append(
            PytorchNcclPin(
                torch=r.req_version("torch"),
                cuda=r.req_version("cuda"),
                package=r.req_text("package"),
                nccl=r.req_version("nccl"),
                source=r.source(),
                note=r.text("note", True),
            )
        )
    _unique(((Version(p.torch), Version(p.cuda)) for p in pins), "PyTorch NCCL pin")
    return tuple(releases), tuple(pins)


def _parse_ollama(doc: Mapping[str, Any]) -> Tuple[Tuple[OllamaRequirement, ...], Tuple[OllamaChange, ...]]:
    reqs = []
    for i, data in enumerate(_tables(doc, "ollama", "requirement")):
        r = _Row("ollama", "requirement", i, data)
        overrides = []
        raw = data.get("override", [])
        if not isinstance(raw, list):
            raise r.fail("override", "must be an array of tables ([[requirement.override]])")
        for o in raw:
            if not isinstance(o, Mapping) or set(o) != set(_OVERRIDE_KEYS):
                raise r.fail("override", f"each override needs exactly {', '.join(_OVERRIDE_KEYS)}")
            for k in _OVERRIDE_KEYS:
                if not isinstance(o[k], str):
                    raise r.fail("override", f"{k} must be a version string")
                _check_version(o[k], lambda why: r.fail("override", why))
            overrides.append(OllamaDriverOverride(**{k: o[k] for k in _OVERRIDE_KEYS}))
        reqs.append(
            OllamaRequirement(
                edition=r.req_text("edition"),
                min_compute_capability=r.req_version("min_compute_capability"),
                min_linux_driver=r.req_version("min_linux_driver"),
                wording=r.req_text("wording"),
                source=r.source(),
                overrides=tuple(overrides),
            )
        )
    _unique((x.edition for x in reqs), "Ollama requirement edition")
    changes = []
    for i, data in enumerate(_tables(doc, "ollama", "change")):
        r = _Row("ollama", "change", i, data)
        date = r.req_text("date")
        if not _DATE_RE.match(date):
            raise r.fail("date", f"expected 'YYYY-MM-DD', got {date!r}")
        kind = r.req_text("kind")
        if kind not in _OLLAMA_CHANGE_KINDS:
            raise r.fail("kind", f"expected one of {_OLLAMA_CHANGE_KINDS}, got {kind!r}")
        changes.append(OllamaChange(date=date, kind=kind, summary=r.req_text("summary"), source=r.source()))
    return tuple(reqs), tuple(changes)


def _parse_ollama_bundles(doc: Mapping[str, Any]) -> Tuple[OllamaBundle, ...]:
    bundles = []
    for i, data in enumerate(_tables(doc, "ollama", "bundle_observed")):
        r = _Row("ollama", "bundle_observed", i, data)
        bundle = OllamaBundle(
            ollama_version=r.req_text("ollama_version"), platform=r.req_text("platform"),
            log_text=r.req_text("log_text"), source=r.source(), runners=r.strings("runners", True),
            lib_dirs=r.strings("lib_dirs", True), note=r.text("note", True),
        )
        if not bundle.runners and not bundle.lib_dirs:
            raise r.fail("runners", "a bundle row names its runners or its lib_dirs")
        bundles.append(bundle)
    return tuple(bundles)


def _parse_ollama_settings(doc: Mapping[str, Any]) -> Tuple[Tuple[OllamaSetting, ...], Tuple[OllamaNonexistent, ...], Tuple[OtherEngineFlag, ...]]:
    settings = []
    for i, data in enumerate(_tables(doc, "ollama_settings", "setting")):
        r = _Row("ollama_settings", "setting", i, data)
        category = r.req_text("category")
        if category not in _SETTING_CATEGORIES:
            raise r.fail("category", f"expected one of {_SETTING_CATEGORIES}, got {category!r}")
        r.req_text("description_source")
        r.boolean("description_verified")
        for key in ("seen_in_source", "absent_in_source", "first_version_source", "notes_source"):
            r.url(key, True)
        r.strings("first_version_evidence", True, urls=True)
        if ("absent_in_version" in data) != ("absent_in_source" in data):
            raise r.fail("absent_in_version", "absent_in_version and absent_in_source go together")
        settings.append(OllamaSetting(
            name=r.req_text("name"), category=category, description=r.req_text("description"), source=r.source(),
            seen_in_version=r.text("seen_in_version", True), absent_in_version=r.version("absent_in_version", True),
            first_version=r.version("first_version", True), note=r.text("notes", True),
        ))
    _unique((s.name for s in settings), "Ollama setting")
    nonexistent = []
    for i, data in enumerate(_tables(doc, "ollama_settings", "nonexistent")):
        r = _Row("ollama_settings", "nonexistent", i, data)
        kind = r.req_text("kind")
        if kind not in _NONEXISTENT_KINDS:
            raise r.fail("kind", f"expected one of {_NONEXISTENT_KINDS}, got {kind!r}")
        r.strings("evidence", urls=True)
        nonexistent.append(OllamaNonexistent(
            name=r.req_text("name"), kind=kind, exists_instead=r.strings("exists_instead"),
            explanation=r.req_text("explanation"), source=r.source(),
        ))
    _unique((n.name for n in nonexistent), "nonexistent Ollama setting")
    known = {s.name for s in settings}
    for n in nonexistent:
        if n.kind == "env" and n.name in known:
            raise MatrixError(f"ollama_settings.toml: {n.name} is listed both as a setting and as nonexistent")
    flags = []
    for i, data in enumerate(_tables(doc, "ollama_settings", "other_engine_flag")):
        r = _Row("ollama_settings", "other_engine_flag", i, data)
        r.strings("evidence", True, urls=True)
        flags.append(OtherEngineFlag(engine=r.req_text("engine"), flag=r.req_text("flag"), meaning=r.req_text("meaning"),
                                     source=r.source(), aliases=r.strings("aliases", True)))
    return tuple(settings), tuple(nonexistent), tuple(flags)


def _parse_xid_catalog(doc: Mapping[str, Any]) -> Tuple[XidEntry, ...]:
    entries = []
    for i, data in enumerate(_tables(doc, "xid_catalog", "xid")):
        r = _Row("xid_catalog", "xid", i, data)
        severity = r.req_text("severity")
        if severity not in _XID_SEVERITIES:
            raise r.fail("severity", f"expected one of {_XID_SEVERITIES}, got {severity!r}")
        xid = r.integer("xid")
        assert xid is not None
        entries.append(XidEntry(
            xid=xid, mnemonic=r.req_text("mnemonic"), description=r.req_text("description"),
            immediate_action=r.req_text("immediate_action"), investigatory_action=r.req_text("investigatory_action"),
            severity=severity, catalog_says=r.req_text("catalog_says"), source=r.source(), note=r.text("note", True)))
    _unique((e.xid for e in entries), "Xid in xid_catalog.toml")
    return tuple(sorted(entries, key=lambda e: e.xid))


def parse_matrix(documents: Mapping[str, Mapping[str, Any]]) -> Matrix:
    """Validate parsed TOML documents (file stem -> document) and build the Matrix. Pure."""
    missing = [s for s in MATRIX_FILES if s not in documents]
    if missing:
        raise MatrixError(f"missing matrix file(s): {', '.join(s + '.toml' for s in missing)}")
    unknown = sorted(set(documents) - set(MATRIX_FILES))
    if unknown:
        raise MatrixError(f"unknown matrix file(s): {', '.join(s + '.toml' for s in unknown)}")
    headers = {stem: _check_header(stem, documents[stem]) for stem in MATRIX_FILES}
    releases, release_branches, compat = _parse_cuda_driver(documents["cuda_driver"])
    nccl, pins = _parse_nccl(documents["nccl"])
    ollama_reqs, ollama_changes = _parse_ollama(documents["ollama"])
    ollama_settings, ollama_nonexistent, other_engine_flags = _parse_ollama_settings(documents["ollama_settings"])
    return Matrix(
        matrix_dates=tuple((s, headers[s][0]) for s in MATRIX_FILES),
        descriptions=tuple((s, headers[s][1]) for s in MATRIX_FILES),
        cuda_releases=tuple(sorted(releases, key=lambda r: Version(r.version))),
        release_branches=tuple(sorted(release_branches, key=lambda r: Version(r.cuda))),
        minor_version_compat=tuple(sorted(compat, key=lambda c: c.major)),
        gpu_archs=_parse_archs(documents["gpu_arch_cuda"]),
        driver_branches=tuple(sorted(_parse_branches(documents["driver_branches"]), key=lambda b: b.number)),
        cudnn=_parse_cudnn(documents["cudnn"]),
        nccl_releases=tuple(sorted(nccl, key=lambda r: Version(r.version))),
        pytorch_nccl_pins=pins,
        ollama_requirements=ollama_reqs,
        ollama_changes=tuple(sorted(ollama_changes, key=lambda c: c.date)),
        ollama_bundles=_parse_ollama_bundles(documents["ollama"]),
        ollama_settings=ollama_settings,
        ollama_nonexistent=ollama_nonexistent,
        other_engine_flags=other_engine_flags,
        cudnn_variants=_parse_cudnn_variants(documents["cudnn"]),
        xid_catalog=_parse_xid_catalog(documents["xid_catalog"]),
    )


# ------------------------------------------------------------------------------------------- loading


DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
CACHE_FILE = os.path.join(DATA_DIR, "matrix-cache.json")


def read_matrix_documents() -> Dict[str, Dict[str, Any]]:
    """The package's own data/*.toml files, parsed (the only I/O in this module).

    The TOML files are the source of truth. Parsing them with the pure-Python TOML reader costs ~15 ms
    here and ~100 ms on a slow VM, so `python -m gpubal.matrix` stores the parsed documents in
    data/matrix-cache.json with each TOML file's CRC-32; when every hash still matches, the cache is read
    instead (json is C). A stale or missing cache only costs the time: the TOML is parsed again."""
    texts = {stem: _read_data(f"{stem}.toml") for stem in MATRIX_FILES}
    hashes = fingerprints(texts)
    try:
        with open(CACHE_FILE, encoding="utf-8") as handle:
            cache = json.load(handle)
        if cache.get("crc32") == hashes:
            return cache["documents"]
    except (OSError, ValueError, AttributeError, KeyError):
        pass
    return _parse_documents(texts)


def fingerprints(texts: Mapping[str, str]) -> Dict[str, int]:
    """A CRC-32 of each TOML file: enough to see that one was edited (this is no defence against anyone),
    and zlib is at hand where hashlib would cost an import at every start."""
    import zlib

    return {stem: zlib.crc32(text.encode("utf-8")) for stem, text in texts.items()}


def _read_data(name: str) -> str:
    with open(os.path.join(DATA_DIR, name), encoding="utf-8") as handle:
        return handle.read()


def _parse_documents(texts: Mapping[str, str]) -> Dict[str, Dict[str, Any]]:
    if sys.version_info >= (3, 11):
        import tomllib as _toml
    else:  # pragma: no cover - exercised on 3.9/3.10 only
        import tomli as _toml

    documents: Dict[str, Dict[str, Any]] = {}
    for stem, text in texts.items():
        try:
            documents[stem] = _toml.loads(text)
        except _toml.TOMLDecodeError as exc:
            raise MatrixError(f"{stem}.toml: {exc}") from None
    return documents


def write_cache() -> None:
    """Regenerate data/matrix-cache.json from the TOML files (after editing them)."""
    texts = {stem: _read_data(f"{stem}.toml") for stem in MATRIX_FILES}
    documents = _parse_documents(texts)
    parse_matrix(documents)  # never cache data that does not validate
    cache = {"crc32": fingerprints(texts),
             "documents": documents}
    with open(CACHE_FILE, "w", encoding="utf-8") as handle:
        json.dump(cache, handle, indent=0, sort_keys=True)
        handle.write("\n")


@lru_cache(maxsize=1)
def load_matrix() -> Matrix:
    """The packaged matrix, validated (read once per process)."""
    return parse_matrix(read_matrix_documents())


def __getattr__(name: str) -> Any:  # PEP 562: MATRIX_VERSION is read lazily
    if name == "MATRIX_VERSION":
        return load_matrix().version
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ------------------------------------------------------------------------------------------- queries


def _v(value: str) -> Version:
    return Version(value)


def cuda_release(matrix: Matrix, version: str) -> Optional[CudaRelease]:
    """The row for an exact toolkit release ("12.4.1"); "12.4" means "12.4.0"."""
    want = _v(version)
    for r in matrix.cuda_releases:
        if _v(r.version) == want:
            return r
    return None


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
    for c in matrix.minor_version_compat:
        if c.major == major:
            return c
    return None


def release_branch(matrix: Matrix, cuda: str) -> Optional[ReleaseBranch]:
    """The driver branch NVIDIA lists for a CUDA minor release ("13.4" or "13.4.1")."""
    rel = _v(cuda).release
    for b in matrix.release_branches:
        if _v(b.cuda).release[:2] == rel[:2]:
            return b
    return None


def arch_for_compute_capability(matrix: Matrix, cc: str) -> Optional[GpuArch]:
    want = _v(cc)
    for a in matrix.gpu_archs:
        if any(_v(x) == want for x in a.compute_capabilities):
            return a
    return None


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
    name = branch_or_version if _BRANCH_RE.match(branch_or_version) else driver_branch_name(branch_or_version)
    for b in matrix.driver_branches:
        if b.branch == name:
            return b
    return None


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
    for r in matrix.nccl_releases:
        if _v(r.version) == want:
            return r
    return None


def ollama_min_driver(requirement: OllamaRequirement, cc: str) -> str:
    """The driver floor one edition of Ollama's docs gives for a GPU of compute capability `cc`."""
    c = _v(cc)
    floor = requirement.min_linux_driver
    for o in requirement.overrides:
        if _v(o.compute_capability_min) <= c <= _v(o.compute_capability_max) and _v(o.min_linux_driver) > _v(floor):
            floor = o.min_linux_driver
    return floor


def ollama_setting(matrix: Matrix, name: str) -> Optional[OllamaSetting]:
    for setting in matrix.ollama_settings:
        if setting.name == name:
            return setting
    return None


def xid_entry(matrix: Matrix, xid: int) -> Optional[XidEntry]:
    """The catalog row of an Xid, or None where gpubal has not verified its action."""
    for entry in matrix.xid_catalog:
        if entry.xid == xid:
            return entry
    return None


def ollama_nonexistent(matrix: Matrix, name: str) -> Optional[OllamaNonexistent]:
    """A setting ("OLLAMA_SCHEDULER") or a flag of `ollama serve` ("--gpus") that Ollama does not have."""
    for entry in matrix.ollama_nonexistent:
        if entry.name == name or (entry.kind == "flag" and entry.name.split()[-1] == name):
            return entry
    return None


if __name__ == "__main__":
    write_cache()
    print(f"wrote {CACHE_FILE}")
