"""Versions as the rules read them: the matrix lookups' (`queries._v`) and the stack rules' release numbers
(`rules._stack.version_key`, which reads plain numbers and dots without packaging). Every comparison and
every release must come out as packaging's Version has it."""

from __future__ import annotations

import itertools
import operator

import pytest
from packaging.version import InvalidVersion, Version

from gpubal.matrix.queries import _v
from gpubal.rules._stack import version_key

VERSIONS = ["12.4", "12.4.0", "12.4.1", "12.10", "13", "13.0", "0", "0.0", "1.0.0.0", "550.54.14", "550.54.15",
            "9.0", "12.04", "007", "12.4rc1", "12.4.post1", "12.4+cu130", "2.11.0+cu130", "12.4.dev0", "1!1.0",
            "v12.4", " 12.4", "99999999999999999999999.1"]
NOT_VERSIONS = ["", ".", "1..2", "1.", ".1", "12.4 beta", "abc", "1_2", "²"]
COMPARISONS = [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]


@pytest.mark.parametrize("compare", COMPARISONS, ids=lambda compare: compare.__name__)
def test_comparisons_agree_with_packaging(compare):
    for a, b in itertools.product(VERSIONS, VERSIONS):
        assert compare(_v(a), _v(b)) == compare(Version(a), Version(b)), (a, b)


def test_release_numbers_agree_with_packaging():
    for text in VERSIONS:
        assert _v(text).release == Version(text).release == version_key(text), text


def test_equal_versions_hash_alike():
    assert hash(_v("12.4")) == hash(_v("12.4.0")) and len({_v("12.4"), _v("12.4.0"), _v("12.4.1")}) == 2


def test_a_lowest_version_is_packagings():
    drivers = ["550.54.15", "550.54.14", "550.100", "550.9"]
    assert min(drivers, key=_v) == min(drivers, key=Version)


@pytest.mark.parametrize("text", NOT_VERSIONS)
def test_text_that_is_no_version_raises_as_packaging_does(text):
    with pytest.raises(InvalidVersion):
        _v(text)
    assert version_key(text) == ()
