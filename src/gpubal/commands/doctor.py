"""`gpubal doctor` and `gpubal slurm-healthcheck` without the command line: facts from a source, the
rules, the renderers, an exit status. The typer command and gpubal.entry's fast path both call
`run_doctor` with the same `DoctorOptions`, so they print the same bytes."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Callable, List, Optional, Sequence, Tuple

from .. import outputs
from ..sources import InputError, Source, load_policy, say, snapshot_of

if TYPE_CHECKING:
    from pathlib import Path  # annotations only: the fast path's options carry Paths, made where they are read


class DoctorOptions:
    """What a `gpubal doctor` command line asks for, as typer or gpubal.plain_argv read it. A plain class:
    a NamedTuple costs about 0.5 ms of every start to build."""

    __slots__ = ("source", "output_format", "outputs", "redact", "policy", "ignore", "fail_on", "verbose",
                 "prometheus", "npd", "npd_rules", "npd_max_length")

    def __init__(self, source: Source, output_format: Optional[str] = None, outputs: Sequence[Path] = (),
                 redact: Optional[bool] = None, policy: Optional[Path] = None, ignore: Sequence[str] = (),
                 fail_on: str = "error", verbose: bool = False, prometheus: Optional[Path] = None,
                 npd: bool = False, npd_rules: Sequence[str] = (), npd_max_length: int = 80) -> None:
        self.source, self.output_format, self.outputs, self.redact = source, output_format, outputs, redact
        self.policy, self.ignore, self.fail_on, self.verbose = policy, ignore, fail_on, verbose
        self.prometheus, self.npd, self.npd_rules, self.npd_max_length = prometheus, npd, npd_rules, npd_max_length


def evaluate_source(source: Source, policy: Optional[Path], early=None, ahead: Callable[[], None] = lambda: None):
    """The report on `source`'s facts. What does not need the facts (the rules, `ahead`) is done first:
    on a live host, the early collection is still waiting for NVML meanwhile."""
    from ..doctor.engine import evaluate
    from ..rules import all_rules

    rules = all_rules()
    ahead()
    facts = snapshot_of(source, early)
    return evaluate(facts, rules, load_policy(policy) if policy is not None else None)


def run_doctor(options: DoctorOptions, early=None) -> int:
    """Print and write the report; the exit status it earns."""
    targets = outputs.targets(list(options.outputs), options.output_format, outputs.FORMAT_BY_EXTENSION, "terminal")
    ignored = resolve_ignored(options.ignore)
    def ahead() -> None:  # while the early collection waits for NVML; --npd prints no report
        if early is not None and not options.npd:
            outputs.prepare(outputs.DOCTOR_RENDERERS, targets)

    report = evaluate_source(options.source, options.policy, early, ahead)
    if ignored:
        import dataclasses

        from ..doctor.policy import ignore_rules

        report = dataclasses.replace(report, results=tuple(ignore_rules(report.results, ignored)))
    if options.prometheus is not None:
        from ..reports.prometheus import render_doctor_prometheus

        outputs.write(render_doctor_prometheus(report), options.prometheus)  # atomic: the collector may read any time
    if options.npd:
        return _npd_plugin(report, options, targets if options.outputs else [])
    for target, chosen in targets:
        _render(report, chosen, target, options.redact, options.verbose)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        _append_step_summary(report, os.environ["GITHUB_STEP_SUMMARY"],
                             options.redact if options.redact is not None else True)
    return outputs.exit_code(report, options.fail_on)


def _render(report, chosen: str, target: Optional[Path], redact: Optional[bool], verbose: bool = False) -> None:
    hide = redact if redact is not None else chosen in outputs.REDACTED_BY_DEFAULT
    outputs.write(outputs.DOCTOR_RENDERERS[chosen].render(report, target, hide, verbose), target)


def _npd_plugin(report, options: DoctorOptions, targets: List[Tuple[Optional[Path], str]]) -> int:
    """node-problem-detector's custom plugin contract: stdout is the condition's message (NPD cuts it at
    max_output_length), the exit status is 0 OK, 1 problem, anything else unknown. -o files still get the
    full report for people, beside the line for NPD (never standard output, which is NPD's)."""
    from ..reports.oneline import summary_line

    for target, chosen in targets:
        if target is not None:
            _render(report, chosen, target, options.redact)
    threshold = "error" if options.fail_on == "never" else options.fail_on
    problem, line = summary_line(report, threshold, options.npd_max_length, list(options.npd_rules))
    sys.stdout.write(line + "\n")
    return outputs.EXIT_FINDINGS if problem and options.fail_on != "never" else outputs.EXIT_OK


def resolve_ignored(rule_ids: Sequence[str]) -> Tuple[str, ...]:
    """--ignore's rule ids as the ids the rules have now (a renamed id still works); an unknown id is bad input."""
    if not rule_ids:
        return ()
    from ..doctor.policy import known_rule_ids

    known = known_rule_ids()
    resolved = []
    for rule_id in rule_ids:
        if rule_id not in known:
            raise InputError(f"--ignore: no rule {rule_id!r}{did_you_mean(rule_id, known)}; `gpubal rules` lists them")
        resolved.append(known[rule_id])
    return tuple(resolved)


def did_you_mean(word: str, choices) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _append_step_summary(report, path: str, redact: bool) -> None:
    """GitHub Actions shows what a step appends to $GITHUB_STEP_SUMMARY on the run's page."""
    from ..reports.markdown import render_markdown

    try:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(render_markdown(report, redact=redact, summary=True) + "\n")
    except OSError as error:
        say(f"cannot append to GITHUB_STEP_SUMMARY {path}: {error.strerror}")


def slurm_healthcheck(source: Source, policy: Optional[Path], node: Optional[str], fail_on: str, scontrol: str,
                      early=None) -> int:
    from ..integrations.slurm import SlurmError, health_check, short_hostname

    report = evaluate_source(source, policy, early)
    name = node or short_hostname()
    try:
        action = health_check(report, name, "error" if fail_on == "never" else fail_on, scontrol=scontrol)
    except SlurmError as error:
        raise InputError(str(error))
    done = {"drain": f"drained {name}: {action.reason}", "resume": f"resumed {name}: {action.reason}"}
    sys.stdout.write(done.get(action.kind, f"{name}: {action.reason}") + "\n")
    return outputs.EXIT_FINDINGS if action.problem else outputs.EXIT_OK
