"""`gpubal doctor` and `gpubal topo` command lines that are plain, read without building the typer app
(about 20 ms of a start that should beat `nvidia-smi -q`). Only what typer would read the same way is
read here: known options, each value in its own argument or after `=`, valid choices, no repeated single
option. Anything else (help, a typo, an invalid choice, --npd) returns None, and the typer command line
reads it, with its own messages. The option names, choices and defaults mirror the commands in
gpubal.cli; a test holds the two side by side and runs both on the same command lines."""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

_TEXT, _PATH, _INT, _FLAG = "text", "path", "int", "flag"
Spec = Tuple[str, str, bool, Any]  # (field, kind, repeatable, the choices or the flag's value)


def _options(*specs: Tuple[Sequence[str], Spec]) -> Dict[str, Spec]:
    return {name: spec for names, spec in specs for name in names}


_SOURCE = (
    (("--snapshot", "-s"), ("snapshot", _PATH, False, None)),
    (("--nvml-profile",), ("nvml_profile", _PATH, False, None)),
    (("--root",), ("root", _TEXT, False, None)),
    (("--from",), ("dumps", _TEXT, True, None)),
    (("--output", "-o"), ("outputs", _PATH, True, None)),
)
DOCTOR_OPTIONS = _options(
    *_SOURCE,
    (("--format", "-f"), ("output_format", _TEXT, False, ("terminal", "json", "markdown", "html", "junit"))),
    (("--redact",), ("redact", _FLAG, False, True)), (("--no-redact",), ("redact", _FLAG, False, False)),
    (("--policy",), ("policy", _PATH, False, None)),
    (("--ignore",), ("ignore", _TEXT, True, None)),
    (("--fail-on",), ("fail_on", _TEXT, False, ("error", "warning", "info", "never"))),
    (("--verbose", "-v"), ("verbose", _FLAG, False, True)),
    (("--ollama-log",), ("ollama_log", _PATH, False, None)),
    (("--lspci",), ("lspci", _PATH, False, None)),
    (("--prometheus",), ("prometheus", _PATH, False, None)),
)
TOPO_OPTIONS = _options(
    *_SOURCE,
    (("--group-size", "-k"), ("group_sizes", _INT, True, None)),
    (("--format", "-f"), ("output_format", _TEXT, False, ("terminal", "json"))),
    (("--redact",), ("redact", _FLAG, False, True)),
)
_SOURCE_FIELDS = ("snapshot", "dumps", "nvml_profile", "root", "ollama_log", "lspci")


def plain_command(argv: Sequence[str]) -> Optional[Callable[[Any], int]]:
    """The command `argv` asks for, to call with the early collection (it returns the exit status), when
    every argument is plain; None: let typer read it."""
    if not argv or argv[0] not in ("doctor", "topo") or any(key.endswith("_COMPLETE") for key in os.environ):
        return None  # another command, or a shell asking typer for completions
    values = parse(argv[1:], DOCTOR_OPTIONS if argv[0] == "doctor" else TOPO_OPTIONS)
    if values is None:
        return None
    from .sources import Source

    source = Source(**{field: values.pop(field) for field in _SOURCE_FIELDS if field in values},
                    ask_ollama=argv[0] == "doctor")  # topo needs no Ollama facts
    if argv[0] == "doctor":
        from .commands.doctor import DoctorOptions, run_doctor

        options = DoctorOptions(source, **values)
        return lambda early: run_doctor(options, early)
    from .commands.topo import run_topo

    return lambda early: run_topo(source, values.get("group_sizes"), values.get("output_format"),
                                  values.get("outputs", ()), values.get("redact", False), early)


def parse(arguments: Sequence[str], table: Dict[str, Spec]) -> Optional[Dict[str, Any]]:
    """{field: value} for the options in `arguments`, or None where typer might read them otherwise."""
    values: Dict[str, Any] = {}
    rest = list(arguments)
    while rest:
        name, given = rest.pop(0), None
        if name.startswith("--") and "=" in name:
            name, given = name.split("=", 1)
        spec = table.get(name)
        if spec is None:
            return None
        field, kind, repeatable, extra = spec
        if field in values and not repeatable:
            return None  # typer keeps the last; rare enough to leave to it
        if kind == _FLAG:
            if given is not None:
                return None
            values[field] = extra
            continue
        if given is None:
            if not rest:
                return None
            given = rest.pop(0)
        if not given or (given.startswith("-") and given != "-") or (extra is not None and given not in extra):
            return None
        value = _value(kind, given)
        if value is None:
            return None
        if repeatable:
            values.setdefault(field, []).append(value)
        else:
            values[field] = value
    return values


def _value(kind: str, given: str) -> Any:
    if kind == _INT:
        # past Python's 4300-digit limit int() raises, which typer reports as an invalid integer
        return int(given) if given.isdigit() and given.isascii() and len(given) <= 18 else None
    if kind == _PATH:
        from pathlib import Path  # here: a plain `gpubal doctor` names no file

        try:
            os.stat(given)
        except OSError:
            return Path(given)
        # typer refuses an existing path it cannot read, in its words
        return Path(given) if os.access(given, os.R_OK) else None
    return given
