"""The command line: options -> pipeline -> renderer -> exit code. Nothing else lives here."""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from . import __version__

EXIT_OK = 0
EXIT_FINDINGS = 1  # findings at or above --fail-on
EXIT_BAD_INPUT = 2  # bad option, unreadable snapshot or profile (typer's usage errors use 2 as well)
EXIT_INTERNAL = 3  # a bug in gpubal

# A live collection that gpubal.entry started before this module was imported (a Future), or None.
EARLY_COLLECTION = None

PLAIN_WIDTH = 100  # plain text (a file, a pipe, NO_COLOR) is laid out for 100 columns, as the goldens are

EXIT_CODES_HELP = (
    "Exit codes: 0 no finding at or above --fail-on; 1 findings at or above --fail-on; "
    "2 bad input (option, snapshot or profile file); 3 internal error."
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="A read-only doctor for multi-GPU Linux hosts. It reads the driver, NVML, PCIe, NVLink, NVSwitch, "
         "MIG and NUMA facts of this host, checks them with rules and prints findings with evidence and "
         "fixes. It never changes the host. " + EXIT_CODES_HELP,
)
debug_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Tools for gpubal's developers.")
app.add_typer(debug_app, name="debug")


class OutputFormat(str, enum.Enum):
    terminal = "terminal"
    json = "json"


class FailOn(str, enum.Enum):
    error = "error"
    warning = "warning"
    info = "info"
    never = "never"


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"gpubal {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="Print gpubal's version and exit."),
) -> None:
    pass


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> "typer.Exit":
    typer.echo(f"gpubal: {message}", err=True)
    return typer.Exit(code)


def _load_snapshot(path: Path):
    from .doctor.model import SnapshotError, snapshot_from_json

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise _fail(f"cannot read snapshot {path}: {error.strerror}")
    except UnicodeDecodeError:
        raise _fail(f"cannot read snapshot {path}: not UTF-8 text")
    try:
        return snapshot_from_json(text)
    except SnapshotError as error:
        raise _fail(f"{path}: {error}")


def _collect(nvml_profile: Optional[Path], root: str, ollama_log: Optional[Path] = None):
    """Live facts, or a replay of a recorded NVML profile over a recorded file tree. A replay runs no
    program, asks no server and reads no environment: it is the recording, not this machine."""
    from .doctor.collect import collect_snapshot
    from .doctor.live import collect_live
    from .doctor.probes.files import HostFiles
    from .doctor.probes.nvml import ProfileError, ReplayAdapter

    log = str(ollama_log) if ollama_log is not None else None
    if nvml_profile is None:
        if EARLY_COLLECTION is not None and root == "/" and log is None:
            return EARLY_COLLECTION.result()
        return collect_live(root, log)
    try:
        adapter = ReplayAdapter.from_file(str(nvml_profile))
        # a profile is read lazily: a bad answer deep inside surfaces while collecting
        return collect_snapshot(adapter, HostFiles(root), origin=f"nvml-profile:{nvml_profile.name}", ollama_log=log)
    except ProfileError as error:
        message = str(error)
        raise _fail(message if message.startswith(str(nvml_profile)) else f"{nvml_profile}: {message}")


def _write(text: str, output: Optional[Path]) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise _fail(f"cannot write {output}: {error.strerror}")


_SNAPSHOT_HELP = "Read facts from this snapshot (from `gpubal collect`, or a JSON report) instead of this host."
_PROFILE_HELP = "Replay NVML answers from this profile (from `gpubal debug record-nvml`) instead of the driver."
_OLLAMA_LOG_HELP = "Read the Ollama server's log from this file instead of `journalctl -u ollama`."
_ROOT_HELP = "Read host files (/proc, /sys, /etc) under this directory instead of /; for tests and recorded trees."


@app.command()
def doctor(
    snapshot: Optional[Path] = typer.Option(None, "--snapshot", "-s", help=_SNAPSHOT_HELP),
    output_format: OutputFormat = typer.Option(OutputFormat.terminal, "--format", "-f",
                                               help="terminal (colour on a TTY, plain text elsewhere) or json."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report to this file."),
    fail_on: FailOn = typer.Option(FailOn.error, "--fail-on",
                                   help="Exit 1 when a finding has at least this severity; never: always exit 0."),
    nvml_profile: Optional[Path] = typer.Option(None, "--nvml-profile", help=_PROFILE_HELP),
    root: str = typer.Option("/", "--root", help=_ROOT_HELP),
    ollama_log: Optional[Path] = typer.Option(None, "--ollama-log", help=_OLLAMA_LOG_HELP),
) -> None:
    """Check this host (or a saved snapshot) and report findings with evidence and fixes.

    Examples: `gpubal doctor`; `gpubal doctor --format json -o report.json`;
    `gpubal doctor --snapshot examples/h200x2-snapshot.json`; `gpubal doctor --fail-on warning` in CI.
    """
    from .doctor.engine import evaluate
    from .rules import all_rules

    facts = _load_snapshot(snapshot) if snapshot is not None else _collect(nvml_profile, root, ollama_log)
    report = evaluate(facts, all_rules())
    if output_format is OutputFormat.json:
        from .reports.json_report import render_json

        _write(render_json(report), output)
    else:
        _print_terminal(report, output)
    raise typer.Exit(_exit_code(report, fail_on))


def _print_terminal(report, output: Optional[Path]) -> None:
    from rich.console import Console

    from .reports.terminal import render_terminal

    if output is not None:
        import io

        buffer = io.StringIO()
        render_terminal(report, Console(file=buffer, width=PLAIN_WIDTH, no_color=True, highlight=False))
        _write(buffer.getvalue(), output)
        return
    plain = not sys.stdout.isatty() or "NO_COLOR" in os.environ
    console = Console(width=PLAIN_WIDTH, no_color=True, highlight=False) if plain else Console(highlight=False)
    render_terminal(report, console)


def _exit_code(report, fail_on: FailOn) -> int:
    if fail_on is FailOn.never:
        return EXIT_OK
    worst = report.worst_severity()
    threshold = {"error": 3, "warning": 2, "info": 1}[fail_on.value]
    return EXIT_FINDINGS if worst is not None and worst.rank >= threshold else EXIT_OK


@app.command()
def collect(
    output: Path = typer.Option(..., "--output", "-o", help="Write the snapshot (JSON) to this file; - for stdout."),
    nvml_profile: Optional[Path] = typer.Option(None, "--nvml-profile", help=_PROFILE_HELP),
    root: str = typer.Option("/", "--root", help=_ROOT_HELP),
    ollama_log: Optional[Path] = typer.Option(None, "--ollama-log", help=_OLLAMA_LOG_HELP),
) -> None:
    """Collect this host's facts into a snapshot file, to attach to a bug report or check later with
    `gpubal doctor --snapshot FILE`."""
    from .doctor.model import snapshot_to_json

    text = snapshot_to_json(_collect(nvml_profile, root, ollama_log))
    _write(text, None if str(output) == "-" else output)


@app.command("rules")
def list_rules() -> None:
    """List every rule: id, area and what it checks."""
    from .rules import all_rules

    for rule in all_rules():
        typer.echo(f"{rule.id:<36} {rule.area:<9} {rule.summary}")


@app.command()
def explain(rule_id: str = typer.Argument(..., help="A rule id, as `gpubal rules` lists them.")) -> None:
    """Print a rule's documentation: what it checks, why it matters, how to fix, references."""
    from .rules import RENAMED, find_rule

    found = find_rule(rule_id)
    if found is None:
        raise _fail(f"no rule {rule_id!r}; `gpubal rules` lists them")
    if rule_id in RENAMED:
        typer.echo(f"({rule_id} is now {found.id})\n")
    typer.echo(f"{found.id} ({found.area}): {found.summary}\n")
    typer.echo(found.documentation)


@debug_app.command("record-nvml")
def record_nvml(
    output: Path = typer.Option(..., "--output", "-o", help="Write the NVML profile (JSON) here."),
    description: str = typer.Option("", "--description", help="What host this is, for the profile's readers."),
    root: str = typer.Option("/", "--root", help=_ROOT_HELP),
) -> None:
    """Record every NVML answer gpubal asks for on this host into a profile that tests replay."""
    import json

    from .doctor.collect import collect_snapshot
    from .doctor.probes.files import HostFiles
    from .doctor.probes.nvml import PynvmlAdapter, RecordingAdapter

    recorder = RecordingAdapter(PynvmlAdapter())
    collect_snapshot(recorder, HostFiles(root), origin="live")
    _write(json.dumps(recorder.profile(description), indent=1) + "\n", output)
    typer.echo(f"recorded {len(recorder.device_answers)} GPUs into {output}", err=True)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("gpubal: interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as error:  # noqa: BLE001 - last resort: one line, not a traceback
        typer.echo(f"gpubal: internal error: {type(error).__name__}: {error} "
                   "(this is a bug; set GPUBAL_TRACEBACK=1 to see where)", err=True)
        if os.environ.get("GPUBAL_TRACEBACK"):
            raise
        sys.exit(EXIT_INTERNAL)
