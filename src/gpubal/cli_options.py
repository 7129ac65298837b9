"""What the command line's options say in --help, and the typer pieces gpubal.cli builds its commands
with: the group that ends a command on bad input with one line and exit 2, a --format choice made from a
command's renderer table, and a plain `RULE` for an argument's name in the usage line."""

from __future__ import annotations

import enum
from typing import Any, Iterable

import typer
import typer.core

from .outputs import EXIT_BAD_INPUT
from .sources import InputError, say

EXIT_CODES = (
    "Exit codes: 0 no finding at or above --fail-on; 1 findings at or above --fail-on; "
    "2 bad input (option, snapshot or profile file); 3 internal error."
)
APP = ("A read-only doctor for multi-GPU Linux hosts. It reads the driver, NVML, PCIe, NVLink, NVSwitch, MIG and "
       "NUMA facts of this host, checks them with rules and prints findings with evidence and fixes. It never "
       "changes the host. " + EXIT_CODES)
OUTPUT = "Write to this file instead of standard output (- is standard output); repeat for several formats."
SNAPSHOT = ("Read facts from this snapshot (from `gpubal collect`, or a JSON or Markdown report) instead of "
            "this host; `example` reads the 2 x H200 snapshot that ships with gpubal.")
PROFILE = "Replay NVML answers from this profile (from `gpubal debug record-nvml`) instead of the driver."
OLLAMA_LOG = "Read the Ollama server's log from this file instead of `journalctl -u ollama`."
LSPCI = ("Read PCIe ACS controls from this `sudo lspci -vvv` output instead of running lspci (which shows "
         "them only to root).")
FROM = ("Build the facts from text dumps instead of this host: nvidia-smi (table, -L, -q, -q -x), topo -m, "
        "topo -p2p, nvlink -s, Ollama logs, collect_env, nvidia-bug-report.log[.gz]; repeat for several "
        "dumps of one host; - reads standard input. Unreadable or unknown input exits 2.")
ROOT = "Read host files (/proc, /sys, /etc) under this directory instead of /; for tests and recorded trees."

DOCTOR_FORMAT = ("terminal (colour on a TTY, plain text elsewhere), json, markdown, html or junit. Default: from "
                 "-o's extension (.md .html .xml .json .txt), else terminal.")
DOCTOR_REDACT = ("Replace hostnames, IP and MAC addresses, user names in paths, GPU UUIDs and serials with "
                 "placeholders. Default: on for markdown and html, off for the others. Secret-looking "
                 "environment values are always dropped.")
POLICY = ("Check this site policy (TOML) too: expected GPU count and model, NVLink, minimum driver, rules to skip "
          "or re-grade, per host-name pattern.")
IGNORE = ("Do not evaluate this rule (repeatable); the report lists it as ignored. A policy file's rules.skip "
          "does the same per host.")
FAIL_ON = "Exit 1 when a finding has at least this severity; never: always exit 0."
VERBOSE = "List every passed check, not only their count."
DOCTOR_PROMETHEUS = ("Also write the findings raised, the run's time and the driver, GPU and NVLink facts here, in "
                     "the text format of node_exporter's textfile collector (written atomically).")
NPD = ("node-problem-detector custom plugin mode: print one line (at most --npd-max-length bytes) naming the "
       "rules and GPUs at or above --fail-on, and exit 0 (OK), 1 (problem) or 2-3 (unknown). -o still writes "
       "the full report.")
NPD_RULE = ("With --npd: only these rule ids decide (repeat; one NPD condition per group of rules). Default: "
            "every rule.")
NPD_MAX_LENGTH = "With --npd: the plugin config's max_output_length (NPD's default is 80 bytes)."
COLLECT_OUTPUT = "Write the snapshot (JSON) to this file; - for stdout."
COLLECT_REDACT = "Replace hostnames, addresses, user names in paths, GPU UUIDs and serials with placeholders."
RULES_MARKDOWN = "Print every rule's documentation as Markdown (this is how docs/rules.md is made)."
RULES_FORMAT = ("terminal (one line per rule), json (id, area, scope, summary, documentation of each rule) or "
                "markdown (as --markdown).")
GROUP_SIZE = "GPUs per group; repeat for several. Default: every size that divides the GPU count."
TOPO_FORMAT = "terminal or json. Default: from -o's extension (.json .txt), else terminal."
TOPO_REDACT = "Replace hostnames, GPU UUIDs and serials with placeholders."
SECONDS = "Sample for this long; Ctrl-C ends early and still reports."
INTERVAL = "Milliseconds between samples."
BALANCE_FORMAT = "terminal, json, markdown or html. Default: from -o's extension (.json .md .html .txt), else terminal."
BALANCE_PROMETHEUS = ("Also write per-GPU gauges and the imbalance here, in the text format of node_exporter's "
                      "textfile collector.")
MAX_IMBALANCE = ("Exit 1 when the imbalance (std dev of mean GPU utilization) is above this many percentage "
                 "points.")
FLEET_INPUTS = ("Reports or snapshots: directories (every *.json below), files, tarballs, *.jsonl, globs, or - for "
                "JSON documents on stdin.")
FLEET_FORMAT = ("terminal, json, markdown or html. Default: from -o's extension (.json .md .html .txt), "
                "else terminal.")
STALE_AFTER = "A report this much older than the newest one is stale (90m, 6h, 2d)."
EXPECT_HOSTS = "A file of host names, one a line: those without a report are listed as missing."
FLEET_FAIL_ON = ("Exit 1 when a host has a finding of at least this severity, or a host is missing, or an input "
                 "is unreadable; never: always exit 0.")
RULE_ID = "A rule id, as `gpubal rules` lists them."
HOST_DESCRIPTION = "What host this is, for the profile's readers."
LOAD_DESCRIPTION = "What host and load this is, for the profile's readers."
BALANCE_PROFILE_OUTPUT = "Write the NVML profile with its samples (JSON) here."
JOBS = "Processes that parse reports at once. Default: the CPUs this process may use (at most 8)."


class Commands(typer.core.TyperGroup):
    """Input a command cannot use ends it with one line on stderr and exit 2, never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as error:
            say(str(error))
            raise typer.Exit(EXIT_BAD_INPUT)


class PlainArguments(typer.core.TyperCommand):
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


def choices(name: str, values: Iterable[str]) -> Any:
    """A --format (or --fail-on) choice, one member per value in order: a command's renderer table."""
    return enum.Enum(name, {value: value for value in values}, type=str)


def value(choice: Any) -> Any:
    return choice.value if choice is not None else None
