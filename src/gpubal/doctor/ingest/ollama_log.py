"""Ollama server logs into facts: the version, the `server config` line (the environment Ollama saw),
the GPUs it discovered, and how each model load was split across GPUs and CPU.

The format changed across releases, and all of these are read:
- 0.1.2x: `CUDA Compute Capability detected: 8.6`, `Loading Dynamic llm server: .../0.1.28/cuda_v11/...`,
  NVML's `[0] CUDA device name: ...` and `[0] CUDA totalMem 2147483648` (bytes; later releases print mb);
- 0.1.3x-0.1.4x: `availableServers : found file=.../runners/cuda_v11`, `starting llama server` with the
  runner's path and flags (`--n-gpu-layers`, `--ctx-size`, `--parallel`, `--tensor-split`);
- 0.3+: `inference compute` (id, library, variant, compute, driver, name, total, available), debug
  `updating cuda memory data`, cuInit probing (`CUDA driver version: 12.7`, `device count 1`);
- late 2024: `msg="offload to cuda"`; 2025: `msg=offload library=cuda` with layers.* and memory.*;
- 0.12+: `inference compute` with `name=CUDA0` (the device id) and `description=` (the model),
  `msg="gpu memory"` (free memory at each load), `msg="loading model" "model layers"=N`;
- discovery traces (OLLAMA_DEBUG): `discovered GPU libraries paths=[.../libcuda.so.570.86.15 ...]`,
  `detected GPUs count=1 library=.../libcuda.so.470.239.06`, `[GPU-...] CUDA totalMem 80994 mb`, and the
  failures: `cuInit err: 802`, `cuda driver library init failure: 802`, `cuInit failed: 802`,
  `ggml_cuda_init: failed to initialize CUDA: ...`, `no compatible GPUs were discovered`;
- before 0.1.33, `CUDA driver version: 545.23.08` is the *driver* version (read through NVML), not a CUDA
  version as in the later cuInit trace (`CUDA driver version: 12.7`): the form tells them apart;
- llama.cpp and the Ollama engine inside the runner: `load_tensors: offloaded N/M layers to GPU`,
  `load_tensors: CUDA0 model buffer size = ... MiB`, `llama_context: n_ctx = ...`, ggml's
  `Device 4: NAME, compute capability 8.9, VMM: yes`, `msg=system ... CUDA.0.ARCHS=...`.
Failures become events (ollama.log_events), one per kind and error number; the last slog line's `time=`
dates the log. Lines may carry a journald prefix (`May 12 12:07:07 host ollama[1234]: `); a `server config` line that
a paste hard-wrapped is joined again. The parser reads line by line and never holds the whole log: a
cheap substring test rejects most lines before any regular expression runs.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional

from ...model import UNKNOWN_BYTES, OllamaLogEvent, OllamaLogGpu, OllamaLogOffload
from .common import Observation, Parser, parse_size

SECTION = "Ollama log"
GPU_SECTION = "Ollama log (GPUs as Ollama lists them)"
_LOGFMT = re.compile(r'(?<![\w.])([A-Za-z_][\w.]*)=("(?:[^"\\]|\\.)*"|\S*)')
_CONFIG_KEY = re.compile(r"(?:^| )([A-Za-z_][A-Za-z0-9_]*):(?!//)")  # not the "https:" of a URL value
_VERSION = re.compile(r"Listening on (\S+) \(version ([\w.+-]+)\)")
_OFFLOADED = re.compile(r"offloaded (\d+)/(\d+) layers to GPU")
_BUFFER = re.compile(r"(?<!\S)(\S+) model buffer size =\s*([\d.]+) MiB")
_CONTEXT = re.compile(r"llama_context:\s+(n_ctx|flash_attn)\s+=\s+(\d+)\s*$")
_DEVICE = re.compile(r"Device (\d+): (.{1,300}?), compute capability ([\d.]+)(?:, VMM: (\w+))?")
_FLAG = re.compile(r"--([\w-]+)(?:[ =]([^\s\"-][^\s\"]*))?")
_RUNNER_PATH = re.compile(r"/runners/([\w.-]+)/")
_ASSET_VERSION = re.compile(r"/assets/(\d+\.\d+\.\d+[\w.-]*)/([\w.-]+)/")
_COMPUTE_DETECTED = re.compile(r"Compute Capability detected: ([\d.]+)")
_CUDA_BACKEND = re.compile(r"CUDA\.(\d+)\.")
_LIBRARY_VERSION = re.compile(r"lib(?:cuda|nvidia-ml)\.so\.(\d{3}\.\d+(?:\.\d+)?)\b")
_LIBCUDA_PATH = re.compile(r"(?<![^\s\[\]\"=])[^\s\[\]\"=]*libcuda\.so[\w.]*")  # from a word's start only
_DRIVER_VERSION = re.compile(r"\d{3}\.\d+(?:\.\d+)?")  # 535.104.05: a driver; 12.7: a CUDA version
_CUDA_VERSION = re.compile(r"\d{1,2}\.\d{1,2}")
_ERROR_CODE = re.compile(r"(?:cuInit err: |cuInit failed: |init failur\s*e: |error |code=)(\d+)")  # a paste may break "failure"
_LEGACY_MEMORY = re.compile(r"\[(GPU-[\w-]+|\d+)\] CUDA (totalMem|freeMem|usedMem) (\d+)( mb)?\s*$")  # 0.1.2x: bytes
# `cuda detected 1 devices with 977M available memory`: 0.1.2x's CheckVRAM (gpu/gpu.go), the free memory of
# all GPUs less what Ollama keeps back (10 %, at least 1 GiB per GPU), in MiB
_VRAM_AVAILABLE = re.compile(r"cuda detected (\d{1,4}) devices with (-?\d{1,12})M available memory")
_LEGACY_NAME = re.compile(r"\[(GPU-[\w-]+|\d+)\] CUDA device name: (.+?)\s*$")
_CUDA_DEVICE_ID = re.compile(r"CUDA\d+")  # 0.12+ prints the device id as `name=`, the model as `description=`
_LEGACY_COMPUTE = re.compile(r"\[(GPU-[\w-]+|\d+)\] Compute Capability (\d+\.\d+)")
_OUT_OF_MEMORY = ("cudaMalloc failed: out of memory", "CUDA error: out of memory", "CUDA_ERROR_OUT_OF_MEMORY",
                  "failed to allocate CUDA", "out of memory")
_MAX_EVENTS = 50
_MAX_WRAPPED_LINES = 8
_MAX_LOADS = 10_000
# The caches below keep answers by the text they were read from; a text longer than this (hostile input: a
# line may hold up to a MiB) is read each time, so that no cache holds more than a few MiB.
_CACHED_TEXT_CHARS = 16 * 1024
MAX_OFFLOADS_KEPT = 100  # the snapshot keeps the latest model loads; the log may hold thousands  # a log of a busy server loads models all day; keep the latest ones


@dataclass
class OllamaLog:
    version: Optional[str] = None
    server_config: Optional[Dict[str, str]] = None
    gpus: List[OllamaLogGpu] = field(default_factory=list)
    offloads: List[OllamaLogOffload] = field(default_factory=list)
    lines_read: int = 0
    lines_recognised: int = 0
    # what the lines said, as printed: the corpus tests compare these with an expert's reading
    gpu_details: Dict[str, Dict[str, str]] = field(default_factory=dict)  # GPU id -> fields
    loads: List[Dict[str, Any]] = field(default_factory=list)  # one per model load
    extras: Dict[str, Any] = field(default_factory=dict)  # listen, runner, cuda_driver_version, ...
    events: List[OllamaLogEvent] = field(default_factory=list)  # failures and fallbacks, each kind once
    last_slog_line: str = ""  # the last `msg=` line read; its `time=` (the server's local time) dates the log
    cuda_libraries: List[str] = field(default_factory=list)  # libcuda paths discovery found
    format_name: str = "Ollama log"

    @property
    def found(self) -> bool:
        return self.lines_recognised > 0

    @property
    def problems(self) -> List[str]:
        return []

    @property
    def gpu_count(self) -> Optional[int]:
        if "gpu_count" in self.extras:
            return self.extras["gpu_count"]
        if self.gpu_details:
            return len(self.gpu_details)
        for load in reversed(self.loads):
            if "memory_available" in load:
                return len(load["memory_available"])
        return None

    def observations(self) -> Iterable[Observation]:
        if self.version:
            yield ("ollama", "server_version"), self.version, SECTION
        if self.server_config is not None:
            yield ("ollama", "log_server_config"), self.server_config, SECTION
        if self.gpus:
            yield ("ollama", "log_gpus"), self.gpus, SECTION
        if self.offloads:
            yield ("ollama", "log_offloads"), self.offloads, SECTION
        if self.found:
            yield ("ollama", "log_events"), list(self.events), SECTION
        date = _iso_date(self.last_slog_line)
        if date:  # version rules then judge the host as of the log, not as of today
            yield ("dump", "date"), date, SECTION
        if self.cuda_libraries:
            yield ("ollama", "log_cuda_libraries"), list(self.cuda_libraries), SECTION
        cuda = self.extras.get("cuda_driver_version") or self._cuda_from_gpus()
        if cuda:
            yield ("driver", "cuda_driver_version"), cuda, SECTION
        if self.extras.get("driver_version"):
            yield ("driver", "version"), self.extras["driver_version"], SECTION
        if "device_count" in self.extras:
            yield ("driver", "device_count"), self.extras["device_count"], SECTION
        yield from self._gpu_observations()

    def _cuda_from_gpus(self) -> str:
        drivers = {details.get("driver", "") for details in self.gpu_details.values()
                   if details.get("library", "").lower() == "cuda"}
        drivers.discard("")
        return drivers.pop() if len(drivers) == 1 else ""

    def _gpu_observations(self) -> Iterable[Observation]:
        """The NVIDIA GPUs Ollama listed, numbered in the order the log lists them (Ollama's order: by
        index on older releases, by free memory from 0.4 on), so that the per-GPU rules run on a log."""
        section = GPU_SECTION
        if not any(details.get("library", "cuda").lower() == "cuda" for details in self.gpu_details.values()):
            # the runner's ggml lines (`Device 0: NAME, compute capability 6.1`) are all an older log has
            for device in self.extras.get("devices", []):
                yield ("gpu", device["index"], "present"), True, section
                yield ("gpu", device["index"], "name"), device["name"], section
                yield ("gpu", device["index"], "compute_capability"), device["compute_capability"], section
            return
        index = 0
        for gpu_id, details in self.gpu_details.items():
            if details.get("library", "cuda").lower() != "cuda" or gpu_id in ("cpu", ""):
                continue
            yield ("gpu", index, "present"), True, section
            name = details.get("description") or details.get("name", "")
            if name and not _CUDA_DEVICE_ID.fullmatch(name):
                yield ("gpu", index, "name"), name, section
            if gpu_id.startswith("GPU-") and len(gpu_id) == 40:
                yield ("gpu", index, "uuid"), gpu_id, section
            if details.get("compute"):
                yield ("gpu", index, "compute_capability"), details["compute"], section
            total = _total_bytes(details)
            if total:
                yield ("gpu", index, "memory_total_bytes"), total, section
            index += 1


def parse_ollama_log(lines: Iterable[str]) -> OllamaLog:
    parser = OllamaLogParser()
    parser.feed_lines(lines)
    return parser.finish()


class OllamaLogParser(Parser):
    name = "Ollama log"

    def __init__(self) -> None:
        self.log = OllamaLog()
        self._wrapped: Optional[str] = None
        self._wrapped_lines = 0

    def feed(self, raw: str) -> None:
        log = self.log
        log.lines_read += 1
        if self._wrapped is not None:
            self._wrapped += raw.rstrip("\r\n")
            self._wrapped_lines += 1
            if self._wrapped.rstrip().endswith("]\"") or self._wrapped_lines >= _MAX_WRAPPED_LINES:
                line, self._wrapped = self._wrapped, None
                if _read_line(log, line):
                    log.lines_recognised += 1
            return
        if "server config" in raw and "map[" in raw and not raw.rstrip().endswith(("]\"", "]")):
            self._wrapped, self._wrapped_lines = raw.rstrip("\r\n"), 0
            return
        at = raw.find("msg=")
        if at >= 0:  # most lines of a log are slog lines: dispatched here, without _read_line's tests
            log.last_slog_line = raw
            if _slog_line(log, raw, at):
                log.lines_recognised += 1
        elif _other_line(log, raw):
            log.lines_recognised += 1

    def feed_lines(self, lines: Iterable[str]) -> None:
        """`feed` for each line, in one loop: a 100 MB log has 800,000 lines, and a call a line is a tenth
        of the time it takes to read them."""
        log = self.log
        read = recognised = 0
        for raw in lines:
            if self._wrapped is not None or ("server config" in raw and "map[" in raw):
                self.feed(raw)  # a server config line a paste may have wrapped: feed joins the pieces
                continue
            read += 1
            at = raw.find("msg=")
            if at >= 0:
                log.last_slog_line = raw
                if _slog_line(log, raw, at):
                    recognised += 1
            elif _other_line(log, raw):
                recognised += 1
        log.lines_read += read
        log.lines_recognised += recognised

    def finish(self) -> OllamaLog:
        if self._wrapped is not None:
            line, self._wrapped = self._wrapped, None
            if _read_line(self.log, line):
                self.log.lines_recognised += 1
        _finish(self.log)
        return self.log


def _read_line(log: OllamaLog, raw: str) -> bool:
    at = raw.find("msg=")
    if at >= 0:
        log.last_slog_line = raw  # its `time=` dates the log (a log runs forward: the last line is the latest)
        return _slog_line(log, raw, at)
    return _other_line(log, raw)


def _other_line(log: OllamaLog, raw: str) -> bool:  # noqa: C901 - one dispatch over the known lines
    # the cheap tests first: most lines of a busy log are [GIN] requests and model metadata
    if "load_tensors:" in raw:
        if "layers to GPU" in raw:
            match = _OFFLOADED.search(raw)
            if match:
                load = _current(log, "layers_offloaded")
                load["layers_offloaded"], load["layers_total"] = int(match.group(1)), int(match.group(2))
                return True
        elif "model buffer size" in raw:
            match = _BUFFER.search(raw)
            if match:
                _current(log, None).setdefault("buffers_mib", {})[match.group(1)] = match.group(2)
                return True
        return False
    if "llama_context:" in raw:
        if "n_ctx " in raw or "flash_attn " in raw:
            match = _CONTEXT.search(raw.rstrip())
            if match and log.loads:
                log.loads[-1].setdefault(match.group(1), int(match.group(2)))
                return True
        return False
    if "server config" in raw:
        return _server_config(log, raw)
    if "layers to GPU" in raw:  # llama.cpp's own log, older runners: "llm_load_tensors: offloaded 33/33 ..."
        match = _OFFLOADED.search(raw)
        if match:
            load = _current(log, "layers_offloaded")
            load["layers_offloaded"], load["layers_total"] = int(match.group(1)), int(match.group(2))
            return True
        return False
    # the remaining marks share "CUDA" or "apability": two tests rule out most of them for most lines
    cuda = "CUDA" in raw
    capability = "apability" in raw
    if capability and "compute capability" in raw:
        match = _DEVICE.search(raw)
        if match:
            device = {"index": int(match.group(1)), "name": match.group(2), "compute_capability": match.group(3)}
            if match.group(4):
                device["vmm"] = match.group(4)
            devices = log.extras.setdefault("devices", [])
            if device not in devices:
                devices.append(device)
            return True
        return False
    if cuda and "CUDA driver version:" in raw:
        version = raw.rsplit(":", 1)[1].strip()
        if _DRIVER_VERSION.fullmatch(version):  # before 0.1.33 the line printed NVML's driver version
            log.extras["driver_version"] = version
        elif _CUDA_VERSION.fullmatch(version):
            log.extras["cuda_driver_version"] = version
        else:
            return False
        return True
    if "device count " in raw and (raw.startswith("device count ") or "] device count " in raw
                                   or ": device count " in raw):
        count = raw.rsplit(" ", 1)[1].strip()
        if count.isdigit():
            log.extras["device_count"] = int(count)
            return True
        return False
    if cuda and "loaded CUDA backend from" in raw:
        log.extras["cuda_backend_lib"] = raw.rsplit("from", 1)[1].strip()
        return True
    if "initializing " in raw and "libcuda.so" in raw:  # debug trace: the libcuda discovery opens
        return _libraries(log, raw)
    if "cuInit err:" in raw or (cuda and "failed to initialize CUDA:" in raw):
        _event(log, "cuda_init_failed", raw)
        return True
    if (cuda and "] CUDA " in raw) or (capability and "] Compute Capability" in raw):
        return _legacy_gpu(log, raw)
    if "out of memory" in raw:
        return _out_of_memory(log, raw)
    return False


# what cuInit's error numbers mean (CUresult in the CUDA Driver API), for the messages that print text only
_INIT_MESSAGES = {"system not yet initialized": "802", "no CUDA-capable device is detected": "100",
                  "CUDA driver version is insufficient": "35", "initialization error": "3",
                  "system has unsupported display driver / cuda driver combination": "803",
                  "forward compatibility was attempted on non supported HW": "804",
                  "OS call failed": "304", "unknown error": "999"}


def _event(log: OllamaLog, kind: str, raw: str) -> None:
    line = _without_prefix(raw).strip()
    # each of _ERROR_CODE's words must be in the line for it to match: most lines have none
    match = _ERROR_CODE.search(line) if ("error " in line or "cuInit " in line or "init failur" in line
                                         or "code=" in line) else None
    code = match.group(1) if match else next((code for text, code in _INIT_MESSAGES.items() if text in line), "")
    seen = log.extras.setdefault("_event_keys", set())
    if (kind, code) in seen or len(log.events) >= _MAX_EVENTS:
        return  # a server retries discovery at every load: one event per kind and code says it
    seen.add((kind, code))
    log.events.append(OllamaLogEvent(kind=kind, code=code, line=line[:500]))


def _without_prefix(raw: str) -> str:
    """The line without a journald prefix (`Feb 19 04:43:53 host ollama[123]: `)."""
    at = raw.find("]: ")
    return raw[at + 3:] if at >= 0 and "ollama[" in raw[:at + 1] else raw


def _out_of_memory(log: OllamaLog, raw: str) -> bool:
    if not any(mark in raw for mark in _OUT_OF_MEMORY):
        return False
    _event(log, "out_of_memory", raw)
    return True


def _legacy_gpu(log: OllamaLog, raw: str) -> bool:
    """0.1.3x-0.2 debug lines: `[GPU-...] CUDA totalMem 80994 mb`, `[GPU-...] Compute Capability 8.0`."""
    # each pattern's own words are tested first: a line is one of the three, and most are neither
    match = _LEGACY_MEMORY.search(raw) if "Mem " in raw and "] CUDA " in raw else None
    if match:
        details = log.gpu_details.setdefault(match.group(1), {"id": match.group(1)})
        details[match.group(2)] = match.group(3) + (match.group(4) or "")  # "80994 mb", or bytes before 0.1.3x
        return True
    match = _LEGACY_NAME.search(raw) if "] CUDA device name: " in raw else None
    if match:
        log.gpu_details.setdefault(match.group(1), {"id": match.group(1)})["name"] = match.group(2)
        return True
    match = _LEGACY_COMPUTE.search(raw) if "] Compute Capability " in raw else None
    if match:
        log.gpu_details.setdefault(match.group(1), {"id": match.group(1)})["compute"] = match.group(2)
        return True
    return False


def _libraries(log: OllamaLog, raw: str) -> bool:
    """Paths of the driver libraries discovery found; the version in a libcuda/libnvidia-ml file name
    is the driver's."""
    paths, versions = _library_names(raw)
    for path in paths:
        if path not in log.cuda_libraries and len(log.cuda_libraries) < 64:
            log.cuda_libraries.append(path)
    if versions:  # the driver's version only while every copy named so far agrees (see _finish)
        log.extras.setdefault("_library_versions", set()).update(versions)
    return bool(paths or versions)


_LIBRARY_CACHE: Dict[str, Any] = {}


def _library_names(raw: str) -> Any:
    """The libcuda paths and the driver versions in library names of a line. Discovery repeats the same
    lines at every model load with only the time changed; a name cannot run across `msg=` (a path stops at
    `=`), so when nothing before `msg=` looks like a library the answer is kept for the text from `msg=` on."""
    at = raw.find("msg=")
    key = raw[at:] if at >= 0 and "libcuda.so" not in raw[:at] and ".so." not in raw[:at] else raw
    found = _LIBRARY_CACHE.get(key)
    if found is None:
        paths = _LIBCUDA_PATH.findall(raw) if "libcuda.so" in raw else []  # the scans cost more than the test
        versions = frozenset(_LIBRARY_VERSION.findall(raw)) if ".so." in raw else frozenset()
        found = (tuple(paths), versions)
        if len(key) <= _CACHED_TEXT_CHARS:
            if len(_LIBRARY_CACHE) >= 256:
                _LIBRARY_CACHE.clear()
            _LIBRARY_CACHE[key] = found
    return found


_GPU_COUNT = re.compile(r"gpu_count=(\d+)")
_MODEL_LAYERS = re.compile(r'"model layers"=(\d+)')
_PATH_FIELD = re.compile(r"\b(?:path|file)=\"?([^\s\"]+)")


def _slog_line(log: OllamaLog, raw: str, at: int) -> bool:
    """One slog line (`msg=` at `at`). Most messages of a busy log are none that gpubal reads: what a message
    can be is worked out once per message text, so that a line costs a dict lookup and two substring tests."""
    at += 4
    if raw.startswith('"', at):
        end = raw.find('"', at + 1)
        msg = raw[at + 1:end if end >= 0 else None]
    else:
        end = raw.find(" ", at)
        msg = raw[at:end if end >= 0 else None].rstrip()
    kind = _MESSAGE_KINDS.get(msg)
    if kind is None:
        kind = _message_kind(msg)
    first, later, rare = kind
    if first is not None:
        return first(log, raw)
    if "gpu_count=" in raw:
        match = _GPU_COUNT.search(raw)
        if match:
            log.extras["gpu_count"] = int(match.group(1))
            return True
        return False
    if later is not None:
        return later(log, raw)
    if rare or "error=" in raw:
        return _rare_slog_line(log, raw, msg)
    return False


_MESSAGE_KINDS: Dict[str, Any] = {}


def _message_kind(msg: str) -> Any:
    """What a message can be, in the order messages are claimed: (the handler that claims it before a
    `gpu_count=` field is looked at, the one after, whether it may be a discovery or runner message)."""
    first = _FIRST_HANDLERS.get(msg)
    if first is None and msg.startswith("offload to "):
        first = _offload
    elif first is None and msg.startswith("Listening on"):
        first = _listening
    rare = msg in _DISCOVERY_MESSAGES or "memory" in msg or msg.startswith(_LATER_PREFIXES)
    kind = (first, _LATER_HANDLERS.get(msg), rare)
    if len(msg) <= 256:  # message texts are short; a longer one is worked out each time
        if len(_MESSAGE_KINDS) >= 4096:  # a real log has a few hundred message texts; a hostile one, any number
            _MESSAGE_KINDS.clear()
        _MESSAGE_KINDS[msg] = kind
    return kind


def _rare_slog_line(log: OllamaLog, raw: str, msg: str) -> bool:
    if msg.startswith("availableServers"):
        return _runner_library(log, raw, msg)
    if msg in _DISCOVERY_MESSAGES or msg.startswith(("Unable to load cudart", "Discovered GPU")) or "error=" in raw \
            or "memory" in msg:
        handled = _discovery_line(log, raw, msg)
        if handled is not None:
            return handled
    if msg.startswith("CUDA Compute Capability detected"):
        match = _COMPUTE_DETECTED.search(raw)
        if match:
            log.extras["compute_capability"] = match.group(1)
            return True
        return False
    if msg.startswith("Loading Dynamic llm server"):
        match = _ASSET_VERSION.search(raw)
        if match:
            log.extras["library"] = match.group(2)
            if log.version is None:
                log.version = match.group(1)
            return True
        return False
    return False


_INFERENCE_CACHE: Dict[str, Any] = {}


def _inference_compute(log: OllamaLog, raw: str) -> bool:
    fields = _fields(raw)
    gpu_id = fields.get("id", "")
    if fields.get("library", "").lower() == "cpu" or gpu_id == "cpu":
        _event(log, "cpu_only", raw)
        return True
    # a server lists its GPUs at every start with only the time changed: what a line says is kept by its fields
    known = _INFERENCE_CACHE.get(id(fields))
    if known is None or known[0] is not fields:
        if len(_INFERENCE_CACHE) >= 1024:
            _INFERENCE_CACHE.clear()
        details = {key: fields[key] for key in ("id", "library", "variant", "compute", "driver", "name", "description",
                                                "pci_id", "total", "available") if key in fields}
        gpu = OllamaLogGpu(
            gpu_id=gpu_id, library=fields.get("library", ""), name=fields.get("description") or fields.get("name", ""),
            compute_capability=fields.get("compute", ""), total_bytes=parse_size(fields.get("total", "")),
            available_bytes=parse_size(fields["available"]) if fields.get("available") else UNKNOWN_BYTES,
        )
        known = (fields, details, gpu)
        if len(raw) <= _CACHED_TEXT_CHARS:
            _INFERENCE_CACHE[id(fields)] = known
    _, details, gpu = known
    log.gpu_details[gpu_id] = {**details, **log.gpu_details.get(gpu_id, {})}
    # each server start lists its GPUs again: keep one entry per GPU, as the latest start saw it
    position = next((i for i, seen in enumerate(log.gpus) if seen.gpu_id == gpu_id and gpu_id), None)
    if position is None:
        log.gpus.append(gpu)
    else:
        log.gpus[position] = gpu
    return True


def _runner_started(log: OllamaLog, raw: str) -> bool:
    _runner_command(log, raw)
    return True


def _listening(log: OllamaLog, raw: str) -> bool:
    match = _VERSION.search(raw)
    if match:
        log.extras["listen"], log.version = match.group(1), match.group(2)
        return True
    return False


def _flash_attention(log: OllamaLog, raw: str) -> bool:
    if log.loads:
        log.loads[-1]["flash_attention"] = True
    return True


def _cuda_memory_update(log: OllamaLog, raw: str) -> bool:
    fields = _fields(raw)
    gpu_id = fields.get("gpu", "")
    if gpu_id:
        known = log.gpu_details.setdefault(gpu_id, {"id": gpu_id})
        known.setdefault("name", fields.get("name", ""))
        known.setdefault("total", fields.get("now.total", fields.get("before.total", "")))
        known.setdefault("free", fields.get("now.free", fields.get("before.free", "")))
        return True
    return False


def _system(log: OllamaLog, raw: str) -> bool:
    if "CUDA." not in raw:
        return False
    log.extras["cuda_backend_count"] = len(set(_CUDA_BACKEND.findall(raw)))
    return True


def _system_memory(log: OllamaLog, raw: str) -> bool:
    fields = _fields(raw)
    log.extras["system_memory"] = {key: fields[key] for key in ("total", "free", "free_swap") if key in fields}
    return True


def _runner_library(log: OllamaLog, raw: str, msg: str) -> bool:
    match = _PATH_FIELD.search(raw)
    if not match:
        return False
    name = match.group(1).rstrip("/").rsplit("/", 1)[-1]
    if msg == "adding gpu library":
        log.extras["gpu_library"] = name
    elif name not in log.extras.setdefault("available_runners", []):
        log.extras["available_runners"].append(name)
    return True


# messages claimed before a line's `gpu_count=` is looked at, and those after it
_FIRST_HANDLERS = {
    "inference compute": _inference_compute,
    "offload": lambda log, raw: _offload(log, raw),
    "starting llama server": _runner_started,
    "starting runner": _runner_started,
    "server config": lambda log, raw: _server_config(log, raw),
    "enabling flash attention": _flash_attention,
    "updating cuda memory data": _cuda_memory_update,
}
_LATER_HANDLERS = {
    "system": _system,
    "system memory": _system_memory,
    "adding gpu library": lambda log, raw: _runner_library(log, raw, "adding gpu library"),
}
_LATER_PREFIXES = ("availableServers", "Unable to load cudart", "Discovered GPU", "CUDA Compute Capability detected",
                   "Loading Dynamic llm server")


# messages about GPU discovery, its failures and memory (beside those carrying an error= field)
_DISCOVERY_MESSAGES = frozenset({"gpu memory", "loading model", "discovered GPU libraries", "detected GPUs",
                                 "unable to load cuda driver library", "Unable to load nvcuda", "compatible gpu libraries",
                                 "no compatible GPUs were discovered"})


def _discovery_line(log: OllamaLog, raw: str, msg: str) -> Optional[bool]:
    """GPU discovery, its failures and the memory Ollama saw; None when the line is none of them."""
    if msg == "gpu memory":  # 0.12+: free memory of each GPU when a model is loaded
        fields = _fields(raw)
        gpu_id = fields.get("id", "")
        if gpu_id and "free" in fields:
            log.gpu_details.setdefault(gpu_id, {"id": gpu_id})["free"] = fields["free"]
            return True
        return False
    if msg.endswith(" available memory") and " devices with " in msg:  # 0.1.2x CheckVRAM (OLLAMA_DEBUG)
        match = _VRAM_AVAILABLE.fullmatch(msg)
        if match:
            log.extras["_vram_available"] = (int(match.group(1)), int(match.group(2)))
            return True
        return False
    if msg == "loading model":
        match = _MODEL_LAYERS.search(raw)
        if match:
            _current(log, "layers_model")["layers_model"] = int(match.group(1))
            return True
        return False
    if msg in ("discovered GPU libraries", "detected GPUs") or msg.startswith("Discovered GPU libraries"):
        if msg == "detected GPUs":
            count = _fields(raw).get("count", "")
            if count.isdigit():
                log.extras["device_count"] = int(count)
        return _libraries(log, raw)
    if "init failure" in msg or msg in ("unable to load cuda driver library", "Unable to load nvcuda") \
            or "cuInit failed: " in raw:
        _event(log, "cuda_init_failed", raw)
        _libraries(log, raw)
        return True
    if msg == "compatible gpu libraries":  # 0.11: no GPU runner library fits: the model runs on the CPU
        if "compatible=[]" in raw:
            _event(log, "no_compatible_gpus", raw)
        return True
    if msg == "no compatible GPUs were discovered":
        _event(log, "no_compatible_gpus", raw)
        return True
    if "out of memory" in raw:
        return _out_of_memory(log, raw)
    return None


def _offload(log: OllamaLog, raw: str) -> bool:
    fields = _fields(raw)
    if "layers.model" not in fields:
        return False
    load: Dict[str, Any] = {}
    if len(log.loads) >= _MAX_LOADS:
        del log.loads[: _MAX_LOADS // 2]
    log.loads.append(load)
    for key, name in (("layers.requested", "layers_requested"), ("layers.model", "layers_model"),
                      ("layers.offload", "layers_offload")):
        if key in fields:
            load[name] = _int(fields[key])
    load["layers_split"] = fields.get("layers.split", "")
    for key, name in (("memory.available", "memory_available"),
                      ("memory.required.allocations", "memory_required_allocations")):
        if key in fields:
            load[name] = _size_list(fields[key])
    for key, name in (("memory.required.full", "memory_required_full"),
                      ("memory.required.partial", "memory_required_partial"), ("library", "library")):
        if key in fields:
            load[name] = fields[key]
    return True


def _server_config(log: OllamaLog, raw: str) -> bool:
    body = _server_config_body(raw)
    if body is None:
        return False
    if body != log.extras.get("_server_config_body"):  # a restart logs the same line again: read it once
        entries = _CONFIG_CACHE.get(body)
        if entries is None:  # a log of several servers or restarts repeats a few bodies, each ~2 KB to split
            entries = _config_entries(body)
            if len(body) <= _CACHED_TEXT_CHARS:
                if len(_CONFIG_CACHE) >= 64:
                    _CONFIG_CACHE.clear()
                _CONFIG_CACHE[body] = entries
        log.server_config = dict(entries)
        log.extras["_server_config_body"] = body
    return True


_CONFIG_CACHE: Dict[str, Dict[str, str]] = {}


def _server_config_body(raw: str) -> Optional[str]:
    """What `server config env="map[...]"` (0.5+: `msg="server config" env=...`) holds, up to the line's
    last `]` (the values may hold `]`). String operations, not a regex: a line repeating the marker is
    read once, not once per copy."""
    for marker in ("server config env=", 'server config" env='):
        start = raw.find(marker)
        if start >= 0:
            break
    else:
        return None
    rest = raw[start + len(marker):].rstrip()
    rest = rest[1:] if rest.startswith('"') else rest
    rest = rest[:-1] if rest.endswith('"') else rest
    if not rest.startswith("map[") or not rest.endswith("]"):
        return None
    return rest[len("map["):-1]


_FLAGS_CACHE: Dict[str, Dict[str, str]] = {}


def _runner_command(log: OllamaLog, raw: str) -> None:
    at = raw.find('cmd="')
    command = raw[at + 5:] if at >= 0 else raw
    flags = _FLAGS_CACHE.get(command)
    if flags is None:
        flags = {name: value or "" for name, value in _FLAG.findall(command)}
        if len(command) <= _CACHED_TEXT_CHARS:
            if len(_FLAGS_CACHE) >= 256:
                _FLAGS_CACHE.clear()
            _FLAGS_CACHE[command] = flags
    load = log.loads[-1] if log.loads and "n_gpu_layers" not in log.loads[-1] \
        and "ctx_size" not in log.loads[-1] else None
    if load is None:
        load = {}
        log.loads.append(load)
    for flag, name in (("n-gpu-layers", "n_gpu_layers"), ("ctx-size", "ctx_size"), ("parallel", "parallel")):
        if flags.get(flag, "").lstrip("-").isdigit():
            load[name] = int(flags[flag])
    if "tensor-split" in flags:
        load["tensor_split"] = flags["tensor-split"]
    if "flash-attn" in flags:
        load["flash_attention"] = True
    if "ollama-engine" in flags:
        load["engine"] = "ollama-engine"
    if flags.get("model"):
        load["model"] = flags["model"].rsplit("/", 1)[-1]
    runner = _RUNNER_PATH.search(command)
    if runner:
        load["runner"] = log.extras["runner"] = runner.group(1)


def _current(log: OllamaLog, unless: Optional[str]) -> Dict[str, Any]:
    """The load the runner lines belong to: the latest, or a new one when it already has `unless`."""
    if not log.loads or (unless is not None and unless in log.loads[-1]):
        log.loads.append({})
    return log.loads[-1]


def _iso_date(line: str) -> str:
    """The `time=2025-02-19T04:43:53.194Z` of a slog line as "2025-02-19T04:43:53", "" when it has no real one."""
    at = line.find("time=")
    stamp = line[at + 5:at + 24] if at >= 0 else ""
    try:
        return datetime.datetime.fromisoformat(stamp).isoformat() if len(stamp) == 19 and stamp[10] == "T" else ""
    except ValueError:
        return ""


def _legacy_bytes(text: str) -> int:
    """"80994 mb" (0.1.3x-0.2) -> bytes; "2147483648" (0.1.2x printed bytes) -> bytes; 0 when absent."""
    if text.endswith(" mb"):
        return int(text[:-3]) << 20
    return int(text) if text.isdigit() else 0


def _total_bytes(details: Dict[str, str]) -> int:
    return _legacy_bytes(details.get("totalMem", "")) or parse_size(details.get("total", ""))


def _free_bytes(details: Dict[str, str], used_mem_is_free: Optional[bool] = False) -> int:
    """The free memory the log shows for one GPU; UNKNOWN_BYTES when it shows none, or only a `usedMem`
    whose meaning the log does not settle (see _used_mem_is_free)."""
    if "freeMem" in details:
        return _legacy_bytes(details["freeMem"])
    if "usedMem" in details and _total_bytes(details):
        if used_mem_is_free is None:
            return UNKNOWN_BYTES
        if used_mem_is_free:
            return _legacy_bytes(details["usedMem"])
        return max(_total_bytes(details) - _legacy_bytes(details["usedMem"]), 0)
    size = details.get("available", details.get("free", ""))
    return parse_size(size) if size else UNKNOWN_BYTES


# 0.1.21 to 0.1.27 printed NVML's *free* memory under the label usedMem (gpu/gpu_info_cuda.c:
# `LOG(h.verbose, "[%d] CUDA usedMem %ld\n", i, memInfo.free)`); 0.1.28 printed the used memory there
# (ollama/ollama fa2f2b3, "fix: print usedMemory size right (#2827)"), and 0.1.30 renamed the line freeMem.
_USED_MEM_PRINTS_FREE = ((0, 1, 21), (0, 1, 27))


def _used_mem_is_free(log: "OllamaLog", cuda: List[Dict[str, str]]) -> Optional[bool]:
    """Whether this log's `usedMem` lines hold free memory: from the release when the log names it, else from
    the log's own CheckVRAM line (the free memory Ollama itself sized loads by, less its reserve), else None."""
    release = tuple(int(part) for part in re.findall(r"\d+", log.version or "")[:3])
    if len(release) == 3:
        return _USED_MEM_PRINTS_FREE[0] <= release <= _USED_MEM_PRINTS_FREE[1]
    vram = log.extras.get("_vram_available")
    readings = [details for details in cuda if "usedMem" in details and _total_bytes(details)]
    if vram is None or not readings or len(readings) != vram[0]:
        return None
    devices, available_mib = vram

    def available(free: int) -> int:  # CheckVRAM's own arithmetic (gpu/gpu.go, 0.1.2x); Go's / truncates
        reserve = max(free // 10, devices << 30)
        return int((free - reserve) / (1 << 20))

    as_free = available(sum(_legacy_bytes(details["usedMem"]) for details in readings))
    as_used = available(sum(max(_total_bytes(details) - _legacy_bytes(details["usedMem"]), 0) for details in readings))
    if abs(as_free - available_mib) <= 1 < abs(as_used - available_mib):
        return True
    if abs(as_used - available_mib) <= 1 < abs(as_free - available_mib):
        return False
    return None


def _finish(log: OllamaLog) -> None:
    log.extras.pop("_server_config_body", None)
    log.extras.pop("_event_keys", None)
    versions = log.extras.pop("_library_versions", set())
    if len(versions) == 1 and "driver_version" not in log.extras:
        log.extras["driver_version"] = versions.pop()
    cuda = [details for details in log.gpu_details.values() if details.get("library", "cuda").lower() == "cuda"]
    if len(cuda) == 1 and "compute" not in cuda[0] and "compute_capability" in log.extras:
        cuda[0]["compute"] = log.extras["compute_capability"]  # 0.1.2x logs it once, apart from the GPU's lines
    listed = {gpu.gpu_id for gpu in log.gpus}
    used_mem_is_free = _used_mem_is_free(log, cuda)
    log.extras.pop("_vram_available", None)
    for gpu_id, details in log.gpu_details.items():  # GPUs only a debug trace or an older release lists
        if gpu_id not in listed and gpu_id and _total_bytes(details):
            log.gpus.append(OllamaLogGpu(gpu_id=gpu_id, library="cuda", name=details.get("name", ""),
                                         compute_capability=details.get("compute", ""),
                                         total_bytes=_total_bytes(details),
                                         available_bytes=_free_bytes(details, used_mem_is_free)))
    offloads = []  # the latest loads only, built from the end: a busy log keeps thousands of loads
    for load in reversed(log.loads):
        if len(offloads) >= MAX_OFFLOADS_KEPT:
            break
        total = load.get("layers_model", load.get("layers_total"))
        on_gpu = load.get("layers_offload", load.get("layers_offloaded"))
        if total is None or on_gpu is None:
            continue
        split = str(load.get("layers_split", ""))
        offloads.append(OllamaLogOffload(
            model=str(load.get("model", "")), layers_total=total, layers_on_gpu=on_gpu,
            layers_split=tuple(int(part) for part in split.split(",") if part.strip().isdigit()),
            tensor_split=str(load.get("tensor_split", "")),
            memory_required_bytes=parse_size(str(load.get("memory_required_full", ""))),
        ))
    log.offloads = offloads[::-1]
    buffers = next((load["buffers_mib"] for load in reversed(log.loads) if "buffers_mib" in load), None)
    if buffers:
        log.extras["cuda_devices_used"] = [name for name in buffers if name.startswith("CUDA") and name[4:].isdigit()]
    if log.gpu_count is not None:
        log.extras.setdefault("gpu_count", log.gpu_count)


def _config_entries(body: str) -> Dict[str, str]:
    """"A:1 B: C:http://x:1 D:[a b]" -> {"A": "1", "B": "", "C": "http://x:1", "D": "[a b]"}."""
    keys = list(_CONFIG_KEY.finditer(body))
    entries = {}
    for position, key in enumerate(keys):
        end = keys[position + 1].start() if position + 1 < len(keys) else len(body)
        entries[key.group(1)] = body[key.end():end].strip()
    return entries


_FIELDS_CACHE: Dict[str, Dict[str, str]] = {}


def _fields(line: str) -> Dict[str, str]:
    """The logfmt fields from msg= on. A server logs the same discovery and offload lines again and again
    (each model load, each GPU refresh) with only the time changed, so answers are kept for the text after
    the time; callers never change the dict they get."""
    tail = line[line.find("msg="):]
    found = _FIELDS_CACHE.get(tail)
    if found is None:
        found = _parse_fields(tail)
        if len(tail) <= _CACHED_TEXT_CHARS:
            if len(_FIELDS_CACHE) >= 1024:
                _FIELDS_CACHE.clear()
            _FIELDS_CACHE[tail] = found
    return found


def _parse_fields(line: str) -> Dict[str, str]:
    """logfmt `key=value key="quoted value"` pairs. Splitting on quotes is several times faster than a
    regular expression on the long offload lines; a line with escaped quotes takes the exact path."""
    if '\\"' in line:
        return {key: value[1:-1] if value.startswith('"') else value for key, value in _LOGFMT.findall(line)}
    fields: Dict[str, str] = {}
    parts = line.rstrip("\r\n").split('"')
    for position in range(0, len(parts), 2):
        words = parts[position].split(" ")
        for word in words[:-1]:
            key, equals, value = word.partition("=")
            if equals and key:
                fields[key] = value
        last = words[-1]
        key, equals, value = last.partition("=")
        if equals and key:
            if not value and position + 1 < len(parts):
                fields[key] = parts[position + 1]  # key="quoted value"
            else:
                fields[key] = value
    return fields


def _size_list(text: str) -> List[str]:
    """"[22.0 GiB 22.0 GiB]" -> ["22.0 GiB", "22.0 GiB"]."""
    return _SIZE_IN_LIST.findall(text)


_SIZE_IN_LIST = re.compile(r"(?<![\d.])[\d.]+ [KMGT]?i?B")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
