"""`gpubal topo` without the command line: which GPUs belong together and how to serve on them."""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Sequence

from .. import outputs
from ..sources import InputError, Source, say, snapshot_of

if TYPE_CHECKING:
    from pathlib import Path  # annotations only


def run_topo(source: Source, group_sizes: Optional[List[int]], output_format: Optional[str],
             output: Sequence[Path], redact: bool, early=None) -> int:
    from ..common.redact import redact_snapshot
    from ..placement.advice import advise

    targets = outputs.targets(list(output), output_format, outputs.TOPO_FORMAT_BY_EXTENSION, "terminal")
    if early is not None:  # while the early collection waits for NVML
        outputs.prepare(outputs.TOPO_RENDERERS, targets)
    facts = redact_snapshot(snapshot_of(source, early), redact)
    try:
        advice = advise(facts, group_sizes)
    except ValueError as error:
        raise InputError(str(error))
    outputs.render_to(outputs.TOPO_RENDERERS, targets, advice)
    if advice.topology.gpus:
        return outputs.EXIT_OK
    from ..model import Unavailable
    from ..reports.words import phrase

    status = facts.driver.nvml_status
    why = f": NVML {phrase(status)}" if isinstance(status, Unavailable) else ""
    if advice.topology.excluded:  # GPUs were listed, none could be named (the notes say why)
        why = f": every GPU listed ({len(advice.topology.excluded)}) is left out; the notes say why"
    say(f"no GPU to place{why}")
    return outputs.EXIT_FINDINGS
