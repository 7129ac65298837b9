"""The command line: each command's options, handed to what the command does (gpubal.commands), which
reads facts through gpubal.sources and writes through gpubal.outputs. The options' help texts and typer's
pieces are in gpubal.cli_options. Nothing else lives here."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from . import __version__
from . import cli_options as text
from .cli_options import choices, value
from .outputs import (BALANCE_RENDERERS, DOCTOR_RENDERERS, EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK,
                      FLEET_RENDERERS, TOPO_RENDERERS)
from .sources import Source

__all__ = ["app", "main", "EXIT_OK", "EXIT_FINDINGS", "EXIT_BAD_INPUT", "EXIT_INTERNAL"]

CONTEXT = {"help_option_names": ["-h", "--help"]}  # -h as well as --help, as ruff, pip and kubectl accept
app = typer.Typer(cls=text.Commands, no_args_is_help=True, context_settings=CONTEXT, rich_markup_mode=None,
                  help=text.APP)
debug_app = typer.Typer(no_args_is_help=True, context_settings=CONTEXT, help="Tools for gpubal's developers.")
app.add_typer(debug_app, name="debug")

OutputFormat = choices("OutputFormat", DOCTOR_RENDERERS)
TopoFormat = choices("TopoFormat", TOPO_RENDERERS)
BalanceFormat = choices("BalanceFormat", BALANCE_RENDERERS)
FleetFormat = choices("FleetFormat", FLEET_RENDERERS)
RulesFormat = choices("RulesFormat", ("terminal", "json", "markdown"))
FailOn = choices("FailOn", ("error", "warning", "info", "never"))


def _version_callback(wanted: bool) -> None:
    if wanted:
        typer.echo(f"gpubal {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", callback=_version_callback, is_eager=True,
                                 help="Print gpubal's version and exit."),
) -> None:
    pass


@app.command()
def doctor(
    ctx: typer.Context,
    snapshot: Optional[Path] = typer.Option(None, "--snapshot", "-s", metavar="FILE", help=text.SNAPSHOT),
    output_format: Optional[OutputFormat] = typer.Option(None, "--format", "-f", help=text.DOCTOR_FORMAT),
    output: Optional[List[Path]] = typer.Option(None, "--output", "-o", metavar="FILE", help=text.OUTPUT),
    redact: Optional[bool] = typer.Option(None, "--redact/--no-redact", help=text.DOCTOR_REDACT),
    policy: Optional[Path] = typer.Option(None, "--policy", metavar="FILE", help=text.POLICY),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", metavar="RULE", help=text.IGNORE),
    fail_on: FailOn = typer.Option(FailOn.error, "--fail-on", help=text.FAIL_ON),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=text.VERBOSE),
    nvml_profile: Optional[Path] = typer.Option(None, "--nvml-profile", metavar="FILE", help=text.PROFILE),
    root: str = typer.Option("/", "--root", metavar="DIR", help=text.ROOT),
    ollama_log: Optional[Path] = typer.Option(None, "--ollama-log", metavar="FILE", help=text.OLLAMA_LOG),
    lspci: Optional[Path] = typer.Option(None, "--lspci", metavar="FILE", help=text.LSPCI),
    from_dumps: Optional[List[str]] = typer.Option(None, "--from", metavar="FILE", help=text.FROM),
    prometheus: Optional[Path] = typer.Option(None, "--prometheus", metavar="FILE", help=text.DOCTOR_PROMETHEUS),
    npd: bool = typer.Option(False, "--npd", help=text.NPD),
    npd_rules: Optional[List[str]] = typer.Option(None, "--npd-rule", metavar="RULE", help=text.NPD_RULE),
    npd_max_length: int = typer.Option(80, "--npd-max-length", min=20, metavar="BYTES", help=text.NPD_MAX_LENGTH),
) -> None:
    """Check this host (or a saved snapshot) and report findings with evidence and fixes.

    Examples: `gpubal doctor`; `gpubal doctor -o report.md -o report.html -o report.xml`;
    `gpubal doctor --snapshot example`; `gpubal doctor --fail-on warning --ignore persistence-mode-off` in CI.
    """
    from .commands.doctor import DoctorOptions, run_doctor

    source = Source(snapshot, from_dumps or (), nvml_profile, root, ollama_log, lspci)
    raise typer.Exit(run_doctor(DoctorOptions(
        source, value(output_format), output or (), redact, policy, ignore or (), fail_on.value, verbose,
        prometheus, npd, npd_rules or (), npd_max_length), ctx.obj))


@app.command()
def collect(
    ctx: typer.Context,
    output: Path = typer.Option(..., "--output", "-o", metavar="FILE", help=text.COLLECT_OUTPUT),
    nvml_profile: Optional[Path] = typer.Option(None, "--nvml-profile", metavar="FILE", help=text.PROFILE),
    root: str = typer.Option("/", "--root", metavar="DIR", help=text.ROOT),
    ollama_log: Optional[Path] = typer.Option(None, "--ollama-log", metavar="FILE", help=text.OLLAMA_LOG),
    lspci: Optional[Path] = typer.Option(None, "--lspci", metavar="FILE", help=text.LSPCI),
    redact: bool = typer.Option(False, "--redact", help=text.COLLECT_REDACT),
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
    markdown: bool = typer.Option(False, "--markdown", help=text.RULES_MARKDOWN),
    output_format: RulesFormat = typer.Option(RulesFormat.terminal, "--format", "-f", help=text.RULES_FORMAT),
) -> None:
    """List every rule: id, area, scope and what it checks."""
    from .commands.catalogue import rules_listing

    chosen = "markdown" if markdown and output_format is not RulesFormat.json else output_format.value
    typer.echo(rules_listing(chosen), nl=False)


@app.command(cls=text.PlainArguments)
def explain(rule_id: str = typer.Argument(..., metavar="RULE", help=text.RULE_ID)) -> None:
    """Print a rule's documentation: what it checks, why it matters, how to fix, references."""
    from .commands.catalogue import explanation

    typer.echo(explanation(rule_id), nl=False)


@app.command()
def topo(
    ctx: typer.Context,
    group_size: Optional[List[int]] = typer.Option(None, "--group-size", "-k", metavar="K", help=text.GROUP_SIZE),
    snapshot: Optional[Path] = typer.Option(None, "--snapshot", "-s", metavar="FILE", help=text.SNAPSHOT),
    output_format: Optional[TopoFormat] = typer.Option(None, "--format", "-f", help=text.TOPO_FORMAT),
    output: Optional[List[Path]] = typer.Option(None, "--output", "-o", metavar="FILE", help=text.OUTPUT),
    redact: bool = typer.Option(False, "--redact", help=text.TOPO_REDACT),
    nvml_profile: Optional[Path] = typer.Option(None, "--nvml-profile", metavar="FILE", help=text.PROFILE),
    root: str = typer.Option("/", "--root", metavar="DIR", help=text.ROOT),
    from_dumps: Optional[List[str]] = typer.Option(None, "--from", metavar="FILE", help=text.FROM),
) -> None:
    """Which GPUs belong together and how to serve on them: NVLink cliques, PCIe switch groups, NUMA
    domains, the best groups of each size with the evidence, and CUDA_VISIBLE_DEVICES, CPU binding, Ollama,
    vLLM and SGLang settings for each group. Exit 1 when no GPU can be placed (no driver, no GPU).
    Examples: `gpubal topo`; `gpubal topo --group-size 2 -o groups.json`; `gpubal topo --from topo-m.txt`."""
    from .commands.topo import run_topo

    source = Source(snapshot, from_dumps or (), nvml_profile, root, ask_ollama=False)
    raise typer.Exit(run_topo(source, group_size, value(output_format), output or (), redact, ctx.obj))


@app.command()
def balance(
    seconds: float = typer.Option(10.0, "--seconds", metavar="SECONDS", help=text.SECONDS),
    interval_ms: int = typer.Option(200, "--interval", metavar="MS", help=text.INTERVAL),
    output_format: Optional[BalanceFormat] = typer.Option(None, "--format", "-f", help=text.BALANCE_FORMAT),
    output: Optional[List[Path]] = typer.Option(None, "--output", "-o", metavar="FILE", help=text.OUTPUT),
    prometheus: Optional[Path] = typer.Option(None, "--prometheus", metavar="FILE", help=text.BALANCE_PROMETHEUS),
    max_imbalance: Optional[float] = typer.Option(None, "--max-imbalance", metavar="POINTS", help=text.MAX_IMBALANCE),
    nvml_profile: Optional[Path] = typer.Option(None, "--nvml-profile", metavar="FILE",
                                                help=text.PROFILE + " A profile with samples replays them."),
    root: str = typer.Option("/", "--root", metavar="DIR", help=text.ROOT),
) -> None:
    """Sample every GPU's utilization, memory, power, clocks, PCIe/NVLink traffic and processes, then
    report how evenly the work is spread, who holds which GPU, and why it is uneven, with fixes.
    Exit 1 when nothing could be sampled, or when the imbalance is above --max-imbalance (or unknown).
    Examples: `gpubal balance`; `gpubal balance --seconds 30 --max-imbalance 20 --prometheus
    /var/lib/node_exporter/textfile/gpubal.prom`."""
    from .commands.balance import run_balance

    raise typer.Exit(run_balance(seconds, interval_ms, value(output_format), output or (), prometheus, max_imbalance,
                                 nvml_profile, root))


@app.command("slurm-healthcheck")
def slurm_healthcheck(
    node: Optional[str] = typer.Option(None, "--node", metavar="NAME", help="The Slurm NodeName. Default: `hostname -s`."),
    fail_on: FailOn = typer.Option(FailOn.error, "--fail-on", help="Drain when a finding has at least this severity."),
    scontrol: str = typer.Option("scontrol", "--scontrol", metavar="PROGRAM", help="The scontrol program to call."),
    snapshot: Optional[Path] = typer.Option(None, "--snapshot", "-s", metavar="FILE", help=text.SNAPSHOT),
    policy: Optional[Path] = typer.Option(None, "--policy", metavar="FILE", help="Check this site policy (TOML) too."),
    nvml_profile: Optional[Path] = typer.Option(None, "--nvml-profile", metavar="FILE", help=text.PROFILE),
    root: str = typer.Option("/", "--root", metavar="DIR", help=text.ROOT),
) -> None:
    """For Slurm's HealthCheckProgram: check this node; when unhealthy, drain it with a reason that starts
    with `gpubal:` and names the rules and GPUs; when healthy again, resume it only if gpubal drained it.
    Exit 0 healthy, 1 unhealthy (drained, or left drained for another reason), 2 bad input or scontrol
    failed. See deploy/slurm/."""
    from .commands.doctor import slurm_healthcheck as run_healthcheck

    source = Source(snapshot, nvml_profile=nvml_profile, root=root)
    raise typer.Exit(run_healthcheck(source, policy, node, fail_on.value, scontrol))


@app.command(cls=text.PlainArguments)
def fleet(
    inputs: List[str] = typer.Argument(..., metavar="REPORT...", help=text.FLEET_INPUTS),
    output_format: Optional[FleetFormat] = typer.Option(None, "--format", "-f", help=text.FLEET_FORMAT),
    output: Optional[List[Path]] = typer.Option(None, "--output", "-o", metavar="FILE", help=text.OUTPUT),
    stale_after: str = typer.Option("24h", "--stale-after", metavar="AGE", help=text.STALE_AFTER),
    expect_hosts: Optional[Path] = typer.Option(None, "--expect-hosts", metavar="FILE", help=text.EXPECT_HOSTS),
    fail_on: FailOn = typer.Option(FailOn.error, "--fail-on", help=text.FLEET_FAIL_ON),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, metavar="N", help=text.JOBS),
) -> None:
    """Aggregate many hosts' reports: hosts by verdict, each finding with its hosts, drift between hosts of
    one GPU model, stale and missing hosts, the worst hosts first. Reads one report at a time.
    Examples: `gpubal fleet reports/`; `gpubal fleet reports.tar.gz -o fleet.html`; `cat *.json | gpubal fleet -`."""
    from .commands.fleet import run_fleet

    raise typer.Exit(run_fleet(inputs, value(output_format), output or (), stale_after, expect_hosts, fail_on.value, jobs))


@debug_app.command("record-nvml")
def record_nvml(
    output: Path = typer.Option(..., "--output", "-o", metavar="FILE", help="Write the NVML profile (JSON) here."),
    description: str = typer.Option("", "--description", metavar="TEXT", help=text.HOST_DESCRIPTION),
    root: str = typer.Option("/", "--root", metavar="DIR", help=text.ROOT),
) -> None:
    """Record every NVML answer gpubal asks for on this host into a profile that tests replay."""
    from .commands.debug import record_nvml as record

    typer.echo(record(output, description, root), err=True)


@debug_app.command("record-balance")
def record_balance(
    output: Path = typer.Option(..., "--output", "-o", metavar="FILE", help=text.BALANCE_PROFILE_OUTPUT),
    seconds: float = typer.Option(10.0, "--seconds", metavar="SECONDS", help="Sample for this long."),
    interval_ms: int = typer.Option(200, "--interval", metavar="MS", help=text.INTERVAL),
    description: str = typer.Option("", "--description", metavar="TEXT", help=text.LOAD_DESCRIPTION),
) -> None:
    """Record what `gpubal balance` samples on this host into a profile that `balance --nvml-profile` replays."""
    from .commands.balance import record_balance as record

    typer.echo(record(output, seconds, interval_ms, description), err=True)


@debug_app.command("repeat")
def repeat(
    runs: int = typer.Argument(10, help="How many times to collect."),
    nvml_profile: Optional[Path] = typer.Option(None, "--nvml-profile", help=text.PROFILE),
    root: str = typer.Option("/", "--root", help=text.ROOT),
) -> None:
    """Collect this host RUNS times, each in a fresh process, and print every fact that differed between runs.

    Exit 0 when no fact that should stay the same changed, 1 when one did."""
    from .commands.debug import repeat as run_repeat

    raise typer.Exit(run_repeat(runs, nvml_profile, root))


def main(early_collection: Any = None, argv: Optional[List[str]] = None) -> None:
    """Run the command line on `argv` (default: sys.argv); `early_collection`: a Future of this host's live
    facts (see gpubal.entry)."""
    from .entry import run_guarded

    run_guarded(lambda: app(args=argv, obj=early_collection))
