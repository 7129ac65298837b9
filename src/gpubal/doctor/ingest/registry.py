"""Which formats a dump holds, recognised from its content (never from its file name), and the one
streaming pass that runs their parsers.

Each format has a detector: a test on the first 64 KiB of text. A dump can hold several formats (a
bug report, collect_env with its topology, a topo -m paste followed by a p2p matrix); every detected
parser reads the same lines in one pass, so a 200 MB file is read once, line by line.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, List, Tuple

from ...model import record
from .bug_report import BugReportParser
from .collect_env import CollectEnvParser
from .kernel_log import KernelLogParser
from .common import Parser, clean, unquote
from .nvlink_status import NvlinkStatusParser
from .ollama_log import OllamaLogParser
from .smi_list import SmiListParser
from .smi_query import SmiQueryParser
from .smi_table import SmiTableParser
from .smi_xml import SmiXmlParser
from .topo import TopologyParser

HEAD_BYTES = 64 * 1024


@record
class Format:
    name: str  # what the user is told: "nvidia-smi -q", "Ollama log"
    detect: Callable[[str], bool]  # on the cleaned head of the dump
    parser: Callable[[], Parser]


# Patterns run on a head of up to 64 KiB that anyone can write: whitespace at a line start is [ \t], never
# \s, which would run across blank lines and make a head of newlines take minutes (quadratic).
def _search(pattern: str, flags: int = re.MULTILINE) -> Callable[[str], bool]:
    compiled = re.compile(pattern, flags)
    return lambda head: compiled.search(head) is not None


_OLLAMA = re.compile(
    r'msg="?(?:inference compute|offload|starting llama server|starting runner|Listening on|system memory|'
    r'updating cuda memory data|looking for compatible GPUs|CUDA Compute Capability|Loading Dynamic llm server|'
    r'availableServers|enabling flash attention|waiting for)|server config env=|\] routes\.go|'
    r'^(?:\S.*?: )?load_tensors: |^(?:\S.*?: )?llama_context: |ollama\[\d+\]: |load_backend: loaded CUDA backend|'
    r'^[ \t]*(?:\S.{0,200}?: [ \t]*)?Device \d+: .{0,300}, compute capability|^CUDA driver version: |'
    r'level=(?:DEBUG|INFO|WARN|ERROR) source=[\w./-]+\.go:\d+ msg=|cuInit err: |ggml_init_cublas: |'
    r'msg="?(?:unable to load cuda driver library|Unable to load cudart library|no compatible GPUs were discovered)',
    re.MULTILINE)

FORMATS: Tuple[Format, ...] = (
    Format("nvidia-smi -q -x", _search(r"<nvidia_smi_log\b|<!DOCTYPE nvidia_smi_log"), SmiXmlParser),
    Format("nvidia-smi -q", _search(r"=+NVSMI LOG=+|^Attached GPUs[ \t]+:|^GPU [0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:"
                                    r"[0-9A-Fa-f]{2}\.[0-7][ \t]*$\n[ \t]+Product Name|"
                                    # a grep excerpt: an indented section of -q with its aligned `Key   : value`
                                    r"^( {4,})(?:Fabric|ECC Errors|Ecc Mode|ECC Mode|Clocks (?:Event|Throttle) Reasons|"
                                    r"Remapped Rows|Retired Pages|FB Memory Usage|MIG Mode|GPU Link Info|PCI)[ \t]*\n"
                                    r"\1 {2,}\S(?:.*?[^ ])? {2,}: "), SmiQueryParser),
    Format("nvidia-smi", _search(r"NVIDIA-SMI \S+[ \t]+(?:Driver|KMD) Version:|^\|[ \t]*\d+[ \t]+.+\|[ \t]*[0-9A-Fa-f]{4,8}:"
                                 r"[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]|^[ \t]*Failed to initialize NVML: |"
                                 r"^[ \t]*NVML library version: |^[ \t]*NVIDIA-SMI has failed because it couldn.t communicate"),
           SmiTableParser),
    Format("nvidia-smi -L", _search(r"^[ \t]*GPU \d+: .+ \(UUID: [^)]{0,100}\)[ \t]*$"), SmiListParser),
    Format("nvidia-smi nvlink -s", _search(r"^[ \t]*Link \d+: (?:[\d.]+ [GM]B/s|<inactive>)"), NvlinkStatusParser),
    Format("nvidia-smi topo", _search(r"^[ \t]*GPU0(?:[ \t]+(?:GPU1|NIC0|mlx\w+|CPU Affinity)\b|[ \t]*$)|"
                                      r"^[ \t]*GPU\d+(?:[ \t]+(?:NV\d+|PIX|PXB|PHB|NODE|SYS|SOC))*[ \t]+X\s"),
           TopologyParser),
    Format("collect_env", _search(r"^PyTorch version: |^vLLM Version\s*:|^Collecting environment information"),
           CollectEnvParser),
    Format("nvidia-bug-report.log", _search(r"nvidia-bug-report\.sh|Start of NVIDIA bug report log file|"
                                            r"^NVRM version: NVIDIA "), BugReportParser),
    Format("Ollama log", lambda head: _OLLAMA.search(head) is not None, OllamaLogParser),
    Format("kernel log", _search(r"NVRM: Xid \((?:PCI:)?[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}"), KernelLogParser),
)

NAMES = tuple(fmt.name for fmt in FORMATS)


def detect(head: str) -> List[Format]:
    """The formats whose marks are in this head of a dump (already decoded text)."""
    text = "\n".join(unquote(clean(line)) for line in head.splitlines())
    found = [fmt for fmt in FORMATS if fmt.detect(text)]
    names = {fmt.name for fmt in found}
    if "nvidia-bug-report.log" in names:
        # a bug report concatenates these outputs; the head shows only the first of them
        extra = [fmt for fmt in FORMATS if fmt.name in ("nvidia-smi", "nvidia-smi -q", "nvidia-smi -q -x",
                                                        "nvidia-smi topo", "nvidia-smi nvlink -s", "kernel log")]
        found += [fmt for fmt in extra if fmt.name not in names]
    return found


def run_parsers(formats: Iterable[Format], chunks: Iterable[List[str]]) -> list:
    """Every parser over the same lines, given a read (a list of lines) at a time."""
    parsers = [fmt.parser() for fmt in formats]
    if len(parsers) == 1:  # the common case, and the 200 MB log's: the parser loops over each read itself
        parser = parsers[0]
        for lines in chunks:
            parser.feed_lines(lines)
            if parser.refused:
                break
    else:
        feeds = [parser.feed for parser in parsers]
        number = 0
        for lines in chunks:
            for line in lines:
                for feed in feeds:
                    feed(line)
                if not number & 1023 and any(parser.refused for parser in parsers):
                    return [parser.finish() for parser in parsers]
                number += 1
    return [parser.finish() for parser in parsers]
