"""The console script's entry point. For `gpubal doctor` and `gpubal collect` on the live host it starts
collecting facts in a background thread *before* importing the command-line machinery (typer, rich, the
rules): NVML calls release the GIL and wait on the GPU for milliseconds, so that wait overlaps with the
imports instead of adding to them. The collection is handed to the command that asked for it.

`gpubal doctor` and `gpubal topo` with plain options (gpubal.plain_argv) do not build the typer app at
all: they run the same command body with the same options. Everything else goes to the typer command
line."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Callable, List, Optional

if TYPE_CHECKING:
    from .common.background import Background

_EARLY_COMMANDS = ("doctor", "collect", "topo")
# Options that mean "not this host's live facts": the early collection would be wasted.
_NOT_LIVE = ("--snapshot", "-s", "--nvml-profile", "--root", "--ollama-log", "--lspci", "--from", "--help", "-h")


def collects_live(argv: List[str]) -> bool:
    """Whether the command line asks for this host's live facts (doctor, topo or collect, no source given)."""
    return bool(argv) and argv[0] in _EARLY_COMMANDS and not any(
        arg.split("=", 1)[0] in _NOT_LIVE for arg in argv[1:])


def start_early_collection(argv: List[str]) -> Optional["Background"]:
    if not collects_live(argv):
        return None
    from .common.background import Background
    from .doctor.probes.nvml_start import EarlyNvmlStart

    # first of all: nvmlInit's wait in the driver then overlaps the imports below and the collection's own
    nvml_start = EarlyNvmlStart()

    def collect():
        from .doctor.live import collect_live

        return collect_live(ask_ollama=argv[0] != "topo", nvml_start=nvml_start)  # topo needs no Ollama facts

    # a daemon: an NVML call hung past the collection's deadline must not keep Python from leaving
    return Background(collect, name="gpubal-early-collect", daemon=True)


def main(argv: Optional[List[str]] = None, fast: bool = True) -> None:
    whole_process = argv is None  # the console script or `python -m gpubal`, not a caller in a process of its own
    argv = sys.argv[1:] if argv is None else argv
    if whole_process and collects_live(argv):
        # A live doctor, topo or collect lives a fraction of a second, makes almost no reference cycles and
        # peaks near 20 MiB; the cyclic collector's ~35 passes over the objects of freshly imported modules
        # were ~6% of its CPU. Memory is freed by reference counting as before; the process ends soon.
        import gc

        gc.disable()
    early = start_early_collection(argv)
    try:
        if fast:
            from .plain_argv import plain_command

            command = plain_command(argv)
            if command is not None:
                run_guarded(lambda: _as_typer_would(lambda: command(early)))
                return
        from . import cli

        cli.main(early, argv)
    except SystemExit as leaving:
        if whole_process and argv and argv[0] in _EARLY_COMMANDS:
            _leave_now(leaving.code)
        raise


def _leave_now(code) -> None:
    """End the process once doctor, topo or collect is done, without the interpreter's clean-up: tearing
    down some 200 modules took ~20 ms, a tenth of a doctor run, for nothing these commands need. Every file
    they write is closed by then (output_file.py), no atexit handler is registered and their threads are
    daemons; standard output and error are flushed here."""
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): said on standard error, exit status 1
        sys.stderr.write(f"{code}\n")
        code = 1
    _flush_and_exit(code)


def _flush_and_exit(code: int) -> None:
    """Standard output and error flushed, then the process ended at once with `code` (1 where a flush
    fails and `code` said success)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader gone (EPIPE) or a stream closed: nothing more to say
            code = code or 1
    os._exit(code)


def _as_typer_would(run: Callable[[], int]) -> None:
    """What the typer command line does around a command: bad input is one line and exit 2, Ctrl-C exit
    130, end of input "Aborted!" and 1, a closed pipe exit 1."""
    import errno

    from .outputs import EXIT_BAD_INPUT
    from .sources import InputError, say

    try:
        code = run()
    except InputError as error:
        say(str(error))
        code = EXIT_BAD_INPUT
    except KeyboardInterrupt:
        code = 130
    except EOFError:
        sys.stderr.write("\nAborted!\n")
        code = 1
    except OSError as error:
        if error.errno != errno.EPIPE:
            raise
        sys.stdout, sys.stderr = _QuietFlush(sys.stdout), _QuietFlush(sys.stderr)
        code = 1
    sys.exit(code)


class _QuietFlush:
    """A stream whose reader has gone: flushing it at exit says nothing (click's PacifyFlushWrapper)."""

    def __init__(self, wrapped) -> None:
        self.wrapped = wrapped

    def flush(self) -> None:
        try:
            self.wrapped.flush()
        except OSError as error:
            import errno

            if error.errno != errno.EPIPE:
                raise

    def __getattr__(self, name: str):
        return getattr(self.wrapped, name)


def run_guarded(run: Callable[[], None]) -> None:
    """Run a command: an interrupt, a hung NVML thread or a bug in gpubal ends it with one line, not a
    traceback (GPUBAL_TRACEBACK=1 shows it)."""
    from .outputs import EXIT_INTERNAL
    from .sources import say

    try:
        run()
    except KeyboardInterrupt:
        say("interrupted")
        sys.exit(130)
    except SystemExit as leaving:
        _leave_now_if_nvml_hung(leaving.code)
        raise
    except Exception as error:  # noqa: BLE001 - last resort: one line, not a traceback
        say(f"internal error: {type(error).__name__}: {error} (this is a bug; set GPUBAL_TRACEBACK=1 to see where)")
        if os.environ.get("GPUBAL_TRACEBACK"):
            raise
        sys.exit(EXIT_INTERNAL)


def _leave_now_if_nvml_hung(code) -> None:
    """An NVML call abandoned past its deadline still holds its thread, which Python would wait for at
    exit forever; once the report is out, leave without waiting."""
    collect = sys.modules.get("gpubal.doctor.collect")  # not imported: no NVML call was made
    if collect is not None and collect.abandoned_threads.is_set():
        from .outputs import EXIT_INTERNAL

        _flush_and_exit(code if isinstance(code, int) else EXIT_INTERNAL)
