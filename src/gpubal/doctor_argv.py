"""`gpubal doctor`'s plain command lines, read without building the typer app (about 20 ms of a start
that should beat `nvidia-smi -q`). Only what typer would read the same way is read here: known options,
each value in its own argument or after `=`, valid choices, no repeated single option. Anything else
(help, a typo, an invalid choice, --npd) returns None, and the typer command line reads it, with its own
messages. The option names, choices and defaults mirror the `doctor` command in gpubal.cli; a test
holds the two side by side and runs both on the same command lines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

_TEXT, _PATH, _FLAG = "text", "path", "flag"
_FORMATS = ("terminal", "json", "markdown", "html", "junit")
_FAIL_ON = ("error", "warning", "info", "never")

# option -> (DoctorOptions or Source field, kind, repeatable, choices or the flag's value)
OPTIONS: Dict[str, Tuple[str, str, bool, Any]] = {
    "--snapshot": ("snapshot", _PATH, False, None), "-s": ("snapshot", _PATH, False, None),
    "--format": ("output_format", _TEXT, False, _FORMATS), "-f": ("output_format", _TEXT, False, _FORMATS),
    "--output": ("outputs", _PATH, True, None), "-o": ("outputs", _PATH, True, None),
    "--redact": ("redact", _FLAG, False, True), "--no-redact": ("redact", _FLAG, False, False),
    "--policy": ("policy", _PATH, False, None),
    "--ignore": ("ignore", _TEXT, True, None),
    "--fail-on": ("fail_on", _TEXT, False, _FAIL_ON),
    "--verbose": ("verbose", _FLAG, False, True), "-v": ("verbose", _FLAG, False, True),
    "--nvml-profile": ("nvml_profile", _PATH, False, None),
    "--root": ("root", _TEXT, False, None),
    "--ollama-log": ("ollama_log", _PATH, False, None),
    "--lspci": ("lspci", _PATH, False, None),
    "--from": ("dumps", _TEXT, True, None),
    "--prometheus": ("prometheus", _PATH, False, None),
}
_SOURCE_FIELDS = ("snapshot", "dumps", "nvml_profile", "root", "ollama_log", "lspci")


def parse_doctor_argv(argv: Sequence[str]) -> Optional[Any]:
    """DoctorOptions for `doctor ...` when every argument is plain; None: let typer read it."""
    if not argv or argv[0] != "doctor" or any(key.endswith("_COMPLETE") for key in os.environ):
        return None  # not doctor, or a shell asking typer for completions
    values: Dict[str, Any] = {}
    rest = list(argv[1:])
    while rest:
        name, given = rest.pop(0), None
        if name.startswith("--") and "=" in name:
            name, given = name.split("=", 1)
        spec = OPTIONS.get(name)
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
        if kind == _PATH:
            if not _readable_or_absent(given):
                return None  # typer refuses an existing path it cannot read, in its words
            value: Any = Path(given)
        else:
            value = given
        if repeatable:
            values.setdefault(field, []).append(value)
        else:
            values[field] = value
    return _options(values)


def _readable_or_absent(path: str) -> bool:
    try:
        os.stat(path)
    except OSError:
        return True
    return os.access(path, os.R_OK)


def _options(values: Dict[str, Any]) -> Any:
    from .commands.doctor import DoctorOptions
    from .sources import Source

    source = Source(**{field: values.pop(field) for field in _SOURCE_FIELDS if field in values})
    return DoctorOptions(source, **values)

