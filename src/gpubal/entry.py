"""The console script's entry point. For `gpubal doctor` and `gpubal collect` on the live host it starts
collecting facts in a background thread *before* importing the command-line machinery (typer, rich, the
rules): NVML calls release the GIL and wait on the GPU for milliseconds, so that wait overlaps with the
imports instead of adding to them. Everything else goes straight to the CLI."""

from __future__ import annotations

import sys
from concurrent.futures import Future
from typing import List, Optional

_EARLY_COMMANDS = ("doctor", "collect", "topo")
# Options that mean "not this host's live facts": the early collection would be wasted.
_NOT_LIVE = ("--snapshot", "-s", "--nvml-profile", "--root", "--ollama-log", "--help", "-h")


def start_early_collection(argv: List[str]) -> Optional["Future"]:
    if not argv or argv[0] not in _EARLY_COMMANDS:
        return None
    if any(arg.split("=", 1)[0] in _NOT_LIVE for arg in argv[1:]):
        return None
    import threading

    future: Future = Future()

    def collect() -> None:
        try:
            from .doctor.live import collect_live

            future.set_result(collect_live(ask_ollama=argv[0] != "topo"))  # topo needs no Ollama facts
        except BaseException as error:  # noqa: BLE001 - handed to the CLI, which reports it
            future.set_exception(error)

    threading.Thread(target=collect, name="gpubal-early-collect", daemon=True).start()
    return future


def main() -> None:
    early = start_early_collection(sys.argv[1:])
    from . import cli

    cli.EARLY_COLLECTION = early
    cli.main()
