"""`gpubal debug ...` without the command line: tools for gpubal's developers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

from .. import outputs
from ..sources import InputError


def record_nvml(output: Path, description: str, root: str) -> str:
    """Record every NVML answer gpubal asks for on this host into a profile; what was recorded, in words."""
    import json

    from ..doctor.collect import collect_snapshot
    from ..doctor.probes.files import HostFiles
    from ..doctor.probes.nvml import PynvmlAdapter, RecordingAdapter

    recorder = RecordingAdapter(PynvmlAdapter())
    collect_snapshot(recorder, HostFiles(root), origin="live")
    outputs.write(json.dumps(recorder.profile(description), indent=1) + "\n", output)
    return f"recorded {len(recorder.device_answers)} GPUs into {output}"


def repeat(runs: int, nvml_profile: Optional[Path], root: str) -> int:
    """Collect this host `runs` times, each in a fresh process, and print every fact that differed."""
    import json
    import subprocess

    from ..doctor.repeat import differences, render, split_by_nature

    if runs < 2:
        raise InputError("RUNS must be at least 2 to compare runs")
    command = [sys.executable, "-m", "gpubal", "collect", "-o", "-", "--root", root]
    if nvml_profile is not None:
        command += ["--nvml-profile", str(nvml_profile)]
    snapshots, failures = [], []
    for run in range(runs):
        sys.stderr.write(f"collecting {run + 1}/{runs}\n")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        try:
            snapshots.append(json.loads(done.stdout))
        except ValueError:
            failures.append(f"run {run + 1}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
    wrong, natural = split_by_nature(differences(snapshots))
    sys.stdout.write(render(runs, failures, wrong, natural))
    return outputs.EXIT_FINDINGS if wrong or failures else outputs.EXIT_OK
