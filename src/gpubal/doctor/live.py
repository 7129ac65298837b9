"""The live host, wired up: the real NVML adapter, files under /, the process environment, this
Python's package directories, real programs and HTTP. The CLI and the early collection both use it."""

from __future__ import annotations

import os
import site
import sys
from typing import TYPE_CHECKING, List, Optional

from ..model import Snapshot

if TYPE_CHECKING:
    from .probes.nvml_start import EarlyNvmlStart


def python_site_dirs() -> List[str]:
    """site-packages of the Python running gpubal; other environments are found by the stack collector."""
    candidates = list(getattr(site, "getsitepackages", lambda: [])())
    user_site = getattr(site, "getusersitepackages", lambda: "")()
    candidates += [user_site] + [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    unique: List[str] = []
    for path in candidates:
        if path and os.path.isdir(path) and path not in unique:
            unique.append(path)
    return unique


def collect_live(root: str = "/", ollama_log: Optional[str] = None, ask_ollama: bool = True,
                 lspci: Optional[str] = None, nvml_start: Optional["EarlyNvmlStart"] = None) -> Snapshot:
    """This host's facts. `ask_ollama=False` (gpubal topo) runs no program and asks no server: only
    GPUs, links and NUMA are needed. Under a --root other than /, nothing is run or asked either: a
    program found in the tree would run from this host, and a server on this host is not the tree's.
    `lspci`: `lspci -vvv` output the user gave, read instead of running lspci. `nvml_start`: nvmlInit
    already begun (gpubal.entry), taken over by the collection."""
    from .collect import collect_snapshot
    from .probes.commands import run_command
    from .probes.files import HostFiles
    from .probes.http import get_json
    from .probes.nvml import PynvmlAdapter

    run, get = run_command, get_json
    if os.path.realpath(root) != "/":
        run, get = not_run(f"not run: --root {root} is read as files; no program in it runs from this host"), \
            not_asked(f"not asked: under --root {root}, a server on this host is not the tree's")
    elif not ask_ollama:
        run, get = not_run("not run: this command needs no Ollama facts"), \
            not_asked("not asked: this command needs no Ollama facts")
    return collect_snapshot(PynvmlAdapter(nvml_start), HostFiles(root), origin="live", environment=dict(os.environ),
                            site_dirs=python_site_dirs(), run=run, get=get, ollama_log=ollama_log,
                            lspci=lspci)


def not_run(why: str):
    from ..model import Reason, Unavailable

    return lambda argv, timeout_s: Unavailable(Reason.NOT_IN_INPUT, " ".join(argv), why)


def not_asked(why: str):
    from ..model import Reason, Unavailable

    return lambda url, timeout_s: Unavailable(Reason.NOT_IN_INPUT, url, why)
