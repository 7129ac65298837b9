"""HostFiles.list_dir: sorted names, and with `starting_with` only the names that start so."""

from __future__ import annotations

from gpubal.doctor.probes.files import HostFiles
from gpubal.model import Reason, Unavailable


def test_names_sorted_and_picked_by_how_they_start(tmp_path):
    for name in ("libnccl.so.2", "libc.so.6", "libcudart.so.13", "libcudnn.so.9.14.0", "libcudart.so"):
        (tmp_path / name).write_text("")
    files = HostFiles(str(tmp_path))
    assert files.list_dir("/") == sorted(["libnccl.so.2", "libc.so.6", "libcudart.so.13", "libcudnn.so.9.14.0",
                                          "libcudart.so"])
    assert files.list_dir("/", starting_with=("libcudart.so.", "libnccl.so.")) == ["libcudart.so.13", "libnccl.so.2"]


def test_a_missing_directory_is_a_reason(tmp_path):
    missing = HostFiles(str(tmp_path)).list_dir("/nowhere", starting_with=("lib",))
    assert isinstance(missing, Unavailable) and missing.reason is Reason.NOT_FOUND
