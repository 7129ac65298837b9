"""Files of the host, read relative to a root: `/` in production, a fixture tree in tests.

Every read answers a value or an `Unavailable` naming the path; nothing here raises for a missing or
unreadable file.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import List, Tuple, Union

from ...model import Reason, Unavailable

# The kernel's log device is character device 1:11 (Linux, Documentation/admin-guide/devices.txt:
# "11 = /dev/kmsg  Writes to this come out as printk's, reads export the buffer").
KMSG_DEVICE = (1, 11)


class HostFiles:
    def __init__(self, root: str = "/") -> None:
        self.root = root

    def path(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def _open_without_waiting(self, path: str) -> Union[int, Unavailable]:
        """A descriptor of `path` opened for reading without waiting: opening a FIFO would wait for a writer
        (the caller looks at what it opened before it reads)."""
        try:
            return os.open(self.path(path), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
        except OSError as error:
            return Unavailable(_reason(error), path, error.strerror or str(error))

    def read_text(self, path: str, limit_bytes: int = 1 << 20) -> Union[str, Unavailable]:
        """A regular file's text. Anything else is not read: opening a FIFO waits for a writer and reading
        a device can block, so a FIFO planted where a /proc or /sys file belongs would hang the doctor.
        (procfs and sysfs files are regular files.)"""
        descriptor = self._open_without_waiting(path)
        if isinstance(descriptor, Unavailable):
            return descriptor
        try:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode):
                return Unavailable(Reason.ERROR, path, "not a regular file: not read, as reading it could block")
            os.set_blocking(descriptor, True)
            # read(2) straight into bytes, up to the limit or the end, as a buffered file's read(limit) would:
            # a file object per read cost half of each small read (/proc/PID/comm is read for every process)
            chunks, left = [], limit_bytes
            while left > 0:
                chunk = os.read(descriptor, min(left, max(status.st_size + 1, 64 * 1024)))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks).decode("utf-8", errors="replace")
        except OSError as error:
            return Unavailable(_reason(error), path, error.strerror or str(error))
        finally:
            os.close(descriptor)

    def read_kernel_log(self, path: str = "/dev/kmsg", limit_bytes: int = 16 << 20) -> Union[List[str], Unavailable]:
        """The records of the kernel's ring buffer, oldest first, read from /dev/kmsg without waiting and
        without clearing anything: each read(2) of the device answers one record, and EAGAIN says that
        none is left (it would wait for the next one). A record overwritten while reading answers EPIPE
        and is skipped. A regular file at the path (a recorded ring buffer under a test root) is read
        as one record per line; anything else (a FIFO planted there, or another character device such
        as the console or /dev/null that a container put at that name) is not read."""
        descriptor = self._open_without_waiting(path)
        if isinstance(descriptor, Unavailable):
            return descriptor
        try:
            status = os.fstat(descriptor)
            mode = status.st_mode
            if stat.S_ISREG(mode):
                with os.fdopen(descriptor, "rb", closefd=False) as handle:
                    return handle.read(limit_bytes).decode("utf-8", errors="replace").splitlines()
            if not stat.S_ISCHR(mode):
                return Unavailable(Reason.ERROR, path, "not the kernel's log device: not read, as reading it could block")
            device = status.st_rdev
            if (os.major(device), os.minor(device)) != KMSG_DEVICE:  # a console would be read as if it were the log
                return Unavailable(Reason.NOT_FOUND, path, f"character device {os.major(device)}:{os.minor(device)}, "
                                   f"not the kernel's log ({KMSG_DEVICE[0]}:{KMSG_DEVICE[1]}): not read")
            records: List[str] = []
            total = 0
            while total < limit_bytes:
                try:
                    chunk = os.read(descriptor, 8192)  # a record is at most 8 KiB (CONSOLE_EXT_LOG_MAX)
                except BlockingIOError:
                    break
                except BrokenPipeError:
                    continue
                if not chunk:
                    break
                total += len(chunk)
                records.append(chunk.decode("utf-8", errors="replace").rstrip("\n"))
            return records
        except OSError as error:
            return Unavailable(_reason(error), path, error.strerror or str(error))
        finally:
            os.close(descriptor)

    def read_line(self, path: str) -> Union[str, Unavailable]:
        text = self.read_text(path, limit_bytes=64 * 1024)
        return text if isinstance(text, Unavailable) else text.strip()

    def exists(self, path: str) -> bool:
        return os.path.lexists(self.path(path))

    def real_path(self, path: str) -> str:
        """The path with symbolic links resolved, inside the root (absolute links are re-rooted)."""
        parts = [part for part in path.split("/") if part]
        resolved: list = []
        for _ in range(256):
            if not parts:
                return "/" + "/".join(resolved)
            part = parts.pop(0)
            if part in (".", ".."):
                if part == ".." and resolved:
                    resolved.pop()
                continue
            candidate = "/" + "/".join(resolved + [part])
            target = self.link_target(candidate)
            if target is None:
                resolved.append(part)
                continue
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p] + parts
        return "/" + "/".join(resolved + parts)  # a link loop: give up resolving

    def link_target(self, path: str):
        """What a symbolic link points to, as written in the link, or None if it is not a link."""
        try:
            return os.readlink(self.path(path))
        except OSError:
            return None

    def list_dir(self, path: str, starting_with: Tuple[str, ...] = ()) -> Union[List[str], Unavailable]:
        """The entries' names, sorted; with `starting_with`, only those that start so (picked before the
        sort: a library directory holds thousands of names, of which a collector wants a handful)."""
        try:
            names = os.listdir(self.path(path))
        except OSError as error:
            return Unavailable(_reason(error), path, error.strerror or str(error))
        if starting_with:
            names = [name for name in names if name.startswith(starting_with)]
        return sorted(names)


def _reason(error: OSError) -> Reason:
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return Reason.NOT_FOUND
    if error.errno in (errno.EACCES, errno.EPERM):
        return Reason.NO_PERMISSION
    return Reason.ERROR
