"""Every real dump in tests/fixtures/dumps: gpubal reads exactly the facts an expert wrote down in the
sample's .json `expected` (values as printed), and recognises the sample's format from its content."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpubal.doctor.ingest.dumps import read_dump, snapshot_from_dumps
from gpubal.snapshot_file import snapshot_from_json, snapshot_to_json

from .reading import READERS, mismatches, parse_file, read_snapshot
from helpers.paths import FIXTURES

DUMPS = FIXTURES / "dumps"
SAMPLES = sorted(DUMPS.glob("*/*.txt"))


def test_the_corpus_has_at_least_60_samples():
    assert len(SAMPLES) >= 60


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_reads_the_expected_facts(sample: Path):
    meta = json.loads(sample.with_suffix(".json").read_text())
    reading = READERS[meta["format"]](parse_file(str(sample)))
    assert mismatches(meta["expected"], reading) == []
    if "snapshot" in meta["expected"]:  # facts that must reach the snapshot, not only the parser
        assert mismatches(meta["expected"]["snapshot"], read_snapshot(str(sample)), "snapshot") == []


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_every_sample_builds_facts_for_a_snapshot(sample: Path):
    dump = read_dump(str(sample))
    assert dump.formats
    assert all(source.startswith(("nvidia-smi", "torch", "vllm", "Ollama", "/proc", "nvidia-bug"))
               for _, _, source in dump.observations)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_every_sample_snapshot_round_trips_through_json(sample: Path):
    snapshot = snapshot_from_dumps([str(sample)]).snapshot
    assert snapshot_from_json(snapshot_to_json(snapshot)) == snapshot
