"""Golden files: a report of a recorded host, its collection time frozen, rendered and compared with
tests/goldens/<name>; `pytest --update-goldens` rewrites them (review the diff like code)."""

from __future__ import annotations

import dataclasses
from io import StringIO

from rich.console import Console

from gpubal.model import Report, Snapshot

from .paths import GOLDENS
from .snapshots import known, no_driver_snapshot, real_snapshot, with_gpu

FROZEN_AT = "2026-11-29T00:00:00+00:00"


def frozen(snapshot: Snapshot) -> Snapshot:
    return dataclasses.replace(snapshot, collected_at=FROZEN_AT)


def report_of(name: str) -> Report:
    """Every rule on the recorded host `name` (or "no-driver"), frozen in time."""
    from gpubal.doctor.engine import evaluate
    from gpubal.rules import all_rules

    snapshot = no_driver_snapshot() if name == "no-driver" else real_snapshot(name)
    return evaluate(frozen(snapshot), all_rules())


def replays_and_persistence_off_on_eight_gpus() -> Report:
    """Every rule on the recorded 8x H100 with the same two problems on all 8 GPUs: persistence off (one
    command for all) and PCIe replays (whose first command names the GPU: `nvidia-smi -q -d PCIE -i 3`)."""
    from gpubal.doctor.engine import evaluate
    from gpubal.rules import all_rules

    snapshot = real_snapshot("hgx8-h100-nvswitch")
    for index in range(8):
        snapshot = with_gpu(snapshot, index, persistence_mode=known(False),
                            pcie_replay_count=known(10_000_000 + index))
    snapshot = dataclasses.replace(snapshot, host=dataclasses.replace(snapshot.host, uptime_seconds=known(86400)))
    return evaluate(snapshot, all_rules())


def terminal_text(report: Report, width: int = 100) -> str:
    from gpubal.reports.terminal import render_terminal

    buffer = StringIO()
    render_terminal(report, Console(file=buffer, width=width, no_color=True, highlight=False))
    return buffer.getvalue()


def without_trailing_spaces(text: str) -> str:
    # rich pads table cells to the column width; the padding carries no meaning and editors strip it
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def check_golden(name: str, text: str, update: bool) -> None:
    path = GOLDENS / name
    if update:
        GOLDENS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run pytest --update-goldens"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden: review, then --update-goldens"
