"""The command line: each command's options, handed to what the command does (gpubal.commands), which
reads facts through gpubal.sources and writes through gpubal.outputs. Nothing else lives here."""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Any, List, Optional

import typer
import typer.core

from . import __version__
from .outputs import (BALANCE_RENDERERS, DOCTOR_RENDERERS, EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK,
                      FLEET_RENDERERS, TOPO_RENDERERS, exit_code)
from .sources import InputError, Source, say

__all__ = ["app", "main", "EXIT_OK", "EXIT_FINDINGS", "EXIT_BAD_INPUT", "EXIT_INTERNAL"]

EXIT_CODES_HELP = (
    "Exit codes: 0 no finding at or above --fail-on; 1 findings at or above --fail-on; "
    "2 bad input (option, snapshot or profile file); 3 internal error."
)
CONTEXT = {"help_option_names": ["-h", "--help"]}  # -h as well as --help, as ruff, pip and kubectl accept


class _Commands(typer.core.TyperGroup):
    """Input a command cannot use ends it with one line on stderr and exit 2, never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as error:
            say(str(error))
            raise typer.Exit(EXIT_BAD_INPUT)


app = typer.Typer(
    cls=_Commands, no_args_is_help=True, context_settings=CONTEXT, rich_markup_mode=None,
    help="A read-only doctor for multi-GPU Linux hosts. It reads the driver, NVML, PCIe, NVLink, NVSwitch, "
         "MIG and NUMA facts of this host, checks them with rules and prints findings with evidence and "
         "fixes. It never changes the host. " + EXIT_CODES_HELP,
)
debug_app = typer.Typer(no_args_is_help=True, context_settings=CONTEXT, help="Tools for gpubal's developers.")
app.add_typer(debug_app, name="debug")


def _formats(name: str, renderers: Any) -> Any:
    """A --format choice: one member per renderer of the command, in the table's order."""
    return enum.Enum(name, {format_name: format_name for format_name in renderers}, type=str)


OutputFormat = _formats("OutputFormat", DOCTOR_RENDERERS)
TopoFormat = _formats("TopoFormat", TOPO_RENDERERS)
BalanceFormat = _formats("BalanceFormat", BALANCE_RENDERERS)
FleetFormat = _formats("FleetFormat", FLEET_RENDERERS)
RulesFormat = enum.Enum("RulesFormat", {"terminal": "terminal", "json": "json", "markdown": "markdown"}, type=str)
FailOn = enum.Enum("FailOn", {"error": "error", "warning": "warning", "info": "info", "never": "never"}, type=str)


def _exit_code(report: Any, fail_on: Any) -> int:
    return exit_code(report, fail_on.value)


def _value(choice: Optional[enum.Enum]) -> Optional[str]:
    return choice.value if choice is not None else None


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"gpubal {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", callback=_version_callback, is_eager=True,
                                 help="Print gpubal's version and exit."),
) -> None:
    pass


_OUTPUT_HELP = "Write to this file instead of standard output (- is standard output); repeat for several formats."
_SNAPSHOT_HELP = ("Read facts from this snapshot (from `gpubal collect`, or a JSON or Markdown report) instead of "
                  "this host; `example` reads the 2 x H200 snapshot that ships with gpubal.")
_PROFILE_HELP = "Replay NVML answers from this profile (from `gpubal debug record-nvml`) instead of the driver."
_OLLAMA_LOG_HELP = "Read the Ollama server's log from this file instead of `journalctl -u ollama`."
_LSPCI_HELP = ("Read PCIe ACS controls from this `sudo lspci -vvv` output instead of running lspci (which shows "
               "them only to root).")
_FROM_HELP = ("Build the facts from text dumps instead of this host: nvidia-smi (table, -L, -q, -q -x), topo -m, "
              "topo -p2p, nvlink -s, Ollama logs, collect_env, nvidia-bug-report.log[.gz]; repeat for several "
              "dumps of one host; - reads standard input. Unreadable or unknown input exits 2.")
_ROOT_HELP = "Read host files (/proc, /sys, /etc) under this directory instead of /; for tests and recorded trees."


@app.command()
def doctor(
    ctx: typer.Context,
    snapshot: Optional[Path] = typer.Option(None, "--snapshot", "-s", metavar="FILE", help=_SNAPSHOT_HELP),
    output_format: Optional[OutputFormat] = typer.Option(
        None, "--format", "-f", help="terminal (colour on a TTY, plain text elsewhere), json, markdown, html or "
                                     "junit. Default: from -o's extension (.md .html .xml .json .txt), else terminal."),
    output: Optional[List[Path]] = typer.Option(None, "--output", "-o", metavar="FILE", help=_OUTPUT_HELP),
    redact: Optional[bool] = typer.Option(
        None, "--redact/--no-redact", help="Replace hostnames, IP and MAC addresses, user names in paths, GPU UUIDs "
                                           "and serials with placeholders. Default: on for markdown and html, off for "
                                           "the others. Secret-looking environment values are always dropped."),
    policy: Optional[Path] = typer.Option(None, "--policy", metavar="FILE",
                                          help="Check this site policy (TOML) too: expected GPU count and model, "
                                               "NVLink, minimum driver, rules to skip or re-grade, per host-name "
                                               "pattern."),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", metavar="RULE",
                                               help="Do not evaluate this rule (repeatable); the report lists it as "
                                                    "ignored. A policy file's rules.skip does the same per host."),
    fail_on: FailOn = typer.Option(FailOn.error, "--fail-on",
                                   help="Exit 1 when a finding has at least this severity; never: always exit 0."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every passed check, not only their count."),
    nvml_profile: Optional[Path] = typer.Option(None, "--nvml-profile", metavar="FILE", help=_PROFILE_HELP),
    root: str = typer.Option("/", "--root", metavar="DIR", help=_ROOT_HELP),
    ollama_log: Optional[Path] = typer.Option(None, "--ollama-log", metavar="FILE", help=_OLLAMA_LOG_HELP),
    lspci: Optional[Path] = typer.Option(None, "--lspci", metavar="FILE", help=_LSPCI_HELP),
    from_dumps: Optional[List[str]] = typer.Option(None, "--from", metavar="FILE", help=_FROM_HELP),
    prometheus: Optional[Path] = typer.Option(None, "--prometheus", metavar="FILE",
                                              help="Also write the findings raised, the run's time and the driver, "
                                                   "GPU and NVLink facts here, in the text format of "
                                                   "node_exporter's textfile collector (written atomically)."),
    npd: bool = typer.Option(False, "--npd",
                             help="node-problem-detector custom plugin mode: print one line (at most "
                                  "--npd-max-length bytes) naming the rules and GPUs at or above --fail-on, and "
                                  "exit 0 (OK), 1 (problem) or 2-3 (unknown). -o still writes the full report."),
    npd_rules: Optional[List[str]] = typer.Option(None, "--npd-rule", metavar="RULE",
                                                  help="With --npd: only these rule ids decide (repeat; one NPD "
                                                       "condition per group of rules). Default: every rule."),
    npd_max_length: int = typer.Option(80, "--npd-max-length", min=20, metavar="BYTES",
                                       help="With --npd: the plugin config's max_output_length (NPD's default "
                                            "is 80 bytes)."),
) -> None:
    """Check this host (or a saved snapshot) and report findings with evidence and fixes.

    Examples: `gpubal doctor`; `gpubal doctor -o report.md -o report.html -o report.xml`;
    `gpubal doctor --snapshot example`; `gpubal doctor --fail-on warning --ignore persistence-mode-off` in CI.
    """
    from .commands.doctor import DoctorOptions, run_doctor

    source = Source(snapshot, from_dumps or (), nvml_profile, root, ollama_log, lspci)
    raise typer.Exit(run_doctor(DoctorOptions(
        source, _value(output_format), output or (), redact, policy, ignore or (), fail_on.value, verbose,
        prometheus, npd, npd_rules or (), npd_max_length), ctx.obj))


@app.command()
def collect(
    ctx: typer.Context,
    output: Path = typer.Option(..., "--output", "-o", metavar="FILE",
                                help="Write the snapshot (JSON) to this file; - for stdout."),
    nvml_profile: Optional[Path] = typer.Option(None, "--nvml-profile", metavar="FILE", help=_PROFILE_HELP),
    root: str = typer.Option("/", "--root", metavar="DIR", help=_ROOT_HELP),
    ollama_log: Optional[Path] = typer.Option(None, "--ollama-log", metavar="FILE", help=_OLLAMA_LOG_HELP),
    lspci: Optional[Path] = typer.Option(None, "--lspci", metavar="FILE", help=_LSPCI_HELP),
    redact: bool = typer.Option(False, "--redact", help="Replace hostnames, addresses, user names in paths, GPU "
                                                        "UUIDs and serials with placeholders."),
) -> None:
    """Collect this host's facts into a snapshot file, to attach to a bug report or check later with
    `gpubal doctor --snapshot FILE`."""
    from .common.redact import redact_snapshot
    from .outputs import write
    from .snapshot_file import snapshot_to_json
    from .sources import snapshot_of

    facts = snapshot_of(Source(nvml_profile=nvml_profile, root=root, ollama_log=ollama_log, lspci=lspci), ctx.obj)
    write(snapshot_to_json(redact_snapshot(facts, redact)), output)


@app.command("rules")
def list_rules(
    markdown: bool = typer.Option(False, "--markdown", help="Print every rule's documentation as Markdown "
                                                            "(this is how docs/rules.md is made)."),
    output_format: RulesFormat = typer.Option(RulesFormat.terminal, "--format", "-f",
                                              help="terminal (one line per rule), json (id, area, scope, summary, "
                                                   "documentation of each rule) or markdown (as --markdown)."),
) -> None:
    """List every rule: id, area, scope and what it checks."""
    from .commands.catalogue import rules_listing

    chosen = "markdown" if markdown and output_format is not RulesFormat.json else output_format.value
    typer.echo(rules_listing(chosen), nl=False)


class _PlainArguments(typer.core.TyperCommand):
    """typer shows a required argument as `{RULE}` in the usage line (and 0.29 `RULE <str>` in the help);
    people read `RULE`, as ruff and kubectl print it. The hooks differ between typer versions: all are set."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.param_type_name == "argument" and param.metavar:
                metavar = param.metavar
                param.display_type_rich = lambda *args, **kwargs: None
                param._usage_display_name = lambda *args, metavar=metavar, **kwargs: metavar
                param.make_metavar = lambda *args, metavar=metavar, **kwargs: metavar


@app.command(cls=_PlainArguments)
def explain(rule_id: str = typer.Argument(..., metavar="RULE", help="A rule id, as `gpubal rules` lists them.")) -> None:
    """Print a rule's documentation: what it checks, why it matters, how to fix, references."""
    from .commands.catalogue import explanation

    typer.echo(explanation(rule_id), nl=False)


@app.command()
def topo(
    ctx: typer.Context,
    group_size: Optional[List[int]] = typer.Option(None, "--group-size", "-k", metavar="K",
                                                   help="GPUs per group; repeat for several. Default: every size "
                                                        "that divides the GPU count."),
    snapshot: Optional[Path] = typer.Option(None, "--snapshot", "-s", metavar="FILE", help=_SNAPSHOT_HELP),
    output_format: Optional[TopoFormat] = typer.Option(None, "--format", "-f",
                                                       help="terminal or json. Default: from -o's extension "
                                                            "(.json .txt), else terminal."),
    output: Optional[List[Path]] = typer.Option(None, "--output", "-o", metavar="FILE", help=_OUTPUT_HELP),
    redact: bool = typer.Option(False, "--redact", help="Replace hostnames, GPU UUIDs and serials with placeholders."),
    nvml_profile: Optional[Path] = typer.Option(None, "--nvml-profile", metavar="FILE", help=_PROFILE_HELP),
    root: str = typer.Option("/", "--root", metavar="DIR", help=_ROOT_HELP),
    from_dumps: Optional[List[str]] = typer.Option(None, "--from", metavar="FILE", help=_FROM_HELP),
) -> None:
    """Which GPUs belong together and how to serve on them: NVLink cliques, PCIe switch groups, NUMA
    domains, the best groups of each size with the evidence, and CUDA_VISIBLE_DEVICES, CPU binding, Ollama,
    vLLM and SGLang settings for each group. Exit 1 when no GPU can be placed (no driver, no GPU).
    Examples: `gpubal topo`; `gpubal topo --group-size 2 -o groups.json`; `gpubal topo --from topo-m.txt`."""
    from .commands.topo import run_topo

    source = Source(snapshot, from_dumps or (), nvml_profile, root, ask_ollama=False)
    raise typer.Exit(run_topo(source, group_size, _value(output_format), output or (), redact, ctx.obj))


@app.command()
def balance(
    seconds: float = typer.Option(10.0, "--seconds", metavar="SECONDS",
                                  help="Sample for this long; Ctrl-C ends early and still reports."),
    interval_ms: int = typer.Option(200, "--interval", metavar="MS", help="Milliseconds between samples."),
    output_format: Optional[BalanceFormat] = typer.Option(None, "--format", "-f",
                                                          help="terminal, json, markdown or html. Default: from "
                                                               "-o's extension (.json .md .html .txt), else terminal."),
    output: Optional[List[Path]] = typer.Option(None, "--output", "-o", metavar="FILE", help=_OUTPUT_HELP),
    prometheus: Optional[Path] = typer.Option(None, "--prometheus", metavar="FILE",
                                              help="Also write per-GPU gauges and the imbalance here, in the text "
                                                   "format of node_exporter's textfile collector."),
    max_imbalance: Optional[float] = typer.Option(None, "--max-imbalance", metavar="POINTS",
                                                  help="Exit 1 when the imbalance (std dev of mean GPU utilization) "
                                                       "is above this many percentage points."),
    nvml_profile: Optional[Path] = typer.Option(None, "--nvml-profile", metavar="FILE",
                                                help=_PROFILE_HELP + " A profile with samples replays them."),
    root: str = typer.Option("/", "--root", metavar="DIR", help=_ROOT_HELP),
) -> None:
    """Sample every GPU's utilization, memory, power, clocks, PCIe/NVLink traffic and processes, then
    report how evenly the work is spread, who holds which GPU, and why it is uneven, with fixes.
    Exit 1 when nothing could be sampled, or when the imbalance is above --max-imbalance (or unknown).
    Examples: `gpubal balance`; `gpubal balance --seconds 30 --max-imbalance 20 --prometheus
    /var/lib/node_exporter/textfile/gpubal.prom`."""
    from .commands.balance import run_balance

    raise typer.Exit(run_balance(seconds, interval_ms, _value(output_format), output or (), prometheus, max_imbalance,
                                 nvml_profile, root))


@app.command("slurm-healthcheck")
def slurm_healthcheck(
    node: Optional[str] = typer.Option(None, "--node", help="The Slurm NodeName. Default: `hostname -s`."),
    fail_on: FailOn = typer.Option(FailOn.error, "--fail-on",
                                   help="Drain when a finding has at least this severity."),
    scontrol: str = typer.Option("scontrol", "--scontrol", help="The scontrol program to call."),
    snapshot: Optional[Path] = typer.Option(None, "--snapshot", "-s", help=_SNAPSHOT_HELP),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Check this site policy (TOML) too."),
    nvml_profile: Optional[Path] = typer.Option(None, "--nvml-profile", help=_PROFILE_HELP),
    root: str = typer.Option("/", "--root", help=_ROOT_HELP),
) -> None:
    """For Slurm's HealthCheckProgram: check this node; when unhealthy, drain it with a reason that starts
    with `gpubal:` and names the rules and GPUs; when healthy again, resume it only if gpubal drained it.
    Exit 0 healthy, 1 unhealthy (drained, or left drained for another reason), 2 bad input or scontrol
    failed. See deploy/slurm/."""
    from .commands.doctor import slurm_healthcheck as run_healthcheck

    source = Source(snapshot, nvml_profile=nvml_profile, root=root)
    raise typer.Exit(run_healthcheck(source, policy, node, fail_on.value, scontrol))


@app.command()
def fleet(
    inputs: List[str] = typer.Argument(..., help="Reports or snapshots: directories (every *.json below), files, "
                                                 "tarballs, *.jsonl, globs, or - for JSON documents on stdin."),
    output_format: Optional[FleetFormat] = typer.Option(
        None, "--format", "-f", help="terminal, json, markdown or html. Default: from -o's extension, else terminal."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the fleet report to this file."),
    stale_after: str = typer.Option("24h", "--stale-after",
                                    help="A report this much older than the newest one is stale (90m, 6h, 2d)."),
    expect_hosts: Optional[Path] = typer.Option(None, "--expect-hosts",
                                                help="A file of host names, one a line: those without a report "
                                                     "are listed as missing."),
    fail_on: FailOn = typer.Option(FailOn.error, "--fail-on",
                                   help="Exit 1 when a host has a finding of at least this severity, or a host "
                                        "is missing, or an input is unreadable; never: always exit 0."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1,
                                       help="Processes that parse reports at once. Default: the CPUs this "
                                            "process may use (at most 8)."),
) -> None:
    """Aggregate many hosts' reports: hosts by verdict, each finding with its hosts, drift between hosts of
    one GPU model, stale and missing hosts, the worst hosts first. Reads one report at a time.
    Examples: `gpubal fleet reports/`; `gpubal fleet reports.tar.gz -o fleet.html`; `cat *.json | gpubal fleet -`."""
    from .commands.fleet import run_fleet

    raise typer.Exit(run_fleet(inputs, _value(output_format), output, stale_after, expect_hosts, fail_on.value, jobs))


@debug_app.command("record-nvml")
def record_nvml(
    output: Path = typer.Option(..., "--output", "-o", metavar="FILE", help="Write the NVML profile (JSON) here."),
    description: str = typer.Option("", "--description", metavar="TEXT",
                                    help="What host this is, for the profile's readers."),
    root: str = typer.Option("/", "--root", metavar="DIR", help=_ROOT_HELP),
) -> None:
    """Record every NVML answer gpubal asks for on this host into a profile that tests replay."""
    from .commands.debug import record_nvml as record

    typer.echo(record(output, description, root), err=True)


@debug_app.command("record-balance")
def record_balance(
    output: Path = typer.Option(..., "--output", "-o", metavar="FILE",
                                help="Write the NVML profile with its samples (JSON) here."),
    seconds: float = typer.Option(10.0, "--seconds", metavar="SECONDS", help="Sample for this long."),
    interval_ms: int = typer.Option(200, "--interval", metavar="MS", help="Milliseconds between samples."),
    description: str = typer.Option("", "--description", metavar="TEXT", help="What host and load this is, for the profile's readers."),
) -> None:
    """Record what `gpubal balance` samples on this host into a profile that `balance --nvml-profile` replays."""
    from .commands.balance import record_balance as record

    typer.echo(record(output, seconds, interval_ms, description), err=True)


@debug_app.command("repeat")
def repeat(
    runs: int = typer.Argument(10, help="How many times to collect."),
    nvml_profile: Optional[Path] = typer.Option(None, "--nvml-profile", help=_PROFILE_HELP),
    root: str = typer.Option("/", "--root", help=_ROOT_HELP),
) -> None:
    """Collect this host RUNS times, each in a fresh process, and print every fact that differed between runs.

    Exit 0 when no fact that should stay the same changed, 1 when one did."""
    from .commands.debug import repeat as run_repeat

    raise typer.Exit(run_repeat(runs, nvml_profile, root))


def main(early_collection: Any = None) -> None:
    """Run the command line; `early_collection`: a Future of this host's live facts (see gpubal.entry)."""
    from .entry import run_guarded

    run_guarded(lambda: app(obj=early_collection))
