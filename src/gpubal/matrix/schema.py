"""Validation of the matrix's TOML documents: which files, which tables, which keys, and what each value
must look like. ``parse_matrix`` turns parsed documents into a :class:`~gpubal.matrix.rows.Matrix` or
raises :class:`MatrixError` naming the file, table, row and key; it reads nothing itself."""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping as _Mapping
from typing import Any, Dict, Iterable, Iterator, Mapping, Optional, Tuple

from packaging.version import InvalidVersion

from .rows import (DRIVER_BRANCH_NAME, CudaRelease, CudnnBuild, CudnnVariant, DriverBranch, GpuArch,
                   GpuComputeCapability, Matrix, MinorVersionCompat, NcclRelease, OllamaBundle, OllamaChange,
                   OllamaDriverOverride, OllamaNonexistent, OllamaRequirement, OllamaSetting, OtherEngineFlag,
                   PytorchNcclPin, ReleaseBranch, VllmRequirement, XidEntry, model_key, version_of)


MATRIX_FILES: Tuple[str, ...] = (
    "cuda_driver",
    "gpu_arch_cuda",
    "driver_branches",
    "cudnn",
    "nccl",
    "ollama",
    "ollama_settings",
    "xid_catalog",
    "compute_capability",
)

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_BRANCH_TYPES = ("Long Term Support Branch", "Production Branch", "New Feature Branch")
_BRANCH_STATUSES = ("end_of_life",)
_OLLAMA_CHANGE_KINDS = ("pull_request", "issue", "release", "docs")
_XID_SEVERITIES = ("error", "warning", "info")


class MatrixError(ValueError):
    """A data file does not follow the matrix schema."""


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
    ("compute_capability", "gpu"): (("compute_capability", "names", "source"), ("note",)),
    ("compute_capability", "vllm_requirement"): (
        ("documented_in", "min_compute_capability", "wording", "source"), ("note",)),
}
# How each row field is read from the TOML key of the same name (fields that need more are given to build).
_READ_AS: Dict[str, str] = {
    **dict.fromkeys(("label", "not_supported", "arch", "released", "package", "edition", "wording", "summary",
                     "ollama_version", "platform", "log_text", "name", "description", "seen_in_version",
                     "explanation", "engine", "flag", "meaning", "note", "mnemonic", "immediate_action",
                     "investigatory_action", "catalog_says"), "text"),
    **dict.fromkeys(("version", "min_linux_driver", "cuda", "upper_branch_exclusive", "first_cuda", "last_cuda",
                     "removed_in", "torch", "nccl", "min_compute_capability", "absent_in_version",
                     "first_version", "compute_capability", "documented_in"), "version"),
    **dict.fromkeys(("compute_capabilities", "cuda_versions", "cuda_builds"), "versions"),
    **dict.fromkeys(("runners", "lib_dirs", "exists_instead", "aliases", "names"), "strings"),
    **dict.fromkeys(("major", "max_cuda_major"), "integer"),
    **dict.fromkeys(("source", "error_source"), "url"),
}
_SETTING_CATEGORIES = ("ollama", "gpu_selection", "proxy")
_NONEXISTENT_KINDS = ("env", "flag", "capability")
_OVERRIDE_KEYS = ("compute_capability_min", "compute_capability_max", "min_linux_driver")


class _Row:
    """Typed access to one TOML table with error messages that name the row."""

    def __init__(self, stem: str, table: str, index: int, data: Any) -> None:
        self.where = f"{stem}.toml [[{table}]] #{index + 1}"
        if not isinstance(data, _Mapping):
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

    def versions(self, key: str, optional: bool = False) -> Tuple[str, ...]:
        if key not in self.data and optional:
            return ()
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

    def build(self, row_type: Any, **given: Any) -> Any:
        """A row of `row_type`: the fields in `given` as they are (checked by the caller), `source` always,
        and every other field read from the key of its name by the reader `_READ_AS` names for it;
        optional where the row has a default."""
        values = dict(given)
        for name in row_type._fields:
            if name not in values:
                read = getattr(self, _READ_AS[name])
                values[name] = read(name) if name == "source" else read(name, name in row_type._field_defaults)
        return row_type(**values)


def _check_version(value: str, fail: Any) -> None:
    try:
        version_of(value)
    except InvalidVersion:
        raise fail(f"{value!r} is not a version") from None


def _rows(doc: Mapping[str, Any], stem: str, table: str) -> Iterator[_Row]:
    """Each row of one array of tables, its keys checked against the schema as it comes."""
    rows = doc.get(table, [])
    if not isinstance(rows, list):
        raise MatrixError(f"{stem}.toml: {table} must be an array of tables ([[{table}]])")
    for index, data in enumerate(rows):
        yield _Row(stem, table, index, data)


def _check_header(stem: str, doc: Mapping[str, Any]) -> Tuple[str, str]:
    date = doc.get("matrix_date")
    if not isinstance(date, str) or not _DATE_RE.match(date):
        raise MatrixError(f"{stem}.toml: matrix_date must be a 'YYYY-MM-DD' string, got {date!r}")
    try:
        _dt.date.fromisoformat(date)
    except ValueError:
        raise MatrixError(f"{stem}.toml: matrix_date {date!r} is not a calendar date") from None
    meta = doc.get("meta")
    if not isinstance(meta, _Mapping) or not isinstance(meta.get("description"), str) or not meta["description"].strip():
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


def _branch_name(r: _Row, key: str) -> str:
    name = r.req_text(key)
    if not DRIVER_BRANCH_NAME.match(name):
        raise r.fail(key, f"expected 'R' and three digits, got {name!r}")
    return name


def _one_of(r: _Row, key: str, allowed: Tuple[str, ...], optional: bool = False) -> Optional[str]:
    value = r.text(key, optional)
    if value is not None and value not in allowed:
        raise r.fail(key, f"expected one of {allowed}, got {value!r}")
    return value


def _parse_cuda_driver(doc: Mapping[str, Any]) -> Tuple[Tuple[CudaRelease, ...], Tuple[ReleaseBranch, ...], Tuple[MinorVersionCompat, ...]]:
    releases = [r.build(CudaRelease) for r in _rows(doc, "cuda_driver", "release")]
    _unique((version_of(x.version) for x in releases), "CUDA release version")
    branches = [r.build(ReleaseBranch, driver_branch=_branch_name(r, "driver_branch"))
                for r in _rows(doc, "cuda_driver", "release_branch")]
    _unique((version_of(x.cuda) for x in branches), "release_branch cuda")
    compat = [r.build(MinorVersionCompat) for r in _rows(doc, "cuda_driver", "minor_version_compatibility")]
    _unique((x.major for x in compat), "minor_version_compatibility major")
    return tuple(releases), tuple(branches), tuple(compat)


def _parse_archs(doc: Mapping[str, Any]) -> Tuple[GpuArch, ...]:
    archs = []
    for r in _rows(doc, "gpu_arch_cuda", "arch"):
        arch = r.build(GpuArch)
        if arch.first_cuda and arch.last_cuda and version_of(arch.first_cuda) > version_of(arch.last_cuda):
            raise r.fail("first_cuda", "is newer than last_cuda")
        if arch.last_cuda and arch.removed_in and version_of(arch.last_cuda) >= version_of(arch.removed_in):
            raise r.fail("removed_in", "must be newer than last_cuda")
        archs.append(arch)
    _unique((version_of(cc) for a in archs for cc in a.compute_capabilities), "compute capability")
    return tuple(archs)


def _parse_branches(doc: Mapping[str, Any]) -> Tuple[DriverBranch, ...]:
    branches = []
    for r in _rows(doc, "driver_branches", "branch"):
        name = _branch_name(r, "branch")
        kind = _one_of(r, "type", _BRANCH_TYPES, optional=True)
        eol = r.text("end_of_life", True)
        if eol is not None and not _MONTH_RE.match(eol):
            raise r.fail("end_of_life", f"expected 'YYYY-MM', got {eol!r}")
        status = _one_of(r, "status", _BRANCH_STATUSES, optional=True)
        if eol is None and status is None:
            raise r.fail("end_of_life", "a branch needs an end_of_life date or status = \"end_of_life\"")
        branches.append(r.build(DriverBranch, branch=name, type=kind, end_of_life=eol, status=status))
    _unique((b.branch for b in branches), "driver branch")
    return tuple(branches)


def _parse_cudnn(doc: Mapping[str, Any]) -> Tuple[CudnnBuild, ...]:
    builds = []
    for r in _rows(doc, "cudnn", "build"):
        build = r.build(CudnnBuild, cuda_major=r.integer("cuda_major"))
        wrong = [v for v in build.cuda_versions if version_of(v).major != build.cuda_major]
        if wrong:
            raise r.fail("cuda_versions", f"{wrong} are not CUDA {build.cuda_major}.x")
        builds.append(build)
    _unique(((version_of(b.version), b.cuda_major, b.cuda_versions) for b in builds), "cuDNN build")
    return tuple(builds)


def _parse_cudnn_variants(doc: Mapping[str, Any]) -> Tuple[CudnnVariant, ...]:
    variants = []
    for r in _rows(doc, "cudnn", "variant"):
        majors = r.data.get("cuda_majors")
        if not isinstance(majors, list) or not majors or not all(isinstance(m, int) and m > 0 for m in majors):
            raise r.fail("cuda_majors", "must be a non-empty list of CUDA major numbers")
        variants.append(r.build(CudnnVariant, cuda_majors=tuple(majors)))
    _unique((version_of(v.version) for v in variants), "cuDNN variant")
    return tuple(variants)


def _parse_nccl(doc: Mapping[str, Any]) -> Tuple[Tuple[NcclRelease, ...], Tuple[PytorchNcclPin, ...]]:
    releases = [r.build(NcclRelease) for r in _rows(doc, "nccl", "release")]
    _unique((version_of(x.version) for x in releases), "NCCL release")
    pins = [r.build(PytorchNcclPin) for r in _rows(doc, "nccl", "pytorch_pin")]
    _unique(((version_of(p.torch), version_of(p.cuda)) for p in pins), "PyTorch NCCL pin")
    return tuple(releases), tuple(pins)


def _overrides(r: _Row) -> Tuple[OllamaDriverOverride, ...]:
    raw = r.data.get("override", [])
    if not isinstance(raw, list):
        raise r.fail("override", "must be an array of tables ([[requirement.override]])")
    overrides = []
    for o in raw:
        if not isinstance(o, _Mapping) or set(o) != set(_OVERRIDE_KEYS):
            raise r.fail("override", f"each override needs exactly {', '.join(_OVERRIDE_KEYS)}")
        for k in _OVERRIDE_KEYS:
            if not isinstance(o[k], str):
                raise r.fail("override", f"{k} must be a version string")
            _check_version(o[k], lambda why: r.fail("override", why))
        overrides.append(OllamaDriverOverride(**{k: o[k] for k in _OVERRIDE_KEYS}))
    return tuple(overrides)


def _parse_ollama(doc: Mapping[str, Any]) -> Tuple[Tuple[OllamaRequirement, ...], Tuple[OllamaChange, ...]]:
    reqs = [r.build(OllamaRequirement, overrides=_overrides(r)) for r in _rows(doc, "ollama", "requirement")]
    _unique((x.edition for x in reqs), "Ollama requirement edition")
    changes = []
    for r in _rows(doc, "ollama", "change"):
        date = r.req_text("date")
        if not _DATE_RE.match(date):
            raise r.fail("date", f"expected 'YYYY-MM-DD', got {date!r}")
        changes.append(r.build(OllamaChange, date=date, kind=_one_of(r, "kind", _OLLAMA_CHANGE_KINDS)))
    return tuple(reqs), tuple(changes)


def _parse_ollama_bundles(doc: Mapping[str, Any]) -> Tuple[OllamaBundle, ...]:
    bundles = []
    for r in _rows(doc, "ollama", "bundle_observed"):
        bundle = r.build(OllamaBundle)
        if not bundle.runners and not bundle.lib_dirs:
            raise r.fail("runners", "a bundle row names its runners or its lib_dirs")
        bundles.append(bundle)
    return tuple(bundles)


def _parse_ollama_settings(doc: Mapping[str, Any]) -> Tuple[Tuple[OllamaSetting, ...], Tuple[OllamaNonexistent, ...], Tuple[OtherEngineFlag, ...]]:
    settings = []
    for r in _rows(doc, "ollama_settings", "setting"):
        category = _one_of(r, "category", _SETTING_CATEGORIES)
        r.req_text("description_source")
        r.boolean("description_verified")
        for key in ("seen_in_source", "absent_in_source", "first_version_source", "notes_source"):
            r.url(key, True)
        r.strings("first_version_evidence", True, urls=True)
        if ("absent_in_version" in r.data) != ("absent_in_source" in r.data):
            raise r.fail("absent_in_version", "absent_in_version and absent_in_source go together")
        settings.append(r.build(OllamaSetting, category=category, note=r.text("notes", True)))
    _unique((s.name for s in settings), "Ollama setting")
    nonexistent = []
    for r in _rows(doc, "ollama_settings", "nonexistent"):
        kind = _one_of(r, "kind", _NONEXISTENT_KINDS)
        r.strings("evidence", urls=True)
        nonexistent.append(r.build(OllamaNonexistent, kind=kind))
    _unique((n.name for n in nonexistent), "nonexistent Ollama setting")
    known = {s.name for s in settings}
    for n in nonexistent:
        if n.kind == "env" and n.name in known:
            raise MatrixError(f"ollama_settings.toml: {n.name} is listed both as a setting and as nonexistent")
    flags = []
    for r in _rows(doc, "ollama_settings", "other_engine_flag"):
        r.strings("evidence", True, urls=True)
        flags.append(r.build(OtherEngineFlag))
    return tuple(settings), tuple(nonexistent), tuple(flags)


def _parse_xid_catalog(doc: Mapping[str, Any]) -> Tuple[XidEntry, ...]:
    entries = []
    for r in _rows(doc, "xid_catalog", "xid"):
        severity = r.req_text("severity")
        if severity not in _XID_SEVERITIES:
            raise r.fail("severity", f"expected one of {_XID_SEVERITIES}, got {severity!r}")
        xid = r.integer("xid")
        assert xid is not None
        entries.append(r.build(XidEntry, xid=xid, severity=severity))
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
        cuda_releases=tuple(sorted(releases, key=lambda r: version_of(r.version))),
        release_branches=tuple(sorted(release_branches, key=lambda r: version_of(r.cuda))),
        minor_version_compat=tuple(sorted(compat, key=lambda c: c.major)),
        gpu_archs=_parse_archs(documents["gpu_arch_cuda"]),
        driver_branches=tuple(sorted(_parse_branches(documents["driver_branches"]), key=lambda b: b.number)),
        cudnn=_parse_cudnn(documents["cudnn"]),
        nccl_releases=tuple(sorted(nccl, key=lambda r: version_of(r.version))),
        pytorch_nccl_pins=pins,
        ollama_requirements=ollama_reqs,
        ollama_changes=tuple(sorted(ollama_changes, key=lambda c: c.date)),
        ollama_bundles=_parse_ollama_bundles(documents["ollama"]),
        ollama_settings=ollama_settings,
        ollama_nonexistent=ollama_nonexistent,
        other_engine_flags=other_engine_flags,
        cudnn_variants=_parse_cudnn_variants(documents["cudnn"]),
        xid_catalog=_parse_xid_catalog(documents["xid_catalog"]),
        gpu_compute_capabilities=_parse_gpu_compute_capabilities(documents["compute_capability"]),
        vllm_requirements=_parse_vllm_requirements(documents["compute_capability"]),
    )


def _parse_gpu_compute_capabilities(doc: Mapping[str, Any]) -> Tuple[GpuComputeCapability, ...]:
    rows = tuple(r.build(GpuComputeCapability) for r in _rows(doc, "compute_capability", "gpu"))
    seen: Dict[str, str] = {}
    for row in rows:
        for name in row.names:
            key = model_key(name)
            if seen.get(key, row.compute_capability) != row.compute_capability:
                raise MatrixError(f"compute_capability.toml: {name!r} is listed with two compute capabilities")
            seen[key] = row.compute_capability
    return rows


def _parse_vllm_requirements(doc: Mapping[str, Any]) -> Tuple[VllmRequirement, ...]:
    rows = [r.build(VllmRequirement) for r in _rows(doc, "compute_capability", "vllm_requirement")]
    _unique((version_of(row.documented_in) for row in rows), "vLLM requirement edition")
    return tuple(sorted(rows, key=lambda row: version_of(row.documented_in)))
