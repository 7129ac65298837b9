"""matrix.rows.version_of: one Version per string, parsed once; no version is an error every time."""

from __future__ import annotations

import pytest
from packaging.version import InvalidVersion, Version

from gpubal.matrix.rows import version_of


def test_the_same_string_is_the_same_version_object():
    assert version_of("12.8") is version_of("12.8") and version_of("12.8") == Version("12.8")
    assert version_of("12.10") > version_of("12.9")


def test_a_string_that_is_no_version_raises_each_time():
    for _ in range(2):
        with pytest.raises(InvalidVersion):
            version_of("twelve")
