"""Helpers for the rules about Ollama.

When every trace of Ollama was looked for and is positively absent (no binary on PATH, no systemd unit,
no process, no log, and the server's port refused the connection), the Ollama rules do not apply, with
that reason. When some trace could not be looked at (a server that did not answer in time, a recording
or pasted text that did not include Ollama), they are *not evaluated* on one fact, `ollama`, so the
report says it once. A host without Ollama is not a host where Ollama passed, and a server that did not
answer in time must not read as "no Ollama".
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from ..model import FactMissing, Known, NotApplicable, Ollama, Reason, Snapshot, Unavailable, need

SETTINGS_SOURCES = ("the running server's environment", "the server's `server config` log line",
                    "the ollama systemd unit")


def require_ollama(snapshot: Snapshot) -> Ollama:
    """The Ollama facts, or FactMissing("ollama") when no trace of Ollama was found."""
    ollama = snapshot.ollama
    facts = {"binary": ollama.binary_path, "server": ollama.server_version, "unit": ollama.service_environment,
             "process": ollama.process_environment, "log": ollama.log_source}
    if all(isinstance(fact, Unavailable) for fact in facts.values()):
        unknown = {name: fact for name, fact in facts.items() if fact.reason is not Reason.NOT_FOUND}
        if not unknown:
            detail = "; ".join(f"{name}: {fact.detail or fact.reason.value}" for name, fact in facts.items())
            raise NotApplicable(f"no Ollama on this host ({detail})")
        name, first = next(iter(unknown.items()))
        raise FactMissing("ollama", Unavailable(first.reason, first.source, f"{name}: {first.detail or first.reason.value}; "
                                                "no other trace of Ollama found"))
    return ollama


def settings(ollama: Ollama) -> List[Tuple[str, Dict[str, str]]]:
    """The server's settings as each readable source has them, most authoritative first."""
    found = []
    for label, fact in zip(SETTINGS_SOURCES, (ollama.process_environment, ollama.log_server_config,
                                              ollama.service_environment)):
        if isinstance(fact, Known):
            found.append((label, fact.value))
    return found


def setting(ollama: Ollama, name: str) -> Tuple[Optional[str], str]:
    """(value, where) of one setting from the most authoritative source that is readable; value None when
    that source says it is unset (the log prints unset variables as empty). FactMissing when no source
    of the server's settings could be read."""
    sources = settings(ollama)
    if not sources:
        need(ollama.process_environment, "ollama.process_environment")
    label, values = sources[0]
    value = values.get(name)
    if label == SETTINGS_SOURCES[1] and value == "":
        value = None
    return value, label


def truthy(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def edit_unit(*lines: str) -> str:
    """The command that opens the Ollama unit's drop-in, with the lines to put there as its comment:
    a fix lists commands to run, and an `Environment=` line on its own is not one."""
    return "sudo systemctl edit ollama   # under [Service]: " + " ".join(lines)


# How the dump reader names the GPUs it took from Ollama's own log (doctor/ingest/ollama_log.GPU_SECTION)
OLLAMA_LISTED_GPUS = "GPUs as Ollama lists them"


def gpus_seen_by_ollama_only(snapshot: Snapshot) -> bool:
    """True when the snapshot's GPUs are the ones Ollama's log lists: those are the GPUs Ollama could see,
    numbered its own way, so they cannot show which GPUs Ollama was kept from."""
    return isinstance(snapshot.gpus, Known) and OLLAMA_LISTED_GPUS in snapshot.gpus.source
