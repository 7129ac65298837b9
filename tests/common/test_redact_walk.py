"""The always-on secret pass over a report copies only what it changes: a clean part is returned as it
is, and a secret deep inside is still dropped."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gpubal.common.redact import redact_report
from gpubal.doctor.engine import evaluate
from gpubal.model import Known
from gpubal.rules import all_rules
from gpubal.sources import load_snapshot


def _report(snapshot):
    return evaluate(snapshot, all_rules())


def test_a_clean_report_comes_back_as_it_is():
    report = _report(load_snapshot(Path("example")))
    shown = redact_report(report, False)
    assert shown == report
    assert shown.snapshot.gpus is report.snapshot.gpus  # nothing in it changed, so nothing was copied


def test_a_secret_deep_inside_is_dropped_and_the_rest_kept():
    snapshot = load_snapshot(Path("example"))
    environment = dict(snapshot.stack.environment.value, NCCL_SOCKET_IFNAME="eth0",
                       HF_TOKEN="hf_abcdefghijklmnopqrstuvwxyz", CUDA_HOME="https://user:pw@mirror.example/cuda")
    stack = dataclasses.replace(snapshot.stack, environment=Known(environment, snapshot.stack.environment.source))
    report = _report(dataclasses.replace(snapshot, stack=stack))
    shown = redact_report(report, False).snapshot.stack.environment.value
    assert "HF_TOKEN" not in shown and shown["NCCL_SOCKET_IFNAME"] == "eth0"
    assert shown["CUDA_HOME"] == "https://[redacted]@mirror.example/cuda"
    assert redact_report(report, False).snapshot.gpus is report.snapshot.gpus
