"""One host's report reduced to what a fleet compares: its verdict, its findings as (rule, severity,
subject), when it was collected, its GPU model, and the facts that hosts of one GPU model should agree on.

A digest reads the JSON form of a report (or of a snapshot, after the rules ran over it) without building
the typed Snapshot: a fleet reads thousands of reports and needs a few dozen values from each. Every value
is either a text to compare or an `Unknown` that says why it is missing; a fact that could not be read is
never counted as agreeing or disagreeing.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..model import SCHEMA_VERSION, record


class DigestError(ValueError):
    """Input that is not a gpubal report or snapshot: the message is one line for the user."""


@record
class Unknown:
    reason: str  # the snapshot's Reason value, "not_in_input" ... or "absent" when the report lacks the field

    def __str__(self) -> str:
        return f"unknown ({self.reason})"


@record
class DriftFact:
    key: str  # stable, for JSON and tests
    label: str  # for people
    read: Callable[[Dict[str, Any]], Any]  # snapshot dict -> text or Unknown


@record
class HostDigest:
    host: str
    source: str  # where the report came from: a path, a tar member, stdin:N
    collected_at: str  # as the report says it
    collected_epoch: Optional[float]  # None when the timestamp cannot be read
    gpu_model: str
    errors: int
    warnings: int
    infos: int
    not_evaluated: int
    findings: Tuple[Tuple[str, str, str], ...]  # (rule_id, severity, subject)
    facts: Tuple[Any, ...]  # aligned with DRIFT_FACTS: text or Unknown

    @property
    def verdict(self) -> str:
        if self.errors:
            return "error"
        if self.warnings:
            return "warning"
        if self.not_evaluated:
            return "partly-checked"
        return "healthy"


# --- reading facts from the snapshot's JSON form ------------------------------------------------------


def _fact(part: Any, name: str) -> Any:
    """A fact's value, or Unknown with the snapshot's reason (or "absent" when the field is not there)."""
    fact = part.get(name) if isinstance(part, dict) else None
    if not isinstance(fact, dict):
        return Unknown("absent")
    if "value" in fact:
        return fact["value"]
    return Unknown(str(fact.get("unavailable", "absent")))


def _gpus(snapshot: Dict[str, Any]) -> Any:
    gpus = _fact(snapshot, "gpus")
    if isinstance(gpus, Unknown):
        return gpus
    return [gpu for gpu in gpus if isinstance(gpu, dict)] if isinstance(gpus, list) else Unknown("absent")


def _text(value: Any) -> Any:
    if isinstance(value, Unknown):
        return value
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _spread(values: Sequence[Tuple[str, Any]], noun: str) -> Any:
    """Per-subject values as one comparable text: the value when all agree, else the most common value with
    its count and every other subject by name ("x16 on 7 GPUs; x8 on gpu:0")."""
    if not values:
        return Unknown("not_found")
    known = [(subject, value) for subject, value in values if not isinstance(value, Unknown)]
    if not known:
        return values[0][1]
    counts: Dict[str, int] = {}
    for _, value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    if len(counts) == 1:
        return str(known[0][1])
    common = max(sorted(counts), key=lambda value: counts[value])
    subjects: Dict[str, List[str]] = {}
    for subject, value in values:
        if str(value) != common:
            subjects.setdefault(str(value), []).append(subject)
    others = "; ".join(f"{value} ({', '.join(names)})" for value, names in subjects.items())
    count = counts[common]
    return f"{common} ({count} {noun if count != 1 else noun[:-1]}); {others}"


def _per_gpu(read: Callable[[Dict[str, Any]], Any]) -> Callable[[Dict[str, Any]], Any]:
    def per_gpu(snapshot: Dict[str, Any]) -> Any:
        gpus = _gpus(snapshot)
        if isinstance(gpus, Unknown):
            return gpus
        return _spread([(f"gpu:{gpu.get('index', '?')}", read(gpu)) for gpu in gpus], "GPUs")
    return per_gpu


def _plain(part: str, name: str) -> Callable[[Dict[str, Any]], Any]:
    return lambda snapshot: _text(_fact(snapshot.get(part), name))


def _gpu_count(snapshot: Dict[str, Any]) -> Any:
    gpus = _gpus(snapshot)
    return gpus if isinstance(gpus, Unknown) else str(len(gpus))


def _nvlinks_up(gpu: Dict[str, Any]) -> Any:
    links = _fact(gpu, "nvlinks")
    if isinstance(links, Unknown) or not isinstance(links, list):
        return links if isinstance(links, Unknown) else Unknown("absent")
    if not links:
        return "none"
    # inline rather than _fact(): a fleet of 8-GPU hosts reads this for 144 links a host
    up = sum(1 for link in links if isinstance(link, dict) and isinstance(link.get("active"), dict)
             and link["active"].get("value") is True)
    return f"{up}/{len(links)} up"


def _pcie_width(gpu: Dict[str, Any]) -> Any:
    # the width only: an idle GPU drops its PCIe generation to save power, so the current generation differs
    # from host to host (and minute to minute) on healthy machines; a narrower link does not come and go
    width = _fact(gpu, "pcie_link_width_current")
    return width if isinstance(width, Unknown) else f"x{width}"


def _nvlinks_per_pair(snapshot: Dict[str, Any]) -> Any:
    pairs = _fact(snapshot, "pairs")
    if isinstance(pairs, Unknown) or not isinstance(pairs, list):
        return pairs if isinstance(pairs, Unknown) else Unknown("absent")
    values = []
    for pair in pairs:
        if not isinstance(pair, dict):
            continue
        count = _fact(pair, "nvlink_count")
        values.append((f"gpu:{pair.get('gpu_a', '?')}-gpu:{pair.get('gpu_b', '?')}",
                       count if isinstance(count, Unknown) else f"NV{count}" if count else "none"))
    if not values:
        return "no pairs"
    return _spread(values, "pairs")


def _library(name: str) -> Callable[[Dict[str, Any]], Any]:
    def copies(snapshot: Dict[str, Any]) -> Any:
        libraries = _fact(snapshot.get("stack"), "libraries")
        if isinstance(libraries, Unknown) or not isinstance(libraries, list):
            return libraries if isinstance(libraries, Unknown) else Unknown("absent")
        found = sorted({f"{copy.get('version', '?')} ({copy.get('origin', '?')})" for copy in libraries
                        if isinstance(copy, dict) and copy.get("name") == name})
        return ", ".join(found) if found else "none"
    return copies


def _cuda_toolkits(snapshot: Dict[str, Any]) -> Any:
    toolkits = _fact(snapshot.get("stack"), "cuda_toolkits")
    if isinstance(toolkits, Unknown):
        # no /usr/local/cuda* at all is a known answer: no toolkit installed
        return "none" if toolkits.reason == "not_found" else toolkits
    if not isinstance(toolkits, list):
        return Unknown("absent")
    versions = sorted({str(toolkit.get("version", "?")) for toolkit in toolkits if isinstance(toolkit, dict)})
    return ", ".join(versions) if versions else "none"


def _fabric_manager(snapshot: Dict[str, Any]) -> Any:
    stack = snapshot.get("stack")
    installed = _fact(stack, "fabric_manager_installed")
    if installed is False:
        return "not installed"
    if isinstance(installed, Unknown):
        return installed
    version = _fact(stack, "fabric_manager_version")
    running = _fact(stack, "fabric_manager_running")
    text = str(version) if not isinstance(version, Unknown) else "version unknown"
    if running is False:
        text += ", not running"
    return text


def _ollama_absent(ollama: Any) -> bool:
    binary = _fact(ollama, "binary_path")
    server = _fact(ollama, "server_version")
    return isinstance(binary, Unknown) and binary.reason == "not_found" and isinstance(server, Unknown) \
        and server.reason in ("not_found", "error", "not_in_input", "timeout")


def _ollama_version(snapshot: Dict[str, Any]) -> Any:
    ollama = snapshot.get("ollama")
    for name in ("server_version", "binary_version"):
        value = _fact(ollama, name)
        if not isinstance(value, Unknown):
            return str(value)
    if _ollama_absent(ollama):
        return "not installed"
    return _fact(ollama, "binary_version")


def _ollama_settings(snapshot: Dict[str, Any]) -> Any:
    ollama = snapshot.get("ollama")
    for name in ("service_environment", "process_environment", "log_server_config"):
        environment = _fact(ollama, name)
        if isinstance(environment, dict):
            settings = sorted(f"{key}={value}" for key, value in environment.items()
                              if str(key).startswith("OLLAMA_") or key == "CUDA_VISIBLE_DEVICES")
            return "; ".join(settings) if settings else "none set"
    if _ollama_absent(ollama):
        return "not installed"
    return _fact(ollama, "service_environment")


DRIFT_FACTS: Tuple[DriftFact, ...] = (
    DriftFact("driver_version", "driver", _plain("driver", "version")),
    DriftFact("cuda_driver_version", "CUDA the driver supports", _plain("driver", "cuda_driver_version")),
    DriftFact("kernel_module_flavor", "kernel module", _plain("driver", "kernel_module_flavor")),
    DriftFact("cuda_toolkits", "CUDA toolkits", _cuda_toolkits),
    DriftFact("cudart_copies", "CUDA runtime copies", _library("cudart")),
    DriftFact("cudnn_copies", "cuDNN copies", _library("cudnn")),
    DriftFact("nccl_copies", "NCCL copies", _library("nccl")),
    DriftFact("fabric_manager", "Fabric Manager", _fabric_manager),
    DriftFact("vbios_version", "VBIOS", _per_gpu(lambda gpu: _text(_fact(gpu, "vbios_version")))),
    DriftFact("gpu_count", "GPU count", _gpu_count),
    DriftFact("nvlinks_per_pair", "NVLinks per GPU pair", _nvlinks_per_pair),
    DriftFact("nvlinks_up", "NVLinks up per GPU", _per_gpu(_nvlinks_up)),
    DriftFact("pcie_width", "PCIe link width", _per_gpu(_pcie_width)),
    DriftFact("mig", "MIG mode", _per_gpu(lambda gpu: _text(_fact(gpu, "mig_enabled_current")))),
    DriftFact("persistence_mode", "persistence mode", _per_gpu(lambda gpu: _text(_fact(gpu, "persistence_mode")))),
    DriftFact("ecc_mode", "ECC mode", _per_gpu(lambda gpu: _text(_fact(gpu, "ecc_enabled_current")))),
    DriftFact("ollama_version", "Ollama version", _ollama_version),
    DriftFact("ollama_settings", "Ollama settings", _ollama_settings),
)
DRIFT_KEYS = tuple(fact.key for fact in DRIFT_FACTS)


def gpu_model(snapshot: Dict[str, Any]) -> str:
    """What makes hosts comparable: the GPU model (or models, on a mixed host)."""
    gpus = _gpus(snapshot)
    if isinstance(gpus, Unknown):
        return f"GPUs not listed ({gpus.reason})"
    names = sorted({str(_fact(gpu, "name")) for gpu in gpus})
    return " + ".join(names) if names else "no GPUs"


# --- timestamps and host names -------------------------------------------------------------------------

_PLACEHOLDER_HOST = re.compile(r"host-\d+")  # what --redact puts in place of a hostname


def parse_timestamp(text: Any) -> Optional[float]:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # gpubal writes UTC
    return moment.timestamp()


def host_name(snapshot: Dict[str, Any], source_name: str) -> str:
    """The host's own name; for a redacted report (every one says host-1) or one without a hostname, the
    name of the file it came from, so hosts stay apart."""
    name = _fact(snapshot.get("host"), "hostname")
    if isinstance(name, str) and name.strip() and not _PLACEHOLDER_HOST.fullmatch(name.strip()):
        return name.strip()
    return source_name


# --- the digest ----------------------------------------------------------------------------------------

_SEVERITIES = ("error", "warning", "info")


def digest_document(document: Any, source: str, source_name: str) -> HostDigest:
    """A report (`gpubal doctor --format json`) or a snapshot (`gpubal collect`), as parsed JSON."""
    if not isinstance(document, dict):
        raise DigestError("not a gpubal report or snapshot: the top level is not a JSON object")
    if "snapshot" in document and "host" not in document:  # a report (with its own schema_version since 1)
        snapshot = document["snapshot"]
        if not isinstance(snapshot, dict):
            raise DigestError("not a gpubal report: 'snapshot' is not a JSON object")
        _check_schema(snapshot)
        findings = document.get("findings")
        results = document.get("results")
        if not isinstance(findings, list) or not isinstance(results, list):
            raise DigestError("not a gpubal report: it has no findings or results list")
        triples = []
        for finding in findings:
            if not isinstance(finding, dict) or finding.get("severity") not in _SEVERITIES:
                raise DigestError("not a gpubal report: a finding without a known severity")
            triples.append((str(finding.get("rule_id", "?")), finding["severity"], str(finding.get("subject", "?"))))
        not_evaluated = sum(1 for result in results if isinstance(result, dict)
                            and result.get("outcome") == "not_evaluated")
    elif "schema_version" in document:
        _check_schema(document)
        snapshot = document
        triples, not_evaluated = _evaluate(document)
    else:
        raise DigestError("not a gpubal report or snapshot: it has neither 'snapshot' nor 'schema_version'")
    counts = {severity: sum(1 for _, s, _ in triples if s == severity) for severity in _SEVERITIES}
    collected_at = snapshot.get("collected_at")
    return HostDigest(
        host=host_name(snapshot, source_name),
        source=source,
        collected_at=collected_at if isinstance(collected_at, str) else "",
        collected_epoch=parse_timestamp(collected_at),
        gpu_model=gpu_model(snapshot),
        errors=counts["error"], warnings=counts["warning"], infos=counts["info"], not_evaluated=not_evaluated,
        findings=tuple(triples),
        facts=tuple(fact.read(snapshot) for fact in DRIFT_FACTS),
    )


def _check_schema(snapshot: Dict[str, Any]) -> None:
    version = snapshot.get("schema_version")
    if version != SCHEMA_VERSION:
        raise DigestError(f"snapshot schema_version {version!r} is not supported: this gpubal reads version "
                          f"{SCHEMA_VERSION}")


def _evaluate(document: Dict[str, Any]) -> Tuple[List[Tuple[str, str, str]], int]:
    """A bare snapshot has no findings yet: run the rules over it, as `gpubal doctor --snapshot` would."""
    from ..doctor.engine import evaluate
    from ..model import Outcome
    from ..snapshot_file import SnapshotError, snapshot_from_dict
    from ..rules import all_rules

    try:
        report = evaluate(snapshot_from_dict(document), all_rules())
    except SnapshotError as error:
        raise DigestError(str(error)) from None
    triples = [(f.rule_id, f.severity.value, f.subject) for f in report.findings()]
    return triples, sum(1 for result in report.results if result.outcome is Outcome.NOT_EVALUATED)
