"""Programs gpubal runs (`ollama -v`, `journalctl`), always with a timeout, never through a shell.

A `CommandRunner` is injectable: tests pass one that answers from recorded output."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable, Sequence, Union

from ...model import Reason, Unavailable

if TYPE_CHECKING:
    import subprocess

CommandRunner = Callable[[Sequence[str], float], Union[str, Unavailable]]


def run_command(argv: Sequence[str], timeout_s: float) -> Union[str, Unavailable]:
    """stdout and stderr of the program, or why there is none. The program starts in a process group of
    its own; past the timeout the whole group is killed, so no child it started is left running."""
    import subprocess  # here: `gpubal topo` runs no program and never pays for it

    source = " ".join(argv)
    try:
        process = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    except FileNotFoundError:
        return Unavailable(Reason.NOT_FOUND, source, f"{argv[0]} is not installed")
    except PermissionError as error:
        return Unavailable(Reason.NO_PERMISSION, source, str(error))
    except OSError as error:
        return Unavailable(Reason.ERROR, source, str(error))
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        return Unavailable(Reason.TIMEOUT, source, f"no answer within {timeout_s:g} s")
    except BaseException:
        _kill_group(process)
        raise
    text = output.decode("utf-8", errors="replace")
    if process.returncode != 0:
        return Unavailable(Reason.ERROR, source, f"exit status {process.returncode}: {text.strip()[:300]}")
    return text


def _kill_group(process: "subprocess.Popen[bytes]") -> None:
    import signal

    try:
        os.killpg(process.pid, signal.SIGKILL)  # the group's id is the leader's pid (start_new_session)
    except (ProcessLookupError, PermissionError):
        try:
            process.kill()
        except OSError:
            pass
    process.wait()
    if process.stdout is not None:
        process.stdout.close()
