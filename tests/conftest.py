"""Fixtures and pytest options; the helpers tests import live in tests/helpers/ (`from helpers import ...`)."""

from __future__ import annotations

import dataclasses

import pytest

from gpubal.model import Snapshot
from helpers.snapshots import HOSTILE, h200x2_stack, known, real_snapshot, with_host


@pytest.fixture(scope="session")
def h200x2_snapshot() -> Snapshot:
    """A healthy 2x H200 host on an NVSwitch fabric (a VM with both GPUs passed through)."""
    return real_snapshot("h200x2")


@pytest.fixture(scope="session")
def h200x1_snapshot() -> Snapshot:
    """A 1x H200 seen from inside a Docker container; its link has retransmitted one packet."""
    return real_snapshot("h200x1")


@pytest.fixture(scope="session")
def h200x2_full_snapshot(h200x2_snapshot) -> Snapshot:
    """The 2x H200 snapshot with its real software stack."""
    return dataclasses.replace(h200x2_snapshot, stack=h200x2_stack())


# --- golden files --------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="Rewrite tests/goldens/* from the current renderers instead of comparing with them.")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """True under `pytest --update-goldens`: golden tests write their files instead of comparing."""
    return bool(request.config.getoption("--update-goldens"))


# --- hostile strings (reports: they must show as text and never run) ------------------------------------


@pytest.fixture(scope="session")
def hostile_snapshot(h200x2_snapshot) -> Snapshot:
    """The 2x H200 host with markup in every free-text fact a report shows: hostname, environment values,
    a loaded model's name (partly on the CPU, so a rule quotes it in a finding), and a secret that
    collection would have dropped (a snapshot written by hand may still carry one)."""
    from gpubal.model import OllamaModel

    snapshot = with_host(h200x2_snapshot, hostname=known(f'node"{HOSTILE}'),
                         os_release=known("Ubuntu <img src=x onerror=alert(2)> | `rm -rf` **bold**"))
    stack = dataclasses.replace(snapshot.stack, environment=known({
        "CUDA_VISIBLE_DEVICES": f"0,1{HOSTILE}", "NCCL_DEBUG": "</script><script>alert(3)</script>",
        "HF_TOKEN_FOR_TEST": "hf_SECRETVALUE123", "OLLAMA_API_KEY": "sk-SECRETVALUE456"}))
    ollama = dataclasses.replace(snapshot.ollama, server_version=known("0.5.7"), running_models=known([
        OllamaModel(name=f"llama3{HOSTILE}", size_bytes=50 * 2**30, size_vram_bytes=20 * 2**30)]),
        process_environment=known({"OLLAMA_HOST": "http://admin:hunter2@10.1.2.3:11434",
                                   "OLLAMA_AUTH_TOKEN": "SECRETVALUE789"}))
    return dataclasses.replace(snapshot, stack=stack, ollama=ollama)
