"""Programs gpubal runs (`ollama -v`, `journalctl`), always with a timeout, never through a shell.

A `CommandRunner` is injectable: tests pass one that answers from recorded output."""

from __future__ import annotations

import subprocess
from typing import Callable, Sequence, Union

from ..model import Reason, Unavailable

CommandRunner = Callable[[Sequence[str], float], Union[str, Unavailable]]


def run_command(argv: Sequence[str], timeout_s: float) -> Union[str, Unavailable]:
    """stdout and stderr of the program, or why there is none."""
    source = " ".join(argv)
    try:
        process = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 timeout=timeout_s, check=False)
    except FileNotFoundError:
        return Unavailable(Reason.NOT_FOUND, source, f"{argv[0]} is not installed")
    except PermissionError as error:
        return Unavailable(Reason.NO_PERMISSION, source, str(error))
    except subprocess.TimeoutExpired:
        return Unavailable(Reason.TIMEOUT, source, f"no answer within {timeout_s:g} s")
    except OSError as error:
        return Unavailable(Reason.ERROR, source, str(error))
    text = process.stdout.decode("utf-8", errors="replace")
    if process.returncode != 0:
        return Unavailable(Reason.ERROR, source, f"exit status {process.returncode}: {text.strip()[:300]}")
    return text
