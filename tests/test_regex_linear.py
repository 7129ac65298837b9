"""Every regex that reads untrusted text runs in linear time: adversarial text (tests/adversarial_text.py)
through the real code of each family — redaction (it runs on every output), the dump parsers and their
detectors, the embedded-snapshot readers — and every regex literal in src/ on its own.

These are hang tests, not speed claims: each case runs under a SIGALRM guard of HANG_S seconds. Linear
code takes milliseconds to about a second at 1 MB on a loaded machine; the quadratic patterns this
replaced took 17 s at 100 KB and about 40 minutes at 1 MB. bench/bench_regex.py prints the timings.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager

import pytest

import adversarial_text as adversarial

HANG_S = 30  # a machine shared by many jobs runs 1 MB in seconds; quadratic code would run for hours
ONE_MB = 1_000_000
SWEEP_SIZE = 100_000  # quadratic at 100 KB is ~10^10 steps: far past the guard, and 90 patterns x 33 shapes fit CI


@contextmanager
def hang_guard(seconds: int = HANG_S):
    def hung(*_):
        raise AssertionError(f"still running after {seconds} s: not linear")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def snapshot():
    return adversarial.sample_snapshot()


@pytest.mark.parametrize("shape", list(adversarial.LINE_SHAPES))
def test_redaction_is_linear(shape, snapshot):
    text = adversarial.LINE_SHAPES[shape](ONE_MB)
    with hang_guard():
        adversarial.run_redaction(text, snapshot)


@pytest.mark.parametrize("shape", list(adversarial.LINE_SHAPES))
def test_host_name_redaction_is_linear(shape, snapshot):
    text = adversarial.LINE_SHAPES[shape](SWEEP_SIZE)  # a Python step per word: slower, still linear
    with hang_guard():
        adversarial.run_host_list_redaction(text, snapshot)


@pytest.mark.parametrize("shape", list(adversarial.LINE_SHAPES))
def test_dump_detectors_and_parsers_are_linear(shape):
    text = adversarial.LINE_SHAPES[shape](ONE_MB)
    with hang_guard():
        adversarial.run_line_parsers(text)


@pytest.mark.parametrize("name,text", adversarial.embedded_snapshot_cases(ONE_MB),
                         ids=[name for name, _ in adversarial.embedded_snapshot_cases(10)])
def test_embedded_snapshot_readers_are_linear(name, text):
    with hang_guard():
        adversarial.run_embedded_snapshot(text)


@pytest.mark.parametrize("where,pattern", adversarial.source_patterns(),
                         ids=[where for where, _ in adversarial.source_patterns()])
def test_every_regex_in_src_is_linear(where, pattern):
    texts = [make(SWEEP_SIZE) for make in adversarial.LINE_SHAPES.values()]
    with hang_guard():
        for text in texts:
            adversarial.run_pattern(pattern, text)


def test_the_sweep_finds_the_regexes():
    # the sweep reads the source; if it found nothing it would pass vacuously
    found = {where.split(":")[0] for where, _ in adversarial.source_patterns()}
    assert {"gpubal/common/redact.py", "gpubal/snapshot_file.py", "gpubal/doctor/ingest/smi_query.py"} <= found
    assert len(adversarial.source_patterns()) > 60
