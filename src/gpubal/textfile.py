"""Writing a file that another program may read at any moment (node_exporter's textfile collector reads
its directory on every scrape): never half a file."""

from __future__ import annotations

import os
import tempfile


def write_textfile(text: str, path: str) -> None:
    """node_exporter may read the directory at any moment: write a temporary file with an unpredictable name
    beside the target (the same filesystem, so the rename is atomic), flush it to disk, then rename it over
    the target. A reader sees the old file or the new one, never half of one. Its name starts with a dot
    and does not end in .prom, so the collector never reads it."""
    directory = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it 0600; the collector may run as another user
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    try:
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
        directory_descriptor = os.open(directory, flags)
        try:
            os.fsync(directory_descriptor)  # the rename itself survives a crash
        finally:
            os.close(directory_descriptor)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the file itself is complete
