"""Snapshots recorded on real hosts, and helpers that derive a variant of one by replacing facts.

Every case a test needs is the real snapshot with a few facts changed (`dataclasses.replace` on frozen
parts), never a call-by-call mock: the rest of the snapshot stays what a real H200 host reported.

    broken = with_gpu(h200x2_snapshot, 0, persistence_mode=known(False))
    report = evaluate(broken, [persistence_mode_off.check])
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Dict, List

import pytest

from gpubal.doctor.collect import collect_snapshot
from gpubal.doctor.model import Finding, Fix, Known, NvLink, Outcome, Reason, RuleResult, Snapshot, Unavailable
from gpubal.doctor.probes.files import HostFiles
from gpubal.doctor.probes.nvml import ReplayAdapter

FIXTURES = Path(__file__).parent / "fixtures"


def real_snapshot(name: str) -> Snapshot:
    """The snapshot gpubal builds from the NVML profile and host files recorded on host `name`."""
    return collect_snapshot(ReplayAdapter.from_file(str(FIXTURES / "nvml" / f"{name}.json")),
                            HostFiles(str(FIXTURES / "roots" / name)), origin=f"nvml-profile:{name}.json")


@pytest.fixture(scope="session")
def h200x2_snapshot() -> Snapshot:
    """A healthy 2x H200 host on an NVSwitch fabric (a VM with both GPUs passed through)."""
    return real_snapshot("h200x2")


@pytest.fixture(scope="session")
def h200x1_snapshot() -> Snapshot:
    """A 1x H200 seen from inside a Docker container; its link has retransmitted one packet."""
    return real_snapshot("h200x1")


# --- facts ---------------------------------------------------------------------------------------------


def known(value: Any) -> Known:
    return Known(value, "test")


def unavailable(reason: Reason = Reason.NOT_SUPPORTED, detail: str = "") -> Unavailable:
    return Unavailable(reason, "test", detail)


# --- variants of a snapshot ----------------------------------------------------------------------------


def with_host(snapshot: Snapshot, **changes: Any) -> Snapshot:
    return dataclasses.replace(snapshot, host=dataclasses.replace(snapshot.host, **changes))


def with_driver(snapshot: Snapshot, **changes: Any) -> Snapshot:
    return dataclasses.replace(snapshot, driver=dataclasses.replace(snapshot.driver, **changes))


def with_gpu(snapshot: Snapshot, index: int, **changes: Any) -> Snapshot:
    """The snapshot with the facts of GPU `index` replaced; the other GPUs stay as recorded."""
    gpus = snapshot.gpu_list()
    if not any(gpu.index == index for gpu in gpus):
        raise KeyError(f"the snapshot has no GPU {index}")
    changed = [dataclasses.replace(gpu, **changes) if gpu.index == index else gpu for gpu in gpus]
    return dataclasses.replace(snapshot, gpus=Known(changed, snapshot.gpus.source))


def with_pair(snapshot: Snapshot, gpu_a: int, gpu_b: int, **changes: Any) -> Snapshot:
    pairs = snapshot.pairs.value
    if not any((pair.gpu_a, pair.gpu_b) == (gpu_a, gpu_b) for pair in pairs):
        raise KeyError(f"the snapshot has no pair gpu:{gpu_a}-gpu:{gpu_b}")
    changed = [dataclasses.replace(pair, **changes) if (pair.gpu_a, pair.gpu_b) == (gpu_a, gpu_b) else pair
               for pair in pairs]
    return dataclasses.replace(snapshot, pairs=Known(changed, snapshot.pairs.source))


def with_nvlinks(snapshot: Snapshot, index: int, inactive: List[int]) -> Snapshot:
    """GPU `index` with the listed links (as recorded otherwise) reported down."""
    links: List[NvLink] = snapshot.gpu_list()[index].nvlinks.value
    changed = [dataclasses.replace(link, active=known(False)) if link.link in inactive else link
               for link in links]
    return with_gpu(snapshot, index, nvlinks=known(changed))


def with_snapshot(snapshot: Snapshot, **changes: Any) -> Snapshot:
    """Top-level replacement, e.g. `gpus=unavailable(Reason.NOT_FOUND)`."""
    return dataclasses.replace(snapshot, **changes)


# --- reading a report ----------------------------------------------------------------------------------


def only_result(report, subject: str) -> RuleResult:
    """The one result a report holds for `subject` (each rule gives each subject exactly one)."""
    found = [result for result in report.results if result.subject == subject]
    assert len(found) == 1, f"expected one result for {subject}, got {found}"
    return found[0]


def single_finding(report, subject: str) -> Finding:
    """The one finding of the result for `subject`, which must be a finding."""
    result = only_result(report, subject)
    assert result.outcome is Outcome.FINDING, result
    assert len(result.findings) == 1, result.findings
    return result.findings[0]


def assert_actionable(fix: Fix) -> None:
    """A fix says what to do: a summary, at least one exact command and a documentation page."""
    assert fix.summary
    assert fix.commands and all(command.strip() for command in fix.commands)
    assert fix.url.startswith("https://")


def outcomes(report) -> Dict[str, Outcome]:
    return {result.subject: result.outcome for result in report.results}


# --- golden files --------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="Rewrite tests/goldens/* from the current renderers instead of comparing with them.")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """True under `pytest --update-goldens`: golden tests write their files instead of comparing."""
    return bool(request.config.getoption("--update-goldens"))
