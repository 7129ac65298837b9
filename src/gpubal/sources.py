"""Where a command's facts come from, behind one function: `snapshot_of(Source(...))` returns a Snapshot
from the live host, a snapshot file (or the example that ships with gpubal), a replayed NVML profile, or
pasted text dumps, or raises `InputError` with one line that says why the input cannot be used.

Every command that reads facts (doctor, collect, topo, slurm-healthcheck) goes through it, and so does the
doctor's fast path in gpubal.entry: no typer here, so the command line and the fast path agree by
construction. The other files a user names (a policy, a host list, `lspci -vvv` output, an NVML profile
with samples) are read here too, with the same bounds and the same one-line errors."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Callable, Optional, Sequence

if TYPE_CHECKING:
    from pathlib import Path  # annotations only: the callers hand in Paths

MAX_INPUT_BYTES = 64 * 2**20  # any other file a user names (a host list): read whole, so bounded
EXAMPLE_SNAPSHOT = "example"  # `--snapshot example`: the 2 x H200 snapshot that ships inside the package


class InputError(Exception):
    """Input gpubal cannot use (a file, an option's value): the command line prints the message on one line
    and exits 2."""


def say(message: str) -> None:
    """One line on stderr; a message may quote a file name or pasted text, so control characters show
    as escapes."""
    from .reports.visible import visible

    sys.stderr.write(f"gpubal: {visible(message)}\n")
    sys.stderr.flush()


class Source:
    """What a command was asked to read: a snapshot file, pasted dumps, or a host (live, or an NVML
    profile replayed over a file tree under `root`)."""

    __slots__ = ("snapshot", "dumps", "nvml_profile", "root", "ollama_log", "lspci", "ask_ollama")

    def __init__(self, snapshot: Optional[Path] = None, dumps: Sequence[str] = (), nvml_profile: Optional[Path] = None,
                 root: str = "/", ollama_log: Optional[Path] = None, lspci: Optional[Path] = None,
                 ask_ollama: bool = True) -> None:
        self.snapshot, self.dumps, self.nvml_profile, self.root = snapshot, tuple(dumps), nvml_profile, root
        self.ollama_log, self.lspci, self.ask_ollama = ollama_log, lspci, ask_ollama

    def is_this_host(self) -> bool:
        """The live facts of this host under /, as gpubal.entry's early collection gathers them."""
        return (not self.dumps and self.snapshot is None and self.nvml_profile is None and self.root == "/"
                and self.ollama_log is None and self.lspci is None)


def snapshot_of(source: Source, early=None, notify: Callable[[str], None] = say):
    """The Snapshot `source` names, or InputError. `early`: a Future of this host's live facts that
    gpubal.entry started before the command line was imported, used when `source` is exactly those facts.
    `notify` hears what a user should know on the way (dumps that disagree, a wait for standard input)."""
    if source.dumps:
        return _from_dumps(source.dumps, notify)
    if source.snapshot is not None:
        return load_snapshot(source.snapshot)
    if early is not None and source.is_this_host():
        return early.result()
    return _collect(source)


def read_text(path: Path, what: str, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """A file the user named, as text, or InputError saying why it cannot be read."""
    from .common.bounded import TooLarge, check_size

    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)  # never more: a 10 GB file is refused, not loaded
        check_size(len(data), max_bytes)
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # as read_text() did
    except TooLarge as error:
        raise InputError(f"cannot read {what} {path}: {error}")
    except OSError as error:
        raise InputError(f"cannot read {what} {path}: {error.strerror}")
    except UnicodeDecodeError:
        raise InputError(f"cannot read {what} {path}: not UTF-8 text")


def load_snapshot(path: Path):
    from .snapshot_file import MAX_SNAPSHOT_BYTES, SnapshotError, snapshot_from_text

    if str(path) == EXAMPLE_SNAPSHOT and not path.exists():
        from importlib import resources

        text = resources.files("gpubal").joinpath("examples", "h200x2-snapshot.json").read_text(encoding="utf-8")
    else:
        text = read_text(path, "snapshot", MAX_SNAPSHOT_BYTES)
    try:
        return snapshot_from_text(text)
    except SnapshotError as error:
        raise InputError(f"{path}: {error}")


def load_policy(path: Path):
    from .doctor.policy import MAX_POLICY_BYTES, PolicyError, parse_policy

    text = read_text(path, "policy", MAX_POLICY_BYTES)
    try:
        return parse_policy(text, path.name)
    except PolicyError as error:
        raise InputError(f"{path}: {error}")


def replay_adapter(nvml_profile: Path):
    """The NVML answers recorded in a profile, to replay instead of asking the driver."""
    from .doctor.probes.nvml import ProfileError, ReplayAdapter

    try:
        return ReplayAdapter.from_file(str(nvml_profile))
    except ProfileError as error:
        raise InputError(str(error))


def _collect(source: Source):
    """Live facts, or a replay of a recorded NVML profile over a recorded file tree. A replay runs no
    program, asks no server and reads no environment: it is the recording, not this machine."""
    from .doctor.collect import collect_snapshot
    from .doctor.live import collect_live
    from .doctor.probes.files import HostFiles
    from .doctor.probes.nvml import ProfileError, ReplayAdapter

    log = str(source.ollama_log) if source.ollama_log is not None else None
    lspci_text = read_text(source.lspci, "lspci -vvv output") if source.lspci is not None else None
    if source.nvml_profile is None:
        return collect_live(source.root, log, source.ask_ollama, lspci_text)
    profile = source.nvml_profile
    try:
        adapter = ReplayAdapter.from_file(str(profile))
        # a profile is read lazily: a bad answer deep inside surfaces while collecting
        return collect_snapshot(adapter, HostFiles(source.root), origin=f"nvml-profile:{profile.name}",
                                ollama_log=log, lspci=lspci_text)
    except ProfileError as error:
        message = str(error)
        raise InputError(message if message.startswith(str(profile)) else f"{profile}: {message}")


def _from_dumps(names: Sequence[str], notify: Callable[[str], None]):
    """A partial snapshot from pasted text; dumps that disagree are named on stderr (and the facts they
    disagree on are left unavailable, so no rule judges either value)."""
    from .doctor.ingest.dumps import InputError as DumpError, snapshot_from_dumps

    if "-" in names and sys.stdin.isatty():  # otherwise it waits without a word
        notify("reading a dump from standard input: paste it, then press Ctrl-D (or pass a file: --from FILE)")
    try:
        ingested = snapshot_from_dumps(list(names))
    except DumpError as error:
        raise InputError(str(error))
    for conflict in ingested.conflicts:
        notify(f"conflict: {conflict.describe()}")
    return ingested.snapshot
