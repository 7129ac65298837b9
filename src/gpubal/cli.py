"""The command line: options -> pipeline -> renderer -> exit code. Nothing else lives here."""

from __future__ import annotations

import dataclasses
import enum
import math
import os
import sys
from pathlib import Path
from typing import Any, List, Optional, Tuple

import typer
import typer.core

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

# -h as well as --help, as ruff, pip and kubectl accept
CONTEXT = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    no_args_is_help=True,
    context_settings=CONTEXT,
    rich_markup_mode=None,
    help="A read-only doctor for multi-GPU Linux hosts. It reads the driver, NVML, PCIe, NVLink, NVSwitch, "
         "MIG and NUMA facts of this host, checks them with rules and prints findings with evidence and "
         "fixes. It never changes the host. " + EXIT_CODES_HELP,
)
debug_app = typer.Typer(no_args_is_help=True, context_settings=CONTEXT, help="Tools for gpubal's developers.")
app.add_typer(debug_app, name="debug")


class OutputFormat(str, enum.Enum):
    terminal = "terminal"
    json = "json"
    markdown = "markdown"
    html = "html"
    junit = "junit"


# -o FILE picks the format from the file's extension unless --format is given
FORMAT_BY_EXTENSION = {".md": OutputFormat.markdown, ".markdown": OutputFormat.markdown, ".html": OutputFormat.html,
                       ".htm": OutputFormat.html, ".xml": OutputFormat.junit, ".json": OutputFormat.json,
                       ".txt": OutputFormat.terminal}
# Markdown and HTML are made to be shared (issues, mail): they hide the host's identity unless --no-redact
REDACTED_BY_DEFAULT = (OutputFormat.markdown, OutputFormat.html)


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
    version: bool = typer.Option(False, "--version", "-V", callback=_version_callback, is_eager=True,
                                 help="Print gpubal's version and exit."),
) -> None:
    pass


def _say(message: str) -> None:
    """One line on stderr; a message may quote a file name or pasted text, so control characters show
    as escapes."""
    from .reports.visible import visible

    typer.echo(f"gpubal: {visible(message)}", err=True)


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> "typer.Exit":
    _say(message)
    return typer.Exit(code)


MAX_INPUT_BYTES = 64 * 2**20  # any other file a user names (a host list): read whole, so bounded


def _read_text(path: Path, what: str, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """A file the user named, as text, or one line saying why it cannot be read (exit 2)."""
    from .common.bounded import TooLarge, check_size

    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)  # never more: a 10 GB file is refused, not loaded
        check_size(len(data), max_bytes)
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # as read_text() did
    except TooLarge as error:
        raise _fail(f"cannot read {what} {path}: {error}")
    except OSError as error:
        raise _fail(f"cannot read {what} {path}: {error.strerror}")
    except UnicodeDecodeError:
        raise _fail(f"cannot read {what} {path}: not UTF-8 text")


EXAMPLE_SNAPSHOT = "example"  # `--snapshot example`: the 2 x H200 snapshot that ships inside the package


def _load_snapshot(path: Path):
    from .snapshot_file import MAX_SNAPSHOT_BYTES, SnapshotError, snapshot_from_text

    if str(path) == EXAMPLE_SNAPSHOT and not path.exists():
        from importlib import resources

        text = resources.files("gpubal").joinpath("examples", "h200x2-snapshot.json").read_text(encoding="utf-8")
    else:
        text = _read_text(path, "snapshot", MAX_SNAPSHOT_BYTES)
    try:
        return snapshot_from_text(text)
    except SnapshotError as error:
        raise _fail(f"{path}: {error}")


def _collect(nvml_profile: Optional[Path], root: str, ollama_log: Optional[Path] = None, ask_ollama: bool = True,
             lspci: Optional[Path] = None):
    """Live facts, or a replay of a recorded NVML profile over a recorded file tree. A replay runs no
    program, asks no server and reads no environment: it is the recording, not this machine."""
    from .doctor.collect import collect_snapshot
    from .doctor.live import collect_live
    from .doctor.probes.files import HostFiles
    from .doctor.probes.nvml import ProfileError, ReplayAdapter

    log = str(ollama_log) if ollama_log is not None else None
    lspci_text = _read_text(lspci, "lspci -vvv output") if lspci is not None else None
    if nvml_profile is None:
        if EARLY_COLLECTION is not None and root == "/" and log is None and lspci_text is None:
            return EARLY_COLLECTION.result()
        return collect_live(root, log, ask_ollama, lspci_text)
    try:
        adapter = ReplayAdapter.from_file(str(nvml_profile))
        # a profile is read lazily: a bad answer deep inside surfaces while collecting
        return collect_snapshot(adapter, HostFiles(root), origin=f"nvml-profile:{nvml_profile.name}", ollama_log=log,
                                lspci=lspci_text)
    except ProfileError as error:
        message = str(error)
        raise _fail(message if message.startswith(str(nvml_profile)) else f"{nvml_profile}: {message}")


def _is_stdout(output: Optional[Path]) -> bool:
    return output is None or str(output) == "-"


def _write(text: str, output: Optional[Path]) -> None:
    """The one place output leaves gpubal: standard output for None or `-`, else the named file."""
    if _is_stdout(output):
        sys.stdout.write(text)
        return
    from .output_file import write_text_file

    try:
        write_text_file(output, text)
    except OSError as error:
        raise _fail(f"cannot write {output}: {error.strerror or error}")


def _targets(outputs: Optional[List[Path]], chosen, by_extension, default) -> List[Tuple[Optional[Path], Any]]:
    """Each -o with its format: --format when given, else the file's extension (an extension gpubal cannot
    name is an error, not a silent fallback); `-` and no -o at all mean standard output."""
    if not outputs:
        return [(None, chosen or default)]
    targets: List[Tuple[Optional[Path], Any]] = []
    for output in outputs:
        if _is_stdout(output) or chosen is not None:
            targets.append((None if _is_stdout(output) else output, chosen or default))
            continue
        found = by_extension.get(output.suffix.lower())
        if found is None and output.exists() and not output.is_file() and not output.is_dir():
            found = default  # a device or a pipe (-o /dev/null, -o /dev/stderr) has no extension to read
        if found is None:
            known = " ".join(sorted({ext for ext in by_extension}))
            raise _fail(f"cannot tell the format of {output} from its extension (known: {known}); "
                        "name the file so, or give --format")
        targets.append((output, found))
    return targets


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
    from .doctor.engine import evaluate
    from .rules import all_rules

    targets = _targets(output, output_format, FORMAT_BY_EXTENSION, OutputFormat.terminal)
    ignored = _resolve_ignored(ignore or [])
    if from_dumps:
        facts = _from_dumps(from_dumps)
    else:
        facts = (_load_snapshot(snapshot) if snapshot is not None
                 else _collect(nvml_profile, root, ollama_log, lspci=lspci))
    site_policy = _load_policy(policy) if policy is not None else None
    report = evaluate(facts, all_rules(), site_policy)
    if ignored:
        from .doctor.policy import ignore_rules

        report = dataclasses.replace(report, results=tuple(ignore_rules(report.results, ignored)))
    if prometheus is not None:
        from .reports.prometheus import render_doctor_prometheus

        _write(render_doctor_prometheus(report), prometheus)  # atomic: the collector may read any time
    if npd:
        raise typer.Exit(_npd_plugin(report, fail_on, npd_rules or [], npd_max_length,
                                     targets if output else [], redact))
    for target, chosen in targets:
        hide = redact if redact is not None else chosen in REDACTED_BY_DEFAULT
        _render(report, chosen, target, hide, verbose)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        _append_step_summary(report, os.environ["GITHUB_STEP_SUMMARY"], redact if redact is not None else True)
    raise typer.Exit(_exit_code(report, fail_on))


def _npd_plugin(report, fail_on: "FailOn", rules: List[str], max_bytes: int,
                targets: List[Tuple[Optional[Path], "OutputFormat"]], redact: Optional[bool]) -> int:
    """node-problem-detector's custom plugin contract: stdout is the condition's message (NPD cuts it at
    max_output_length), the exit status is 0 OK, 1 problem, anything else unknown. -o files still get the
    full report for people, beside the line for NPD (never standard output, which is NPD's)."""
    from .reports.oneline import summary_line

    for target, chosen in targets:
        if target is not None:
            _render(report, chosen, target, redact if redact is not None else chosen in REDACTED_BY_DEFAULT)
    threshold = "error" if fail_on is FailOn.never else fail_on.value
    problem, line = summary_line(report, threshold, max_bytes, rules)
    typer.echo(line)
    return EXIT_FINDINGS if problem and fail_on is not FailOn.never else EXIT_OK


def _resolve_ignored(rule_ids: List[str]) -> Tuple[str, ...]:
    """--ignore's rule ids as the ids the rules have now (a renamed id still works); an unknown id is bad input."""
    if not rule_ids:
        return ()
    from .doctor.policy import known_rule_ids

    known = known_rule_ids()
    resolved = []
    for rule_id in rule_ids:
        if rule_id not in known:
            raise _fail(f"--ignore: no rule {rule_id!r}{_did_you_mean(rule_id, known)}; `gpubal rules` lists them")
        resolved.append(known[rule_id])
    return tuple(resolved)


def _did_you_mean(word: str, choices) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _render(report, output_format: "OutputFormat", output: Optional[Path], redact: bool, verbose: bool = False) -> None:
    from .common.redact import redact_report

    if output_format is OutputFormat.json:
        from .reports.json_report import render_json

        _write(render_json(redact_report(report, redact)), output)
    elif output_format is OutputFormat.markdown:
        from .reports.markdown import render_markdown

        _write(render_markdown(report, redact=redact), output)
    elif output_format is OutputFormat.html:
        from .reports.html import render_html

        _write(render_html(report, redact=redact), output)
    elif output_format is OutputFormat.junit:
        from .reports.junit import render_junit

        _write(render_junit(report, redact=redact), output)
    else:
        _print_terminal(redact_report(report, redact), output, verbose)


def _append_step_summary(report, path: str, redact: bool) -> None:
    """GitHub Actions shows what a step appends to $GITHUB_STEP_SUMMARY on the run's page."""
    from .reports.markdown import render_markdown

    try:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(render_markdown(report, redact=redact, summary=True) + "\n")
    except OSError as error:
        typer.echo(f"gpubal: cannot append to GITHUB_STEP_SUMMARY {path}: {error.strerror}", err=True)


def _load_policy(path: Path):
    from .doctor.policy import MAX_POLICY_BYTES, PolicyError, parse_policy

    text = _read_text(path, "policy", MAX_POLICY_BYTES)
    try:
        return parse_policy(text, path.name)
    except PolicyError as error:
        raise _fail(f"{path}: {error}")


def _from_dumps(names: List[str]):
    """A partial snapshot from pasted text; dumps that disagree are named on stderr (and the facts they
    disagree on are left unavailable, so no rule judges either value)."""
    from .doctor.ingest.dumps import InputError, snapshot_from_dumps

    if "-" in names and sys.stdin.isatty():  # otherwise it waits without a word
        typer.echo("gpubal: reading a dump from standard input: paste it, then press Ctrl-D (or pass a file: "
                   "--from FILE)", err=True)
    try:
        ingested = snapshot_from_dumps(names)
    except InputError as error:
        raise _fail(str(error))
    for conflict in ingested.conflicts:
        _say(f"conflict: {conflict.describe()}")
    return ingested.snapshot


def _print_terminal(report, output: Optional[Path], verbose: bool = False) -> None:
    from .reports.terminal import render_terminal

    _write(_console_text(lambda console: render_terminal(report, console, verbose=verbose), output), output)


def _exit_code(report, fail_on: FailOn) -> int:
    if fail_on is FailOn.never:
        return EXIT_OK
    worst = report.worst_severity()
    threshold = {"error": 3, "warning": 2, "info": 1}[fail_on.value]
    return EXIT_FINDINGS if worst is not None and worst.rank >= threshold else EXIT_OK


@app.command()
def collect(
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
    from .snapshot_file import snapshot_to_json
    from .common.redact import redact_snapshot

    text = snapshot_to_json(redact_snapshot(_collect(nvml_profile, root, ollama_log, lspci=lspci), redact))
    _write(text, output)


class RulesFormat(str, enum.Enum):
    terminal = "terminal"
    json = "json"
    markdown = "markdown"


@app.command("rules")
def list_rules(
    markdown: bool = typer.Option(False, "--markdown", help="Print every rule's documentation as Markdown "
                                                            "(this is how docs/rules.md is made)."),
    output_format: RulesFormat = typer.Option(RulesFormat.terminal, "--format", "-f",
                                              help="terminal (one line per rule), json (id, area, scope, summary, "
                                                   "documentation of each rule) or markdown (as --markdown)."),
) -> None:
    """List every rule: id, area, scope and what it checks."""
    from .rules import RENAMED, all_rules

    if output_format is RulesFormat.json:
        from .reports.rules_doc import render_rules_json

        typer.echo(render_rules_json(all_rules(), RENAMED), nl=False)
        return
    if markdown or output_format is RulesFormat.markdown:
        from .reports.rules_doc import render_rules_markdown

        typer.echo(render_rules_markdown(all_rules(), RENAMED), nl=False)
        return
    for rule in all_rules():
        typer.echo(f"{rule.id:<36} {rule.area:<9} {rule.scope:<9} {rule.summary}")


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
    from .rules import RENAMED, find_rule

    found = find_rule(rule_id)
    if found is None:
        from .doctor.policy import known_rule_ids

        raise _fail(f"no rule {rule_id!r}{_did_you_mean(rule_id, known_rule_ids())}; `gpubal rules` lists them")
    if rule_id in RENAMED:
        typer.echo(f"({rule_id} is now {found.id})\n")
    typer.echo(f"{found.id} ({found.area}): {found.summary}\n")
    typer.echo(found.documentation)


class TopoFormat(str, enum.Enum):
    terminal = "terminal"
    json = "json"


TOPO_FORMAT_BY_EXTENSION = {".json": TopoFormat.json, ".txt": TopoFormat.terminal}


@app.command()
def topo(
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
    from .placement.advice import advise
    from .common.redact import redact_snapshot

    targets = _targets(output, output_format, TOPO_FORMAT_BY_EXTENSION, TopoFormat.terminal)
    if from_dumps:
        facts = _from_dumps(from_dumps)
    else:
        facts = _load_snapshot(snapshot) if snapshot is not None else _collect(nvml_profile, root, ask_ollama=False)
    facts = redact_snapshot(facts, redact)
    try:
        advice = advise(facts, group_size)
    except ValueError as error:
        raise _fail(str(error))
    from .reports import topo as renderers

    for target, chosen in targets:
        if chosen is TopoFormat.json:
            _write(renderers.render_topo_json(advice), target)
        else:
            _write(_console_text(lambda console: renderers.render_topo_terminal(advice, console), target), target)
    if not advice.topology.gpus:
        from .model import Unavailable
        from .reports.words import phrase

        status = facts.driver.nvml_status
        why = f": NVML {phrase(status)}" if isinstance(status, Unavailable) else ""
        if advice.topology.excluded:  # GPUs were listed, none could be named (the notes say why)
            why = f": every GPU listed ({len(advice.topology.excluded)}) is left out; the notes say why"
        typer.echo(f"gpubal: no GPU to place{why}", err=True)
        raise typer.Exit(EXIT_FINDINGS)


def _console_text(render, output: Optional[Path]) -> str:
    """What a rich renderer prints, laid out for PLAIN_WIDTH unless stdout is a colour terminal (then "").
    A file never gets escape codes, whatever FORCE_COLOR says; standard output gets colour on a terminal,
    or when FORCE_COLOR asks for it (rich reads it), unless NO_COLOR is set."""
    import io

    from .reports.visible import safe_console

    colour_wanted = sys.stdout.isatty() or bool(os.environ.get("FORCE_COLOR"))
    if _is_stdout(output) and colour_wanted and "NO_COLOR" not in os.environ:
        render(safe_console())
        return ""
    buffer = io.StringIO()
    render(safe_console(file=buffer, width=PLAIN_WIDTH, no_color=True, color_system=None, force_terminal=False))
    return buffer.getvalue()


class BalanceFormat(str, enum.Enum):
    terminal = "terminal"
    json = "json"
    markdown = "markdown"
    html = "html"


BALANCE_FORMAT_BY_EXTENSION = {".json": BalanceFormat.json, ".md": BalanceFormat.markdown,
                               ".markdown": BalanceFormat.markdown, ".html": BalanceFormat.html,
                               ".htm": BalanceFormat.html, ".txt": BalanceFormat.terminal}


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
    from .balance.analysis import analyze

    _check_window(seconds, interval_ms)
    if max_imbalance is not None and not (math.isfinite(max_imbalance) and max_imbalance >= 0):
        # NaN compares false with everything, so it would let every imbalance pass the gate
        raise _fail(f"--max-imbalance must be a finite number of percentage points, 0 or more (got {max_imbalance})")
    targets = _targets(output, output_format, BALANCE_FORMAT_BY_EXTENSION, BalanceFormat.terminal)
    recording = _sample_balance(nvml_profile, root, seconds, interval_ms / 1000.0)
    report = analyze(recording)
    from .reports import balance as renderers

    if prometheus is not None:
        _write(renderers.render_balance_prometheus(report), prometheus)  # atomic: the collector may read any time
    for target, chosen in targets:
        if chosen is BalanceFormat.terminal:
            _write(_console_text(lambda console: renderers.render_balance_terminal(report, console), target), target)
        else:
            render = {BalanceFormat.json: renderers.render_balance_json, BalanceFormat.markdown:
                      renderers.render_balance_markdown, BalanceFormat.html: renderers.render_balance_html}[chosen]
            _write(render(report), target)
    if report.sample_count == 0:
        typer.echo("gpubal: no sample could be taken" + (f": NVML did not start ({report.nvml_failure.describe()})"
                                                        if report.nvml_failure is not None else ""), err=True)
        raise typer.Exit(EXIT_FINDINGS)
    if max_imbalance is not None:
        from .model import Unavailable

        stddev = report.imbalance.stddev_points
        if isinstance(stddev, Unavailable):
            typer.echo(f"gpubal: the imbalance could not be measured ({stddev.describe()}), so --max-imbalance "
                       "cannot pass", err=True)
            raise typer.Exit(EXIT_FINDINGS)
        if stddev.value > max_imbalance:
            raise typer.Exit(EXIT_FINDINGS)


def _check_window(seconds: float, interval_ms: int) -> None:
    if not (math.isfinite(seconds) and seconds > 0) or interval_ms <= 0:
        raise _fail(f"--seconds and --interval must be positive and finite (got {seconds} and {interval_ms})")


def _sample_balance(nvml_profile: Optional[Path], root: str, seconds: float, interval_s: float):
    from .balance.sampler import ollama_url_from_environment, sample
    from .doctor.collect import _nothing_answers
    from .doctor.probes.files import HostFiles
    from .doctor.probes.deadline import DeadlineAdapter
    from .doctor.probes.nvml import ProfileError, PynvmlAdapter, ReplayAdapter

    if nvml_profile is not None:
        try:
            adapter = ReplayAdapter.from_file(str(nvml_profile))
        except ProfileError as error:
            raise _fail(str(error))
        from .model import Reason, Unavailable

        not_asked = Unavailable(Reason.NOT_FOUND, "replay", "a replay asks no server")
        return sample(adapter, HostFiles(root), _nothing_answers, not_asked,
                      seconds, interval_s, f"nvml-profile:{nvml_profile.name}", replay=True)
    from .doctor.probes.http import get_json

    if os.path.realpath(root) != "/":  # the server on this host is not the tree's
        from .doctor import live

        get_json = live.not_asked(f"not asked: under --root {root}, a server on this host is not the tree's")
    progress_console = None
    if sys.stderr.isatty():
        from .reports.visible import safe_console

        progress_console = safe_console(stderr=True)
    if progress_console is None:
        return sample(DeadlineAdapter(PynvmlAdapter()), HostFiles(root), get_json, ollama_url_from_environment(os.environ),
                      seconds, interval_s, "live")
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("sampling GPUs (Ctrl-C ends early)"), BarColumn(), TextColumn("{task.description}"),
                  TimeRemainingColumn(), console=progress_console, transient=True) as progress:
        task = progress.add_task("", total=max(1, int(round(seconds / interval_s))))

        def on_sample(taken: int, wanted: int, latest) -> None:
            utils = [getattr(r.utilization_percent, "value", None) for r in latest.gpus]
            progress.update(task, completed=taken, description=" ".join(
                f"{u:>3}%" if u is not None else "  ?" for u in utils))

        return sample(DeadlineAdapter(PynvmlAdapter()), HostFiles(root), get_json, ollama_url_from_environment(os.environ),
                      seconds, interval_s, "live", on_sample=on_sample)


@app.command("slurm-healthcheck")
def slurm_healthcheck(
    node: Optional[str] = typer.Option(None, "--node", metavar="NAME", help="The Slurm NodeName. Default: `hostname -s`."),
    fail_on: FailOn = typer.Option(FailOn.error, "--fail-on",
                                   help="Drain when a finding has at least this severity."),
    scontrol: str = typer.Option("scontrol", "--scontrol", metavar="PROGRAM", help="The scontrol program to call."),
    snapshot: Optional[Path] = typer.Option(None, "--snapshot", "-s", metavar="FILE", help=_SNAPSHOT_HELP),
    policy: Optional[Path] = typer.Option(None, "--policy", metavar="FILE", help="Check this site policy (TOML) too."),
    nvml_profile: Optional[Path] = typer.Option(None, "--nvml-profile", metavar="FILE", help=_PROFILE_HELP),
    root: str = typer.Option("/", "--root", metavar="DIR", help=_ROOT_HELP),
) -> None:
    """For Slurm's HealthCheckProgram: check this node; when unhealthy, drain it with a reason that starts
    with `gpubal:` and names the rules and GPUs; when healthy again, resume it only if gpubal drained it.
    Exit 0 healthy, 1 unhealthy (drained, or left drained for another reason), 2 bad input or scontrol
    failed. See deploy/slurm/."""
    from .doctor.engine import evaluate
    from .integrations.slurm import SlurmError, health_check, short_hostname
    from .rules import all_rules

    facts = _load_snapshot(snapshot) if snapshot is not None else _collect(nvml_profile, root)
    report = evaluate(facts, all_rules(), _load_policy(policy) if policy is not None else None)
    name = node or short_hostname()
    threshold = "error" if fail_on is FailOn.never else fail_on.value
    try:
        action = health_check(report, name, threshold, scontrol=scontrol)
    except SlurmError as error:
        raise _fail(str(error))
    done = {"drain": f"drained {name}: {action.reason}", "resume": f"resumed {name}: {action.reason}"}
    typer.echo(done.get(action.kind, f"{name}: {action.reason}"))
    raise typer.Exit(EXIT_FINDINGS if action.problem else EXIT_OK)


class FleetFormat(str, enum.Enum):
    terminal = "terminal"
    json = "json"
    markdown = "markdown"
    html = "html"


FLEET_FORMAT_BY_EXTENSION = {".json": FleetFormat.json, ".md": FleetFormat.markdown, ".markdown": FleetFormat.markdown,
                             ".html": FleetFormat.html, ".htm": FleetFormat.html, ".txt": FleetFormat.terminal}


@app.command(cls=_PlainArguments)
def fleet(
    inputs: List[str] = typer.Argument(..., metavar="REPORT...",
                                       help="Reports or snapshots: directories (every *.json below), files, "
                                            "tarballs, *.jsonl, globs, or - for JSON documents on stdin."),
    output_format: Optional[FleetFormat] = typer.Option(
        None, "--format", "-f", help="terminal, json, markdown or html. Default: from -o's extension (.json .md "
                                     ".html .txt), else terminal."),
    output: Optional[List[Path]] = typer.Option(None, "--output", "-o", metavar="FILE", help=_OUTPUT_HELP),
    stale_after: str = typer.Option("24h", "--stale-after", metavar="AGE",
                                    help="A report this much older than the newest one is stale (90m, 6h, 2d)."),
    expect_hosts: Optional[Path] = typer.Option(None, "--expect-hosts", metavar="FILE",
                                                help="A file of host names, one a line: those without a report "
                                                     "are listed as missing."),
    fail_on: FailOn = typer.Option(FailOn.error, "--fail-on",
                                   help="Exit 1 when a host has a finding of at least this severity, or a host "
                                        "is missing, or an input is unreadable; never: always exit 0."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, metavar="N",
                                       help="Processes that parse reports at once. Default: the CPUs this "
                                            "process may use (at most 8)."),
) -> None:
    """Aggregate many hosts' reports: hosts by verdict, each finding with its hosts, drift between hosts of
    one GPU model, stale and missing hosts, the worst hosts first. Reads one report at a time.
    Examples: `gpubal fleet reports/`; `gpubal fleet reports.tar.gz -o fleet.html`; `cat *.json | gpubal fleet -`."""
    from .fleet.aggregate import FleetBuilder, parse_duration, read_expected_hosts
    from .fleet.sources import SourceError, default_jobs, read_all

    targets = _targets(output, output_format, FLEET_FORMAT_BY_EXTENSION, FleetFormat.terminal)
    try:
        stale_seconds = parse_duration(stale_after)
    except ValueError as error:
        raise _fail(f"--stale-after: {error}")
    expected = read_expected_hosts(_read_text(expect_hosts, "host list")) if expect_hosts is not None else None
    builder = FleetBuilder()
    try:
        for item in read_all(inputs, jobs=jobs or default_jobs()):
            builder.add(item)
    except SourceError as error:
        raise _fail(str(error))
    if builder.inputs_read == 0:
        raise _fail("no report found in " + ", ".join(inputs))
    report = builder.finish(stale_seconds, expected)
    from .reports import fleet as renderers

    for target, chosen in targets:
        if chosen is FleetFormat.terminal:
            _write(_console_text(lambda console: renderers.render_fleet_terminal(report, console), target), target)
        else:
            render = {FleetFormat.json: renderers.render_fleet_json,
                      FleetFormat.markdown: renderers.render_fleet_markdown,
                      FleetFormat.html: renderers.render_fleet_html}[chosen]
            _write(render(report), target)
    for item in report.unreadable[:5]:
        typer.echo(f"gpubal: unreadable: {item.source}: {item.reason}", err=True)
    if fail_on is FailOn.never:
        raise typer.Exit(EXIT_OK)
    threshold = {"error": ("error",), "warning": ("error", "warning"), "info": ("error", "warning", "info")}
    flagged = any(group.severity in threshold[fail_on.value] for group in report.findings)
    raise typer.Exit(EXIT_FINDINGS if flagged or report.missing or report.unreadable else EXIT_OK)


@debug_app.command("record-nvml")
def record_nvml(
    output: Path = typer.Option(..., "--output", "-o", metavar="FILE", help="Write the NVML profile (JSON) here."),
    description: str = typer.Option("", "--description", metavar="TEXT",
                                    help="What host this is, for the profile's readers."),
    root: str = typer.Option("/", "--root", metavar="DIR", help=_ROOT_HELP),
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


@debug_app.command("record-balance")
def record_balance(
    output: Path = typer.Option(..., "--output", "-o", metavar="FILE",
                                help="Write the NVML profile with its samples (JSON) here."),
    seconds: float = typer.Option(10.0, "--seconds", metavar="SECONDS", help="Sample for this long."),
    interval_ms: int = typer.Option(200, "--interval", metavar="MS", help="Milliseconds between samples."),
    description: str = typer.Option("", "--description", metavar="TEXT", help="What host and load this is, for the profile's readers."),
) -> None:
    """Record what `gpubal balance` samples on this host into a profile that `balance --nvml-profile` replays."""
    import json

    from .balance.sampler import sample
    from .doctor.collect import _nothing_answers
    from .model import Reason, Unavailable
    from .doctor.probes.files import HostFiles
    from .doctor.probes.nvml import PynvmlAdapter, RecordingAdapter

    _check_window(seconds, interval_ms)
    recorder = RecordingAdapter(PynvmlAdapter())
    recorder.sample_interval_s = interval_ms / 1000.0
    not_asked = Unavailable(Reason.NOT_IN_INPUT, "record-balance", "a recording asks no Ollama server")
    recording = sample(recorder, HostFiles("/"), _nothing_answers, not_asked, seconds, interval_ms / 1000.0, "live")
    _write(json.dumps(recorder.profile(description), indent=1) + "\n", output)
    typer.echo(f"recorded {len(recording.samples)} samples of {len(recording.gpus)} GPUs into {output}", err=True)


@debug_app.command("repeat")
def repeat(
    runs: int = typer.Argument(10, help="How many times to collect."),
    nvml_profile: Optional[Path] = typer.Option(None, "--nvml-profile", help=_PROFILE_HELP),
    root: str = typer.Option("/", "--root", help=_ROOT_HELP),
) -> None:
    """Collect this host RUNS times, each in a fresh process, and print every fact that differed between runs.

    Exit 0 when no fact that should stay the same changed, 1 when one did."""
    import json
    import subprocess

    from .doctor.repeat import differences, render, split_by_nature

    if runs < 2:
        raise _fail("RUNS must be at least 2 to compare runs")
    command = [sys.executable, "-m", "gpubal", "collect", "-o", "-", "--root", root]
    if nvml_profile is not None:
        command += ["--nvml-profile", str(nvml_profile)]
    snapshots, failures = [], []
    for run in range(runs):
        typer.echo(f"collecting {run + 1}/{runs}", err=True)
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        try:
            snapshots.append(json.loads(done.stdout))
        except ValueError:
            failures.append(f"run {run + 1}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
    wrong, natural = split_by_nature(differences(snapshots))
    typer.echo(render(runs, failures, wrong, natural), nl=False)
    raise typer.Exit(EXIT_FINDINGS if wrong or failures else EXIT_OK)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("gpubal: interrupted", err=True)
        sys.exit(130)
    except SystemExit as leaving:
        _leave_now_if_nvml_hung(leaving.code)
        raise
    except Exception as error:  # noqa: BLE001 - last resort: one line, not a traceback
        typer.echo(f"gpubal: internal error: {type(error).__name__}: {error} "
                   "(this is a bug; set GPUBAL_TRACEBACK=1 to see where)", err=True)
        if os.environ.get("GPUBAL_TRACEBACK"):
            raise
        sys.exit(EXIT_INTERNAL)


def _leave_now_if_nvml_hung(code) -> None:
    """An NVML call abandoned past its deadline still holds its thread, which Python would wait for at
    exit forever; once the report is out, leave without waiting."""
    from .doctor.collect import abandoned_threads

    if abandoned_threads.is_set():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else EXIT_INTERNAL)
