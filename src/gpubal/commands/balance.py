"""`gpubal balance` (and `debug record-balance`) without the command line: sample every GPU, say how evenly
the work is spread and why not."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from .. import outputs
from ..sources import InputError, replay_adapter, say


def check_window(seconds: float, interval_ms: int) -> None:
    if not (math.isfinite(seconds) and seconds > 0) or interval_ms <= 0:
        raise InputError(f"--seconds and --interval must be positive and finite (got {seconds} and {interval_ms})")


def run_balance(seconds: float, interval_ms: int, output_format: Optional[str], output: Sequence[Path],
                prometheus: Optional[Path], max_imbalance: Optional[float], nvml_profile: Optional[Path],
                root: str) -> int:
    from ..balance.analysis import analyze

    check_window(seconds, interval_ms)
    if max_imbalance is not None and not (math.isfinite(max_imbalance) and max_imbalance >= 0):
        # NaN compares false with everything, so it would let every imbalance pass the gate
        raise InputError("--max-imbalance must be a finite number of percentage points, 0 or more "
                         f"(got {max_imbalance})")
    targets = outputs.targets(list(output), output_format, outputs.BALANCE_FORMAT_BY_EXTENSION, "terminal")
    report = analyze(_sample(nvml_profile, root, seconds, interval_ms / 1000.0))
    if prometheus is not None:
        from ..reports.balance import render_balance_prometheus

        outputs.write(render_balance_prometheus(report), prometheus)  # atomic: the collector may read any time
    outputs.render_to(outputs.BALANCE_RENDERERS, targets, report)
    if report.sample_count == 0:
        say("no sample could be taken" + (f": NVML did not start ({report.nvml_failure.describe()})"
                                          if report.nvml_failure is not None else ""))
        return outputs.EXIT_FINDINGS
    if max_imbalance is None:
        return outputs.EXIT_OK
    from ..model import Unavailable

    stddev = report.imbalance.stddev_points
    if isinstance(stddev, Unavailable):
        say(f"the imbalance could not be measured ({stddev.describe()}), so --max-imbalance cannot pass")
        return outputs.EXIT_FINDINGS
    return outputs.EXIT_FINDINGS if stddev.value > max_imbalance else outputs.EXIT_OK


def _sample(nvml_profile: Optional[Path], root: str, seconds: float, interval_s: float):
    from ..balance.sampler import ollama_url_from_environment, sample
    from ..doctor.collect import _nothing_answers
    from ..doctor.probes.deadline import DeadlineAdapter
    from ..doctor.probes.files import HostFiles
    from ..doctor.probes.nvml import PynvmlAdapter

    if nvml_profile is not None:
        adapter = replay_adapter(nvml_profile)
        from ..model import Reason, Unavailable

        not_asked = Unavailable(Reason.NOT_FOUND, "replay", "a replay asks no server")
        return sample(adapter, HostFiles(root), _nothing_answers, not_asked,
                      seconds, interval_s, f"nvml-profile:{nvml_profile.name}", replay=True)
    from ..doctor.probes.http import get_json

    if os.path.realpath(root) != "/":  # the server on this host is not the tree's
        from ..doctor import live

        get_json = live.not_asked(f"not asked: under --root {root}, a server on this host is not the tree's")
    live_sample = (DeadlineAdapter(PynvmlAdapter()), HostFiles(root), get_json,
                   ollama_url_from_environment(os.environ), seconds, interval_s, "live")
    progress_console = None
    if sys.stderr.isatty():
        from ..reports.visible import safe_console

        progress_console = safe_console(stderr=True)
    if progress_console is None:
        return sample(*live_sample)
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("sampling GPUs (Ctrl-C ends early)"), BarColumn(), TextColumn("{task.description}"),
                  TimeRemainingColumn(), console=progress_console, transient=True) as progress:
        task = progress.add_task("", total=max(1, int(round(seconds / interval_s))))

        def on_sample(taken: int, wanted: int, latest) -> None:
            utils = [getattr(r.utilization_percent, "value", None) for r in latest.gpus]
            progress.update(task, completed=taken, description=" ".join(
                f"{u:>3}%" if u is not None else "  ?" for u in utils))

        return sample(*live_sample, on_sample=on_sample)


def record_balance(output: Path, seconds: float, interval_ms: int, description: str) -> str:
    """Sample this host into a profile that `balance --nvml-profile` replays; what was recorded, in words."""
    import json

    from ..balance.sampler import sample
    from ..doctor.collect import _nothing_answers
    from ..doctor.probes.files import HostFiles
    from ..doctor.probes.nvml import PynvmlAdapter, RecordingAdapter
    from ..model import Reason, Unavailable

    check_window(seconds, interval_ms)
    recorder = RecordingAdapter(PynvmlAdapter())
    recorder.sample_interval_s = interval_ms / 1000.0
    not_asked = Unavailable(Reason.NOT_IN_INPUT, "record-balance", "a recording asks no Ollama server")
    recording = sample(recorder, HostFiles("/"), _nothing_answers, not_asked, seconds, interval_ms / 1000.0, "live")
    outputs.write(json.dumps(recorder.profile(description), indent=1) + "\n", output)
    return f"recorded {len(recording.samples)} samples of {len(recording.gpus)} GPUs into {output}"
