"""The Snapshot and its parts: the contract between collecting facts and judging them.

A fact is either `Known(value, source)` or `Unavailable(reason, source, detail)`. There is no None, no
"N/A" string and no NaN: a rule that needs a fact which is unavailable is *not evaluated*, and the report
says which fact was missing and why. Every fact names its source (an NVML call, a file, a command), so a
report can cite it.

The Snapshot round-trips through JSON exactly (`snapshot_to_json` / `snapshot_from_json`); loading
checks every type and fails with one clear message naming the offending path.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import sys
import typing
from dataclasses import dataclass, field
from typing import Any, Dict, Generic, List, Tuple, TypeVar, Union

SCHEMA_VERSION = 1

T = TypeVar("T")


class Reason(str, enum.Enum):
    """Why a fact could not be read. A closed set: reports and rules may rely on it."""

    NOT_SUPPORTED = "not_supported"  # the device or driver does not offer it
    NO_PERMISSION = "no_permission"  # offered, but this user may not read it
    NOT_FOUND = "not_found"  # the library, file, device or program does not exist
    API_MISSING = "api_missing"  # the installed driver predates the call
    GPU_LOST = "gpu_lost"  # the GPU fell off the bus or stopped answering
    TIMEOUT = "timeout"  # the source did not answer in time
    ERROR = "error"  # anything else; the detail says what
    NOT_IN_INPUT = "not_in_input"  # built from pasted text that did not contain it
    INCONSISTENT = "inconsistent"  # asked again, the source gave different answers: too doubtful to judge
    NOT_ASKED = "not_asked"  # deliberately not read this time (a sampler reads a costly counter less often)


@dataclass(frozen=True)
class Known(Generic[T]):
    value: T
    source: str


@dataclass(frozen=True)
class Unavailable:
    reason: Reason
    source: str
    detail: str = ""

    def describe(self) -> str:
        text = f"{self.reason.value} ({self.source})"
        return f"{text}: {self.detail}" if self.detail else text


Fact = Union[Known[T], Unavailable]


class FactMissing(Exception):
    """Raised by `need()` inside a rule; the engine turns it into a "not evaluated" outcome."""

    def __init__(self, fact_name: str, unavailable: Unavailable):
        super().__init__(f"{fact_name}: {unavailable.describe()}")
        self.fact_name = fact_name
        self.unavailable = unavailable


class NotApplicable(Exception):
    """Raised by a rule whose subject is positively absent (no Ollama on the host, say); the engine
    reports "does not apply" with the reason, which is neither a pass nor an unknown."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def need(fact: Fact[T], fact_name: str) -> T:
    """The value of a fact, or FactMissing naming it; rules use this instead of checking by hand."""
    if isinstance(fact, Known):
        return fact.value
    raise FactMissing(fact_name, fact)


def value_or(fact: Fact[T], default: T) -> T:
    return fact.value if isinstance(fact, Known) else default


class _Facts:
    """Mixin for parts of the snapshot: `part.need("field")` names the fact after the part's subject."""

    def subject(self) -> str:  # pragma: no cover - every part overrides it
        raise NotImplementedError

    def need(self, field_name: str) -> Any:
        return need(getattr(self, field_name), f"{self.subject()}.{field_name}")


# --- host and driver ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumaNode:
    node_id: int
    cpu_list: str  # the kernel's cpulist notation, e.g. "0-31,64-95"


@dataclass(frozen=True)
class Host(_Facts):
    hostname: Fact[str]
    kernel_release: Fact[str]
    os_release: Fact[str]
    cpu_model: Fact[str]
    cpu_count: Fact[int]
    numa_nodes: Fact[List[NumaNode]]
    virtualization: Fact[str]  # "none" or the hypervisor ("kvm", "microsoft", ...)
    container: Fact[str]  # "none" or the runtime ("docker", "podman", "kubernetes", "container")
    uptime_seconds: Fact[int]  # since boot; bounds how long the driver's counters have been counting

    def subject(self) -> str:
        return "host"


@dataclass(frozen=True)
class Driver(_Facts):
    nvml_status: Fact[str]  # Known("ok") when NVML started; Unavailable says why not
    version: Fact[str]  # user-space driver, from NVML
    nvml_version: Fact[str]
    cuda_driver_version: Fact[str]  # highest CUDA the driver supports, "13.0"
    kernel_module_version: Fact[str]  # from /proc/driver/nvidia/version
    kernel_module_flavor: Fact[str]  # "open" or "proprietary"
    uvm_module_loaded: Fact[bool]
    uvm_device_present: Fact[bool]
    persistenced_running: Fact[bool]
    device_count: Fact[int]

    def subject(self) -> str:
        return "driver"


# --- GPUs --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MigInstance:
    uuid: str
    gpu_instance_id: int
    compute_instance_id: int
    memory_total_bytes: int


@dataclass(frozen=True)
class NvLink(_Facts):
    gpu_index: int
    link: int
    active: Fact[bool]
    version: Fact[int]
    remote_pci_bus_id: Fact[str]
    remote_device_type: Fact[str]  # "gpu", "nvswitch", "ibmnpu", "unknown"

    def subject(self) -> str:
        return f"gpu:{self.gpu_index}.nvlink:{self.link}"


@dataclass(frozen=True)
class Gpu(_Facts):
    index: int
    name: Fact[str]
    uuid: Fact[str]
    serial: Fact[str]
    pci_bus_id: Fact[str]  # NVML form, "00000000:00:06.0"
    architecture: Fact[str]  # "hopper", "ampere", ...
    compute_capability: Fact[str]  # "9.0"
    memory_total_bytes: Fact[int]
    memory_used_bytes: Fact[int]
    persistence_mode: Fact[bool]
    compute_mode: Fact[str]  # "default", "exclusive_process", "prohibited"
    ecc_enabled_current: Fact[bool]
    ecc_enabled_pending: Fact[bool]
    virtualization_mode: Fact[str]  # "none", "passthrough", "vgpu", "host_vgpu", "host_vsga"
    mig_enabled_current: Fact[bool]
    mig_enabled_pending: Fact[bool]
    mig_instances: Fact[List[MigInstance]]
    pcie_link_gen_current: Fact[int]
    pcie_link_gen_max: Fact[int]  # the most this GPU in this slot can reach (GPU and system)
    pcie_link_gen_device_max: Fact[int]  # the most the GPU itself supports
    pcie_link_width_current: Fact[int]
    pcie_link_width_max: Fact[int]
    pcie_replay_count: Fact[int]
    nvlinks: Fact[List[NvLink]]  # every link NVML reports on this GPU, active or not
    fabric_state: Fact[str]  # "not_supported", "not_started", "in_progress", "completed"
    fabric_status: Fact[str]  # NVML return name of the fabric probe, "success" when fine
    clock_event_reasons: Fact[List[str]]
    retired_pages_pending: Fact[bool]
    remapped_rows_pending: Fact[bool]
    remapped_rows_failed: Fact[bool]
    numa_node_nvml: Fact[int]  # from nvmlDeviceGetMemoryAffinity; -1 when NVML names no node
    numa_node_sysfs: Fact[int]  # /sys/bus/pci/devices/*/numa_node; -1 means firmware gave none
    numa_node: Fact[int]  # the two reconciled; the source says how
    cpu_affinity_nvml: Fact[str]
    cpu_affinity_sysfs: Fact[str]
    cpu_affinity: Fact[str]  # the two reconciled, kernel cpulist notation
    # Added after the first snapshots were written (older ones load with the default). Percent of the last
    # sample period (1/6 s to 1 s by product) in which a kernel ran: whether the GPU is busy now.
    utilization_gpu_percent: Fact[int] = field(default=Unavailable(
        Reason.NOT_IN_INPUT, "snapshot", "not in this snapshot (pasted text, or made before gpubal read it)"))

    def subject(self) -> str:
        return f"gpu:{self.index}"


@dataclass(frozen=True)
class GpuPair(_Facts):
    gpu_a: int
    gpu_b: int
    pcie_path: Fact[str]  # nvidia-smi topo words: "PIX", "PXB", "PHB", "NODE", "SYS" (or "SELF" inside a board)
    nvlink_count: Fact[int]  # links usable between the two, directly or through NVSwitch
    nvlink_route: Fact[str]  # "direct", "nvswitch" or "none"
    p2p_read: Fact[str]  # "ok", "chipset_not_supported", "gpu_not_supported", "topology_not_supported",
    p2p_write: Fact[str]  # "disabled_by_regkey", "not_supported", "unknown"
    p2p_nvlink: Fact[str]
    p2p_atomics: Fact[str]
    p2p_pcie: Fact[str]

    def subject(self) -> str:
        return f"gpu:{self.gpu_a}-gpu:{self.gpu_b}"


@dataclass(frozen=True)
class Snapshot:
    schema_version: int
    gpubal_version: str
    collected_at: str  # ISO 8601, UTC
    origin: str  # how it was made: "live", "nvml-profile:<file>", "pasted text"
    host: Host
    driver: Driver
    gpus: Fact[List[Gpu]]
    pairs: Fact[List[GpuPair]]
    stack: "Stack"
    ollama: "Ollama"
    # Added after the first snapshots were written: one that lacks it loads with this default.
    processes: Fact[List["GpuProcess"]] = field(default=Unavailable(
        Reason.NOT_IN_INPUT, "snapshot", "not in this snapshot (pasted text, or made before gpubal read processes)"))
    pci: "PciPlatform" = field(default_factory=lambda: PciPlatform.not_in_input())

    def gpu_list(self) -> List[Gpu]:
        """The GPUs, or FactMissing("gpus") when NVML could not list them."""
        return need(self.gpus, "gpus")


# --- findings and outcomes ---------------------------------------------------------------------------


class Severity(str, enum.Enum):
    ERROR = "error"  # will not work
    WARNING = "warning"  # degraded or at risk
    INFO = "info"  # advice

    @property
    def rank(self) -> int:
        return {"info": 1, "warning": 2, "error": 3}[self.value]


@dataclass(frozen=True)
class Fix:
    summary: str
    commands: Tuple[str, ...] = ()
    url: str = ""


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: Severity
    subject: str
    message: str
    evidence: Dict[str, Any]
    fix: Fix


class Outcome(str, enum.Enum):
    PASSED = "passed"
    FINDING = "finding"
    NOT_EVALUATED = "not_evaluated"
    NOT_APPLICABLE = "not_applicable"
    CRASHED = "crashed"


@dataclass(frozen=True)
class RuleResult:
    """What one rule concluded about one subject."""

    rule_id: str
    subject: str
    outcome: Outcome
    findings: Tuple[Finding, ...] = ()
    missing_fact: str = ""  # when not evaluated: which fact
    missing_reason: str = ""  # and why it was unavailable


@dataclass(frozen=True)
class TopologyClass:
    """The host's topology in words ("full NVSwitch mesh", "one NUMA node per GPU"), with the evidence."""

    classes: Tuple[str, ...]
    evidence: Tuple[str, ...]

    def text(self) -> str:
        return " · ".join(self.classes)


@dataclass(frozen=True)
class Report:
    snapshot: Snapshot
    results: Tuple[RuleResult, ...]
    matrix_version: str
    policy: str = ""  # the site policy applied (file and matching host sections), "" when none
    topology_class: Union[TopologyClass, None] = None  # from doctor.topology_class; None: no GPUs known

    def findings(self) -> List[Finding]:
        found = [finding for result in self.results for finding in result.findings]
        return sorted(found, key=lambda f: (-f.severity.rank, f.rule_id, f.subject))

    def worst_severity(self) -> Union[Severity, None]:
        findings = self.findings()
        return findings[0].severity if findings else None


# --- JSON --------------------------------------------------------------------------------------------


class SnapshotError(ValueError):
    """A snapshot file that cannot be read: the message is one line for the user."""


def to_jsonable(obj: Any) -> Any:
    if isinstance(obj, Known):
        return {"value": to_jsonable(obj.value), "source": obj.source}
    if isinstance(obj, Unavailable):
        return {"unavailable": obj.reason.value, "source": obj.source, "detail": obj.detail}
    if isinstance(obj, enum.Enum):
        return obj.value
    if dataclasses.is_dataclass(obj):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(item) for item in obj]
    if isinstance(obj, dict):
        return {str(key): to_jsonable(value) for key, value in obj.items()}
    return obj


def snapshot_to_json(snapshot: Snapshot) -> str:
    return json.dumps(to_jsonable(snapshot), indent=1, sort_keys=False) + "\n"


# A snapshot is a few levels deep (snapshot > gpus > value > [i] > nvlinks > value > [j] > fact); anything
# much deeper is not one, and Python's own recursion would fail on it with an internal error.
_MAX_DEPTH = 64
# NVML's widest values are unsigned 64-bit; a bigger number is not a reading (10**400 overflows a float).
_MAX_MAGNITUDE = 2**64
_SURROGATE = re.compile("[\ud800-\udfff]")


def _loads(text: str, what: str = "", not_json: str = "not JSON") -> Any:
    """json.loads for a file the user gave: NaN and Infinity, nesting past _MAX_DEPTH, numbers past
    _MAX_MAGNITUDE and lone UTF-16 surrogates (which no UTF-8 output can hold) are SnapshotErrors."""
    def no_constant(name: str) -> Any:
        raise SnapshotError(f"{what}not a gpubal snapshot: {name} is not a value a snapshot holds")

    try:
        data = json.loads(text, parse_constant=no_constant)
    except RecursionError:
        raise SnapshotError(f"{what}not a gpubal snapshot: JSON nested deeper than {_MAX_DEPTH} levels") from None
    except ValueError as error:
        if isinstance(error, SnapshotError):
            raise
        raise SnapshotError(f"{not_json}: {error}") from None
    _check_json_values(data, what)
    return data


def _check_json_values(data: Any, what: str = "") -> None:
    """Depth, number size and surrogates, checked without recursion (the input may be hostile)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise SnapshotError(f"{what}not a gpubal snapshot: JSON nested deeper than {_MAX_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            if _SURROGATE.search(value):
                raise SnapshotError(f"{what}not a gpubal snapshot: a string holds a lone UTF-16 surrogate "
                                    f"({ascii(value[:40])})")
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int) and abs(value) > _MAX_MAGNITUDE:
            raise SnapshotError(f"{what}not a gpubal snapshot: the number {str(value)[:20]}... "
                                f"({len(str(abs(value)))} digits) is larger than any reading")
        elif isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            raise SnapshotError(f"{what}not a gpubal snapshot: {value} is not a value a snapshot holds")


def _check_consistent(snapshot: Snapshot) -> Snapshot:
    """Each GPU index once; each pair names two different listed GPUs, once."""
    gpus, pairs = snapshot.gpus, snapshot.pairs
    indexes = [gpu.index for gpu in gpus.value] if isinstance(gpus, Known) else []
    repeated = sorted({index for index in indexes if indexes.count(index) > 1})
    if repeated:
        raise SnapshotError(f"snapshot.gpus: GPU index {repeated[0]} appears more than once")
    if isinstance(pairs, Known):
        seen = set()
        for number, pair in enumerate(pairs.value):
            key = (min(pair.gpu_a, pair.gpu_b), max(pair.gpu_a, pair.gpu_b))
            if pair.gpu_a == pair.gpu_b or key in seen or (
                    isinstance(gpus, Known) and not {pair.gpu_a, pair.gpu_b} <= set(indexes)):
                raise SnapshotError(f"snapshot.pairs[{number}]: gpu:{pair.gpu_a}-gpu:{pair.gpu_b} is not a pair of "
                                    "two different listed GPUs, or is listed twice")
            seen.add(key)
    return snapshot


def snapshot_from_dict(data: Any) -> Snapshot:
    _check_json_values(data)
    if not isinstance(data, dict):
        raise SnapshotError("not a gpubal snapshot: the top level is not a JSON object")
    if "snapshot" in data and "host" not in data:  # a `--format json` report holds one
        data = data["snapshot"]
        if not isinstance(data, dict):
            raise SnapshotError("not a gpubal snapshot: 'snapshot' is not a JSON object")
    version = data.get("schema_version")
    if version is None:
        raise SnapshotError("not a gpubal snapshot: it has no schema_version")
    if version != SCHEMA_VERSION:
        raise SnapshotError(
            f"snapshot schema_version {version!r} is not supported: this gpubal reads version "
            f"{SCHEMA_VERSION}"
        )
    return _check_consistent(_from_jsonable(Snapshot, data, "snapshot"))


MAX_SNAPSHOT_BYTES = 64 * 2**20  # an 8-GPU snapshot is about 150 KB


def snapshot_from_json(text: str) -> Snapshot:
    return snapshot_from_dict(_loads(text))


# Where Markdown and HTML reports embed their snapshot (gpubal.reports.context writes them): a fenced
# ```json block after a `<!-- gpubal-snapshot ... -->` comment, and a <script type="application/json"
# id="gpubal-snapshot"> element. The JSON in both has <, >, & and ` as \u escapes, so json.loads reads
# the block as it stands.
_HTML_SNAPSHOT = re.compile(r'<script\b[^<>]*\bid="gpubal-snapshot"[^<>]*>([^<]*)</script>')
_MARKDOWN_SNAPSHOT = re.compile(r"<!-- gpubal-snapshot\b[^<>]*-->\s*\n(`{3,}|~{3,})[ \t]*(json|base64)[ \t]*\n"
                                r"((?:(?!\n[`~]{3}).)*)\n\1",
                                re.DOTALL)
_MAX_EMBEDDED_BYTES = 64 * 2**20  # a compressed block never unpacks to more than this


def _decompressed(block: str) -> str:
    """A Markdown report too large for an issue embeds its snapshot as zlib-compressed JSON in base64."""
    import base64
    import binascii
    import zlib

    try:
        packed = base64.b64decode("".join(block.split()), validate=True)
        inflater = zlib.decompressobj()
        data = inflater.decompress(packed, _MAX_EMBEDDED_BYTES)
        if inflater.unconsumed_tail:
            raise SnapshotError("the embedded snapshot unpacks to more than 64 MiB")
        return data.decode("utf-8")
    except (binascii.Error, zlib.error, UnicodeDecodeError) as error:
        raise SnapshotError(f"the embedded snapshot cannot be unpacked (was the report edited?): {error}") from None


def snapshot_from_text(text: str) -> Snapshot:
    """A snapshot from a snapshot file, a JSON report, or a Markdown or HTML report that embeds one."""
    if text.lstrip("\ufeff \t\r\n").startswith(("{", "[")):
        return snapshot_from_json(text)
    if "gpubal-snapshot" not in text:
        if text.lstrip().startswith(("<", "#")):
            raise SnapshotError("not a gpubal snapshot: a Markdown or HTML file without an embedded snapshot "
                                "(the gpubal-snapshot block is missing)")
        return snapshot_from_json(text)
    text = text.replace("\r\n", "\n")
    match = _HTML_SNAPSHOT.search(text)
    if match is None:
        match = _MARKDOWN_SNAPSHOT.search(text)
        body = None if match is None else match.group(3) if match.group(2) == "json" else _decompressed(match.group(3))
    else:
        body = match.group(1)
    if body is None:
        raise SnapshotError("not a gpubal snapshot: neither JSON nor a Markdown or HTML report with an "
                            "embedded snapshot (the gpubal-snapshot block is missing)")
    return snapshot_from_dict(_loads(body, "the embedded snapshot: ",
                                     "the embedded snapshot is not JSON (was the report edited?)"))


_PRIMITIVES = {int, str, bool, float}


def _from_jsonable(hint: Any, data: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return data
    if origin is Union:
        return _fact_from_jsonable(args, data, path)
    if dataclasses.is_dataclass(hint):
        if not isinstance(data, dict):
            raise SnapshotError(f"{path}: expected an object, got {type(data).__name__}")
        hints = _type_hints(hint)
        values = {}
        for f in dataclasses.fields(hint):
            if f.name not in data:
                if f.default is not dataclasses.MISSING:  # a part added later; older files lack it
                    values[f.name] = f.default
                    continue
                if f.default_factory is not dataclasses.MISSING:
                    values[f.name] = f.default_factory()
                    continue
                raise SnapshotError(f"{path}.{f.name}: missing")
            values[f.name] = _from_jsonable(hints[f.name], data[f.name], f"{path}.{f.name}")
        return hint(**values)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(data)
        except ValueError:
            raise SnapshotError(f"{path}: {data!r} is not one of {[m.value for m in hint]}") from None
    if origin in (list, List):
        if not isinstance(data, list):
            raise SnapshotError(f"{path}: expected a list, got {type(data).__name__}")
        return [_from_jsonable(args[0], item, f"{path}[{i}]") for i, item in enumerate(data)]
    if origin in (tuple, Tuple):
        if not isinstance(data, list):
            raise SnapshotError(f"{path}: expected a list, got {type(data).__name__}")
        return tuple(_from_jsonable(args[0], item, f"{path}[{i}]") for i, item in enumerate(data))
    if origin in (dict, Dict):
        if not isinstance(data, dict):
            raise SnapshotError(f"{path}: expected an object, got {type(data).__name__}")
        return {key: _from_jsonable(args[1], value, f"{path}.{key}") for key, value in data.items()}
    if hint in _PRIMITIVES:
        # bool is an int in Python; a snapshot with true where a count belongs is still wrong
        if type(data) is not hint and not (hint is float and type(data) is int):
            raise SnapshotError(f"{path}: expected {hint.__name__}, got {type(data).__name__}")
        return data
    raise SnapshotError(f"{path}: cannot read type {hint!r}")  # pragma: no cover - a model bug


def _fact_from_jsonable(union_args: Tuple[Any, ...], data: Any, path: str) -> Any:
    if type(None) in union_args:  # Optional[...] is not used in the snapshot
        raise SnapshotError(f"{path}: optional values are not part of the schema")  # pragma: no cover
    if not isinstance(data, dict):
        raise SnapshotError(f"{path}: expected a fact object, got {type(data).__name__}")
    if "unavailable" in data:
        try:
            reason = Reason(data["unavailable"])
        except ValueError:
            raise SnapshotError(f"{path}: unknown reason {data['unavailable']!r}") from None
        source, detail = data.get("source", ""), data.get("detail", "")
        if not isinstance(source, str) or not isinstance(detail, str):
            raise SnapshotError(f"{path}: source and detail must be strings")
        return Unavailable(reason, source, detail)
    if "value" not in data or not isinstance(data.get("source"), str):
        raise SnapshotError(f"{path}: a fact needs 'value' and 'source', or 'unavailable'")
    known_hint = next(arg for arg in union_args if typing.get_origin(arg) is Known)
    (value_hint,) = typing.get_args(known_hint)
    return Known(_from_jsonable(value_hint, data["value"], path), data["source"])


_HINTS_CACHE: Dict[type, Dict[str, Any]] = {}


def _type_hints(cls: type) -> Dict[str, Any]:
    if cls not in _HINTS_CACHE:
        _HINTS_CACHE[cls] = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
    return _HINTS_CACHE[cls]


# --- the software stack (CUDA, cuDNN, NCCL, frameworks, Fabric Manager) -------------------------------


@dataclass(frozen=True)
class CudaToolkit:
    path: str  # /usr/local/cuda-13.0
    version: str  # "13.0.2", from version.json (or version.txt on old toolkits)
    has_nvcc: bool


@dataclass(frozen=True)
class LibraryCopy:
    """One copy of a GPU library that some process on the host could load."""

    name: str  # "cudart", "cudnn", "nccl"
    version: str  # "13.0.96", "9.14.0", "2.28.3"
    path: str
    origin: str  # "system", "LD_LIBRARY_PATH", "toolkit", "wheel", "ollama"
    consumer: str  # who loads this copy: "the system loader", "torch 2.11.0+cu130", "ollama"
    version_source: str  # how the version was read: file name, header, wheel metadata


@dataclass(frozen=True)
class PythonPackage:
    name: str  # normalized distribution name, "torch", "nvidia-cudnn-cu13"
    version: str
    location: str  # the site-packages directory
    cuda_version: str  # the CUDA it was built for ("13.0" from torch's +cu130); "" when it does not say;
    # "none" when it says it was built without CUDA (torch's "+cpu", collect_env's "CUDA used to build: None")
    requires: Tuple[str, ...]  # its nvidia-* pins, as written in its metadata


@dataclass(frozen=True)
class Stack(_Facts):
    cuda_toolkits: Fact[List[CudaToolkit]]
    libraries: Fact[List[LibraryCopy]]
    python_packages: Fact[List[PythonPackage]]
    environment: Fact[Dict[str, str]]  # CUDA_*, NCCL_*, OLLAMA_*, LD_LIBRARY_PATH ...; secret-looking names dropped
    dev_shm_bytes: Fact[int]
    fabric_manager_installed: Fact[bool]
    fabric_manager_version: Fact[str]
    fabric_manager_running: Fact[bool]

    def subject(self) -> str:
        return "stack"


# --- Ollama ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OllamaModel:
    """A model the server has loaded (GET /api/ps)."""

    name: str
    size_bytes: int  # memory the loaded model takes, weights and context
    size_vram_bytes: int  # of which on GPUs; the rest is on the CPU


@dataclass(frozen=True)
class OllamaLogGpu:
    """A GPU as Ollama's log reports it at start ("inference compute")."""

    gpu_id: str  # "0", a GPU UUID, or "GPU-..." as Ollama printed it
    library: str  # "cuda", "rocm", ...
    name: str
    compute_capability: str  # "8.9", or "" when the line does not say
    total_bytes: int
    available_bytes: int


@dataclass(frozen=True)
class OllamaLogOffload:
    """How one model load was split, from the log's offload lines (older and newer formats)."""

    model: str  # the model file or name if the log says, else ""
    layers_total: int
    layers_on_gpu: int
    layers_split: Tuple[int, ...]  # layers per GPU, in the order of the GPUs used
    tensor_split: str  # the --tensor-split given to the runner, "" if none
    memory_required_bytes: int  # memory.required.full when logged, else 0 only if the line says so


@dataclass(frozen=True)
class OllamaLogEvent:
    """A failure or fallback that Ollama's log records, kept as printed so a report can quote it."""

    kind: str  # "cuda_init_failed", "no_compatible_gpus", "cpu_only", "out_of_memory"
    code: str  # the error number the line gives ("802" for cuInit), "" when it gives none
    line: str  # the log line as printed, without a journald prefix; at most 500 characters


@dataclass(frozen=True)
class Ollama(_Facts):
    binary_path: Fact[str]
    binary_version: Fact[str]  # `ollama -v`
    server_url: Fact[str]  # OLLAMA_HOST as gpubal resolved it, default http://127.0.0.1:11434
    server_version: Fact[str]  # GET /api/version
    running_models: Fact[List[OllamaModel]]  # GET /api/ps
    service_environment: Fact[Dict[str, str]]  # Environment= of the systemd unit and its drop-ins
    service_exec_start: Fact[str]  # ExecStart= of the unit: flags given to `ollama serve`
    process_environment: Fact[Dict[str, str]]  # /proc/<pid>/environ of the running server, steering names
    log_source: Fact[str]  # where the log lines came from (journalctl -u ollama, a file)
    log_server_config: Fact[Dict[str, str]]  # the `server config` line: the environment Ollama saw
    log_gpus: Fact[List[OllamaLogGpu]]
    log_offloads: Fact[List[OllamaLogOffload]]
    log_events: Fact[List[OllamaLogEvent]]  # discovery failures, CPU fallback, out-of-memory, as logged
    log_cuda_libraries: Fact[List[str]]  # libcuda copies Ollama's GPU discovery found (debug log), by path
    # Environment= of each unit file and drop-in, in the order systemd applies them (the last wins);
    # added after the first snapshots were written
    service_environment_by_file: Fact[Dict[str, Dict[str, str]]] = field(default=Unavailable(
        Reason.NOT_IN_INPUT, "snapshot", "not in this snapshot (pasted text, or made before gpubal kept it)"))

    def subject(self) -> str:
        return "ollama"


# --- processes that use GPUs, and model servers -------------------------------------------------------


@dataclass(frozen=True)
class GpuProcess(_Facts):
    """A process NVML lists on a GPU, or a model server (Ollama, vLLM, SGLang, llama.cpp) found by its name
    in /proc even while it holds no GPU. Facts come from /proc/PID/*; another user's process may hide some
    (environ and maps are readable only by its owner and root)."""

    pid: int
    program: Fact[str]  # "ollama", "vllm", "sglang", "llama.cpp", else the kernel's name for it (/proc/PID/comm)
    found_by: str  # "nvml" (it holds a GPU), "name" (a server by its name), or "nvml, name"
    command_line: Fact[str]  # arguments joined by spaces; values of secret-looking options dropped
    user: Fact[str]  # the real user, by name from /etc/passwd (the number when passwd does not list it)
    cgroup: Fact[str]  # its cgroup path: names the systemd unit or the container
    container: Fact[str]  # "none", "docker", "podman", "kubernetes", "containerd", "lxc"
    gpu_environment: Fact[Dict[str, str]]  # CUDA_*, NVIDIA_*, NCCL_*, OLLAMA_*, GPU_DEVICE_ORDINAL at its start
    cpus_allowed: Fact[str]  # Cpus_allowed_list, kernel cpulist notation
    memory_nodes_allowed: Fact[str]  # Mems_allowed_list: the NUMA nodes it may allocate memory on
    gpus_held: Fact[List[int]]  # NVML indexes of the GPUs that list it among their compute processes
    gpu_numa_nodes: Fact[List[int]]  # the NUMA nodes of those GPUs
    gpu_libraries: Fact[List[str]]  # libcuda, libcudart, libnccl files it has mapped (/proc/PID/maps)
    # vLLM and SGLang servers: num_attention_heads, num_key_value_heads of the model's config.json
    model_config: Fact[Dict[str, int]] = field(default=Unavailable(
        Reason.NOT_FOUND, "command line", "not a vLLM or SGLang server"))

    def subject(self) -> str:
        return f"process:{self.pid}"


# --- the PCIe platform between GPUs: what decides whether peer-to-peer traffic flows ---------------------


@dataclass(frozen=True)
class PciPlatform(_Facts):
    kernel_command_line: Fact[str]  # /proc/cmdline: iommu=pt, intel_iommu=on, amd_iommu=...
    iommu_group_types: Fact[Dict[str, str]]  # GPU bus id -> its IOMMU group's type ("identity", "DMA", "DMA-FQ",
    # "none" when the GPU is in no group: no IOMMU translates its traffic)
    gpu_pci_paths: Fact[Dict[str, List[str]]]  # GPU index -> the PCI bridges from the root down to the GPU
    acs_controls: Fact[Dict[str, List[str]]]  # bridge -> the ACS controls enabled on it (lspci -vvv ACSCtl "+")

    def subject(self) -> str:
        return "pci"

    @staticmethod
    def not_in_input() -> "PciPlatform":
        missing = Unavailable(Reason.NOT_IN_INPUT, "snapshot",
                              "not in this snapshot (pasted text, or made before gpubal read the PCI platform)")
        return PciPlatform(missing, missing, missing, missing)
