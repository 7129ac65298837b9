"""The compatibility matrix: every file loads, every row cites an https source, the data are sane, and
a few rows checked by hand against NVIDIA's and Ollama's documents read as they should."""

from __future__ import annotations


import copy
import re
import datetime as dt
import itertools

import pytest
from packaging.version import Version

from gpubal import matrix as mx


@pytest.fixture(scope="module")
def docs():
    return mx.read_matrix_documents()


@pytest.fixture(scope="module")
def m():
    return mx.load_matrix()


# --------------------------------------------------------------------------------------- loading


def test_every_file_loads_with_header(docs, m):
    assert set(docs) == set(mx.MATRIX_FILES)
    for stem, doc in docs.items():
        assert re.fullmatch(r"20\d\d-\d\d-\d\d", doc["matrix_date"]), stem
        assert doc["meta"]["description"].strip(), stem
    assert mx.MATRIX_VERSION == max(doc["matrix_date"] for doc in docs.values()) == "2026-12-01"
    assert m.version == mx.MATRIX_VERSION


def test_every_row_has_an_https_source(docs, m):
    rows = list(m.all_rows())
    assert len(rows) > 80
    for row in rows:
        assert row.source.startswith("https://"), row
    # and in the raw TOML, independent of the loader: every array-of-tables row names a source
    for stem, doc in docs.items():
        for key, value in doc.items():
            if isinstance(value, list):
                for row in value:
                    assert str(row.get("source", "")).startswith("https://"), (stem, key, row)


def _first_row(doc, table):
    return doc[table][0]


@pytest.mark.parametrize(
    "stem,table",
    [
        ("cuda_driver", "release"),
        ("cuda_driver", "release_branch"),
        ("cuda_driver", "minor_version_compatibility"),
        ("gpu_arch_cuda", "arch"),
        ("driver_branches", "branch"),
        ("cudnn", "build"),
        ("nccl", "release"),
        ("ollama", "requirement"),
        ("ollama", "change"),
    ],
)
def test_row_without_source_is_rejected(docs, stem, table):
    broken = copy.deepcopy(docs)
    del _first_row(broken[stem], table)["source"]
    with pytest.raises(mx.MatrixError, match="source"):
        mx.parse_matrix(broken)


@pytest.mark.parametrize("bad", ["http://example.com/x", "docs.nvidia.com/cuda", "", "https://"])
def test_non_https_source_is_rejected(docs, bad):
    broken = copy.deepcopy(docs)
    _first_row(broken["cuda_driver"], "release")["source"] = bad
    with pytest.raises(mx.MatrixError, match="source"):
        mx.parse_matrix(broken)


def test_bad_version_unknown_key_and_bad_header_are_rejected(docs):
    broken = copy.deepcopy(docs)
    _first_row(broken["cuda_driver"], "release")["min_linux_driver"] = ">=550.54.14"
    with pytest.raises(mx.MatrixError, match="not a version"):
        mx.parse_matrix(broken)

    broken = copy.deepcopy(docs)
    _first_row(broken["cudnn"], "build")["min_driver"] = "525.60.13"
    with pytest.raises(mx.MatrixError, match="unknown key"):
        mx.parse_matrix(broken)

    broken = copy.deepcopy(docs)
    del broken["nccl"]["meta"]
    with pytest.raises(mx.MatrixError, match="description"):
        mx.parse_matrix(broken)

    broken = copy.deepcopy(docs)
    broken["ollama"]["matrix_date"] = "29 Nov 2026"
    with pytest.raises(mx.MatrixError, match="matrix_date"):
        mx.parse_matrix(broken)


def test_dataclasses_are_frozen(m):
    with pytest.raises(Exception):
        m.cuda_releases[0].min_linux_driver = "1.0"  # type: ignore[misc]


# ------------------------------------------------------------------------------------------ sanity


def test_min_driver_never_decreases_within_a_major(m):
    by_major = itertools.groupby(m.cuda_releases, key=lambda r: r.major)
    for major, rows in by_major:
        rows = list(rows)
        for older, newer in zip(rows, rows[1:]):
            assert Version(older.version) < Version(newer.version)
            assert Version(newer.min_linux_driver) >= Version(older.min_linux_driver), (major, older, newer)


def test_toolkit_driver_stays_in_its_major_family(m):
    # every toolkit driver of major N is at or above the minor-version-compatibility floor of N,
    # and below the floor of N+1 (a new major needs a new driver family)
    for r in m.cuda_releases:
        floor = mx.minor_compat(m, r.major)
        assert floor is not None
        assert Version(r.min_linux_driver) >= Version(floor.min_linux_driver.split(".")[0]), r
        nxt = mx.minor_compat(m, r.major + 1)
        if nxt is not None:
            assert Version(r.min_linux_driver) < Version(nxt.min_linux_driver), r


def test_covers_cuda_11_0_through_13_2(m):
    minors = {Version(r.version).release[:2] for r in m.cuda_releases}
    for want in [(11, 0), (11, 8), (12, 0), (12, 4), (12, 6), (12, 8), (12, 9), (13, 0), (13, 1), (13, 2)]:
        assert want in minors, want
    assert (12, 7) not in minors  # there was no CUDA 12.7


def test_cudnn_builds_are_sane(m):
    for b in m.cudnn:
        floor = mx.minor_compat(m, b.cuda_major)
        assert floor is not None
        assert Version(b.min_linux_driver) >= Version(floor.min_linux_driver.split(".")[0]), b
        assert all(Version(v).major == b.cuda_major for v in b.cuda_versions)


def test_branches_sorted_and_dated_or_marked(m):
    numbers = [b.number for b in m.driver_branches]
    assert numbers == sorted(numbers)
    for b in m.driver_branches:
        assert b.end_of_life is not None or b.status == "end_of_life"


# --------------------------------------------------------------------- spot checks (verified rows)


@pytest.mark.parametrize(
    "version,driver",
    [
        ("12.4.0", "550.54.14"),
        ("12.4.1", "550.54.15"),
        ("12.0.0", "525.60.13"),
        ("11.8.0", "520.61.05"),
        ("12.8.0", "570.26"),
        ("12.9.1", "575.57.08"),
        ("13.0.0", "580.65.06"),
        ("13.2.2", "595.71.05"),
        ("11.0.2", "450.51.05"),
    ],
)
def test_cuda_release_spot_checks(m, version, driver):
    row = mx.cuda_release(m, version)
    assert row is not None and row.min_linux_driver == driver


def test_cuda_lookup_helpers(m):
    assert mx.min_driver_for_cuda(m, "12.4") == "550.54.14"
    assert mx.min_driver_for_cuda(m, "12.4.1") == "550.54.15"
    assert mx.min_driver_for_cuda(m, "12.7") is None
    assert mx.cuda_release(m, "12.4").label == "CUDA 12.4 GA"
    assert mx.release_branch(m, "13.4.1").driver_branch == "R615"
    assert mx.release_branch(m, "12.4") is None


def test_minor_version_compat_spot_checks(m):
    assert mx.minor_compat(m, 11).min_linux_driver == "450.80.02"
    assert mx.minor_compat(m, 12).min_linux_driver == "525"
    assert mx.minor_compat(m, 13).min_linux_driver == "580"
    for c in m.minor_version_compat:
        assert "PTX" in c.not_supported and "cudaErrorUnsupportedPtxVersion" in c.not_supported


def test_arch_spot_checks(m):
    assert mx.arch_for_compute_capability(m, "9.0").arch == "Hopper"
    assert mx.arch_for_compute_capability(m, "8.9").first_cuda == "11.8"
    assert mx.arch_for_compute_capability(m, "7.0").removed_in == "13.0"
    assert mx.arch_for_compute_capability(m, "3.7").removed_in == "12.0"
    assert mx.cuda_supports_compute_capability(m, "13.0", "7.0") is False
    assert mx.cuda_supports_compute_capability(m, "12.9", "7.0") is True
    assert mx.cuda_supports_compute_capability(m, "12.8", "12.0") is True
    assert mx.cuda_supports_compute_capability(m, "12.6", "12.0") is False
    assert mx.cuda_supports_compute_capability(m, "12.8", "10.3") is False
    assert mx.cuda_supports_compute_capability(m, "13.0", "11.0") is True
    assert mx.cuda_supports_compute_capability(m, "12.0", "99.0") is None


def test_driver_branch_spot_checks(m):
    r580 = mx.driver_branch(m, "580.65.06")
    assert r580.branch == "R580" and r580.type == "Long Term Support Branch" and r580.end_of_life == "2028-06"
    r535 = mx.driver_branch(m, "R535")
    assert mx.branch_is_end_of_life(r535, dt.date(2026, 6, 30)) is False
    assert mx.branch_is_end_of_life(r535, dt.date(2026, 7, 1)) is True
    assert mx.branch_is_end_of_life(mx.driver_branch(m, "R550"), dt.date(2026, 1, 1)) is True
    assert mx.driver_branch(m, "R470") is None  # no source found: left out
    assert mx.driver_branch_name("535.104.05") == "R535"


def test_cudnn_spot_checks(m):
    b = {bb.cuda_major: bb for bb in mx.cudnn_builds(m, "9.17.0")}
    assert b[13].min_linux_driver == "580.65.06"
    assert "7.0" not in b[13].compute_capabilities and "7.5" in b[13].compute_capabilities
    assert b[12].min_linux_driver == "525.60.13"
    assert {bb.min_linux_driver for bb in mx.cudnn_builds(m, "9.10.2")} == {"570.26", "525.60.13", "450.80.02"}


def test_nccl_and_ollama_spot_checks(m):
    assert mx.nccl_release(m, "2.30.7").cuda_builds == ("12.9", "13.3")
    current = next(r for r in m.ollama_requirements if r.edition == "current")
    assert current.min_compute_capability == "5.0"
    assert mx.ollama_min_driver(current, "8.6") == "550"
    assert mx.ollama_min_driver(current, "6.1") == "570"
    earlier = next(r for r in m.ollama_requirements if r.edition == "earlier")
    assert mx.ollama_min_driver(earlier, "6.1") == "531"


def test_the_parsed_cache_is_fresh_and_equal_to_the_toml():
    # data/matrix-cache.json must be regenerated (`python -m gpubal.matrix`) after a TOML edit
    import json

    from gpubal.matrix import loading as matrix

    with open(matrix.CACHE_FILE, encoding="utf-8") as handle:
        cache = json.load(handle)
    texts = {stem: matrix._read_data(f"{stem}.toml") for stem in matrix.MATRIX_FILES}
    assert cache["crc32"] == matrix.fingerprints(texts)
    assert cache["documents"] == matrix._parse_documents(texts)


def test_a_stale_cache_falls_back_to_the_toml(tmp_path, monkeypatch):
    from gpubal.matrix import loading as matrix

    stale = tmp_path / "matrix-cache.json"
    stale.write_text('{"crc32": {}, "documents": {}}')
    monkeypatch.setattr(matrix, "CACHE_FILE", str(stale))
    assert matrix.read_matrix_documents() == matrix._parse_documents(
        {stem: matrix._read_data(f"{stem}.toml") for stem in matrix.MATRIX_FILES})


def test_every_public_name_is_importable_from_the_package():
    # rules write `from gpubal import matrix` and `matrix.cuda_release(...)`; the split into
    # rows/schema/loading/queries must not move a name out of their reach
    from gpubal import matrix

    missing = [name for name in matrix.__all__ if not hasattr(matrix, name)]
    assert missing == []
    assert matrix.MATRIX_VERSION == matrix.load_matrix().version


def test_python_dash_m_gpubal_matrix_has_an_entry_point():
    # the cache test above tells whoever edits a TOML file to run `python -m gpubal.matrix`
    import importlib.util

    assert importlib.util.find_spec("gpubal.matrix.__main__") is not None
