"""Fabric Manager's version from dpkg's status file: only an installed package's stanza counts."""

from __future__ import annotations

from gpubal.doctor.collect.stack import _fabric_manager_version
from gpubal.doctor.probes.files import HostFiles
from gpubal.model import Known, Reason, Unavailable

REMOVED = "Package: nvidia-fabricmanager-550\nStatus: deinstall ok config-files\nVersion: 550.54.15-1\n"
INSTALLED = "Package: nvidia-fabricmanager-570\nStatus: install ok installed\nVersion: 570.195.03-1\n"
OTHER = "Package: libfabricmanager-dev\nStatus: install ok installed\nVersion: 999.1-1\n"


def _version(tmp_path, *stanzas, between="\n"):
    (tmp_path / "var" / "lib" / "dpkg").mkdir(parents=True)
    (tmp_path / "var" / "lib" / "dpkg" / "status").write_text(between.join(stanzas))
    return _fabric_manager_version(HostFiles(str(tmp_path)))


def test_the_installed_package_among_many_gives_the_version(tmp_path):
    many = [f"Package: lib{n}\nStatus: install ok installed\nVersion: 1.{n}\n" for n in range(500)]
    assert _version(tmp_path, *many[:250], REMOVED, OTHER, INSTALLED, *many[250:]) == \
        Known("570.195.03", "/var/lib/dpkg/status")


def test_a_removed_package_is_not_installed(tmp_path):
    version = _version(tmp_path, OTHER, REMOVED, between="\n\n\n")
    assert isinstance(version, Unavailable) and version.reason is Reason.NOT_FOUND


def test_the_first_stanza_and_the_last_count_too(tmp_path):
    assert _version(tmp_path, INSTALLED.rstrip("\n"), REMOVED).value == "570.195.03"
    assert _version(tmp_path / "last", REMOVED, INSTALLED.rstrip("\n")).value == "570.195.03"
