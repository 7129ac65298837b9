"""Ollama server logs into facts: the version, the `server config` line (the environment Ollama saw),
the GPUs it discovered (`inference compute`), and how each model load was split across GPUs and CPU.

The format changed across releases: older servers log `msg="offload to cuda"`, newer ones `msg=offload`;
the runner logs llama.cpp's `offloaded N/M layers to GPU`. Lines may carry a journald prefix
(`May 12 12:07:07 host ollama[1234]: `). The parser reads line by line and never holds the whole log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

from ..model import OllamaLogGpu, OllamaLogOffload

_JOURNALD_PREFIX = re.compile(r"^[A-Z][a-z]{2} +\d+ [\d:]+ \S+ [\w.-]+\[\d+\]: ")
_LOGFMT = re.compile(r'([A-Za-z_][\w.]*)=("(?:[^"\\]|\\.)*"|\S*)')
_SERVER_CONFIG = re.compile(r'server config env="?map\[(.*?)\]"?\s*$')
_CONFIG_ENTRY = re.compile(r"([A-Z][A-Z0-9_]*):(.*?)(?= [A-Z][A-Z0-9_]*:|$)")
_VERSION = re.compile(r"Listening on \S+ \(version ([\w.+-]+)\)")
_OFFLOADED = re.compile(r"offloaded (\d+)/(\d+) layers to GPU")
_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "KB": 1000, "MB": 10 ** 6,
          "GB": 10 ** 9}


@dataclass
class OllamaLog:
    version: Optional[str] = None
    server_config: Optional[Dict[str, str]] = None
    gpus: List[OllamaLogGpu] = field(default_factory=list)
    offloads: List[OllamaLogOffload] = field(default_factory=list)
    lines_read: int = 0
    lines_recognised: int = 0


def parse_ollama_log(lines: Iterable[str]) -> OllamaLog:
    log = OllamaLog()
    for raw in lines:
        log.lines_read += 1
        line = _JOURNALD_PREFIX.sub("", raw.rstrip("\r\n"))
        if _read_line(log, line):
            log.lines_recognised += 1
    return log


def _read_line(log: OllamaLog, line: str) -> bool:
    if "server config" in line:
        match = _SERVER_CONFIG.search(line)
        if match:
            log.server_config = {key: value.strip() for key, value in _CONFIG_ENTRY.findall(match.group(1))}
            return True
    if "(version " in line:
        match = _VERSION.search(line)
        if match:
            log.version = match.group(1)
            return True
    if "inference compute" in line:
        fields = _fields(line)
        log.gpus.append(OllamaLogGpu(
            gpu_id=fields.get("id", ""), library=fields.get("library", ""), name=fields.get("name", ""),
            compute_capability=fields.get("compute", ""), total_bytes=parse_size(fields.get("total", "")),
            available_bytes=parse_size(fields.get("available", "")),
        ))
        return True
    if "msg=offload" in line or 'msg="offload to' in line:
        fields = _fields(line)
        if "layers.model" in fields:
            split = fields.get("layers.split", "")
            log.offloads.append(OllamaLogOffload(
                model="", layers_total=_int(fields["layers.model"]), layers_on_gpu=_int(fields.get("layers.offload", "0")),
                layers_split=tuple(int(part) for part in split.split(",") if part.strip().isdigit()),
                tensor_split="", memory_required_bytes=parse_size(fields.get("memory.required.full", "")),
            ))
            return True
    if "starting llama server" in line or "msg=\"starting runner\"" in line:
        if log.offloads:
            last = log.offloads[-1]
            tensor_split = re.search(r"--tensor-split (\S+?)\"?(?:\s|$)", line)
            model = re.search(r"--model (\S+)", line)
            log.offloads[-1] = OllamaLogOffload(
                model=model.group(1).rsplit("/", 1)[-1] if model else last.model,
                layers_total=last.layers_total, layers_on_gpu=last.layers_on_gpu, layers_split=last.layers_split,
                tensor_split=tensor_split.group(1) if tensor_split else last.tensor_split,
                memory_required_bytes=last.memory_required_bytes,
            )
        return True
    if "layers to GPU" in line:
        match = _OFFLOADED.search(line)
        if match:
            on_gpu, total = int(match.group(1)), int(match.group(2))
            last = log.offloads[-1] if log.offloads else None
            if last is None or (last.layers_on_gpu, last.layers_total) != (on_gpu, total):
                log.offloads.append(OllamaLogOffload("", total, on_gpu, (), "", 0))
            return True
    return False


def _fields(line: str) -> Dict[str, str]:
    return {key: value[1:-1] if value.startswith('"') else value for key, value in _LOGFMT.findall(line)}


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def parse_size(text: str) -> int:
    """"12.0 GiB" -> bytes; 0 for an empty or unreadable size."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]i?B|B)\s*", text)
    if not match:
        return 0
    return int(float(match.group(1)) * _UNITS[match.group(2)])
