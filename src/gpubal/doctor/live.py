"""The live host, wired up: the real NVML adapter, files under /, the process environment, this
Python's package directories, real programs and HTTP. The CLI and the early collection both use it."""

from __future__ import annotations

import os
import site
import sys
from typing import List, Optional

from .model import Snapshot


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


def collect_live(root: str = "/", ollama_log: Optional[str] = None) -> Snapshot:
    from .collect import collect_snapshot
    from .probes.commands import run_command
    from .probes.files import HostFiles
    from .probes.http import get_json
    from .probes.nvml import PynvmlAdapter

    return collect_snapshot(PynvmlAdapter(), HostFiles(root), origin="live", environment=dict(os.environ),
                            site_dirs=python_site_dirs(), run=run_command, get=get_json, ollama_log=ollama_log)
