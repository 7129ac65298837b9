"""Every file gpubal writes (-o, --prometheus, profiles) goes through `write_text_file`.

A reader (node_exporter's textfile collector, a CI step, a second gpubal) may open the file at any
moment, and two gpubal runs may write it at once: the text goes to a new file with an unpredictable
name in the same folder (tempfile.mkstemp: O_EXCL, so no other user can plant a link under that name),
is flushed to disk, and is renamed over the destination in one step. A reader sees the old file or the
new one, never a part; two writers leave one whole report. A symbolic link at the destination is
replaced by the file, never followed: `-o` in a shared folder cannot be pointed at another file.

Devices and streams (/dev/stdout, /dev/null, a FIFO) cannot be renamed over; they are written in place."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def _is_stream(path: Path) -> bool:
    """A destination that is written in place: anything under /dev or /proc (by the name given or
    where it leads), or an existing file that is not a regular file."""
    given = os.path.abspath(path)
    if given.startswith(("/dev/", "/proc/")) or os.path.realpath(path).startswith(("/dev/", "/proc/")):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_file(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically; OSError says why it could not be written."""
    path = Path(path)
    if _is_stream(path):
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)
        return
    if path.is_dir() and not path.is_symlink():
        raise IsADirectoryError(21, "Is a directory", str(path))
    folder = path.parent if str(path.parent) else Path(".")
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # as open() would have made it, not mkstemp's 0600
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself survive a crash; some filesystems refuse fsync on a folder, and the file is
    whole either way."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
