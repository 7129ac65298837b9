"""Machine contracts: the JSON report and the snapshot match the JSON Schemas published in docs/schema
(generated from the model; regenerated here and compared), and the JUnit XML matches Jenkins'
junit-10.xsd, the schema GitLab and Jenkins read. The XSD comes from pytest's source distribution on
PyPI (testing/example_scripts/junit-10.xsd), fetched once with pip and kept in ~/.cache/gpubal-tests;
when it cannot be had this test FAILS, it does not skip: an unchecked contract is not a kept one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import jsonschema  # the test extra has both; without them this module errors, it never skips
import pytest
import xmlschema

from gpubal.doctor.engine import evaluate
from gpubal.snapshot_file import to_jsonable
from gpubal.reports import json_schema
from gpubal.reports.json_report import render_json
from gpubal.reports.junit import render_junit
from gpubal.rules import all_rules

from helpers import real_snapshot
from helpers.cli import gpubal
from helpers.paths import REPO


ROOT = REPO
SCHEMA_DIR = ROOT / "docs" / "schema"
GOLDENS = ROOT / "tests" / "goldens"
PROFILES = sorted(path.stem for path in (ROOT / "tests" / "fixtures" / "nvml").glob("*.json")
                  if (ROOT / "tests" / "fixtures" / "roots" / path.stem).is_dir())
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gpubal-tests"
XSD_IN_SDIST = "testing/example_scripts/junit-10.xsd"


@pytest.mark.parametrize("name", sorted(json_schema.SCHEMAS))
def test_the_published_schema_is_what_the_model_says(name, update_goldens):
    fresh = json_schema.render(name)
    if update_goldens:
        (SCHEMA_DIR / name).write_text(fresh, encoding="utf-8")
    published = (SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert published == fresh, f"docs/schema/{name} is stale: python -m gpubal.reports.json_schema docs/schema"
    jsonschema.Draft202012Validator.check_schema(json.loads(published))


def _validator(name: str):
    return jsonschema.Draft202012Validator(json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8")))


def _assert_valid(validator, document, what: str) -> None:
    errors = sorted(validator.iter_errors(document), key=lambda error: list(error.path))
    assert not errors, (what, [f"{list(error.path)}: {error.message[:200]}" for error in errors[:5]])


def test_every_golden_report_validates():
    goldens = sorted(GOLDENS.glob("*.json"))
    assert goldens
    for path in goldens:
        document = json.loads(path.read_text(encoding="utf-8"))
        assert document["schema_version"] == 1
        _assert_valid(_validator("report.schema.json"), document, path.name)


@pytest.mark.parametrize("name", PROFILES)
def test_every_profile_report_and_snapshot_validate(name):
    snapshot = real_snapshot(name)
    _assert_valid(_validator("snapshot.schema.json"), to_jsonable(snapshot), name)
    _assert_valid(_validator("report.schema.json"), json.loads(render_json(evaluate(snapshot, all_rules()))), name)


def test_the_shipped_example_and_pasted_dumps_validate():
    _assert_valid(_validator("snapshot.schema.json"),
                  json.loads((ROOT / "src" / "gpubal" / "examples" / "h200x2-snapshot.json").read_text()), "example")
    dumps = ROOT / "tests" / "fixtures" / "dumps"
    result = gpubal("doctor", "--from", str(dumps / "smi-q" / "h200x2-hgx-nvswitch-smi-q.txt"),
                    "--from", str(dumps / "topo" / "h200x2-hgx-nvswitch-topo.txt"), "-f", "json")
    _assert_valid(_validator("report.schema.json"), json.loads(result.stdout), "--from")


def test_a_schema_catches_a_wrong_document():
    # the check can fail: a fact with a made-up reason code, and a finding without its fix
    document = json.loads((GOLDENS / "no-driver.json").read_text(encoding="utf-8"))
    document["snapshot"]["host"]["hostname"] = {"unavailable": "shrug", "source": "x", "detail": ""}
    del document["findings"][0]["fix"]
    assert len(list(_validator("report.schema.json").iter_errors(document))) == 2


# --- JUnit against Jenkins' junit-10.xsd -----------------------------------------------------------------


def _junit_xsd() -> Path:
    cached = CACHE / "junit-10.xsd"
    if cached.is_file():
        return cached
    import pytest as installed  # any pytest's sdist carries the same Jenkins schema

    with tempfile.TemporaryDirectory() as folder:
        fetched = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                                  f"pytest=={installed.__version__}", "-d", folder],
                                 capture_output=True, text=True, timeout=600)
        archives = list(Path(folder).glob("pytest-*.tar.gz"))
        assert archives, ("junit-10.xsd is missing and could not be fetched from pytest's sdist on PyPI; put it at "
                          f"{cached} (pytest's {XSD_IN_SDIST})", fetched.stderr[-800:])
        with tarfile.open(archives[0]) as archive:
            member = next(m for m in archive.getmembers() if m.name.endswith(XSD_IN_SDIST))
            data = archive.extractfile(member).read()
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(data)
    return cached


@pytest.fixture(scope="module")
def junit_schema():
    return xmlschema.XMLSchema(str(_junit_xsd()))


def test_every_golden_junit_validates_against_jenkins_xsd(junit_schema):
    goldens = sorted(GOLDENS.glob("*.junit.xml"))
    assert goldens
    for path in goldens:
        errors = [str(error.reason) for error in junit_schema.iter_errors(str(path))]
        assert not errors, (path.name, errors[:3])


@pytest.mark.parametrize("name", PROFILES)
def test_every_profile_junit_validates(junit_schema, name, tmp_path):
    path = tmp_path / f"{name}.xml"
    path.write_text(render_junit(evaluate(real_snapshot(name), all_rules())), encoding="utf-8")
    errors = [str(error.reason) for error in junit_schema.iter_errors(str(path))]
    assert not errors, errors[:3]


def test_the_xsd_catches_what_it_once_caught(junit_schema, tmp_path):
    # a `skipped` attribute on <testsuites>, as gpubal once wrote it
    path = tmp_path / "old.xml"
    xml = (GOLDENS / "h200x1.junit.xml").read_text(encoding="utf-8").replace("<testsuites ", '<testsuites skipped="1" ', 1)
    path.write_text(xml, encoding="utf-8")
    assert any("skipped" in str(error.reason) for error in junit_schema.iter_errors(str(path)))
