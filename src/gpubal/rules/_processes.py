"""What the process rules share: the processes that choose their GPUs, with what CUDA lets them see."""

from __future__ import annotations

from typing import Callable, Dict, Iterator, Optional, Tuple

from ..model import FactMissing, GpuProcess, Snapshot, Unavailable, need


def processes_choosing_gpus(snapshot: Snapshot, skip: Callable[[GpuProcess], bool] = lambda process: False
                            ) -> Iterator[Tuple[GpuProcess, Dict[str, str], object]]:
    """Each process whose environment sets CUDA_VISIBLE_DEVICES: (process, its GPU environment, what its CUDA
    sees). A fact missing for one process does not hide the others: they are yielded first, then the first
    missing fact is raised, so that the rule's result names it."""
    missing: Optional[FactMissing] = None
    for process in need(snapshot.processes, "processes"):
        if skip(process):
            continue
        environment = process.gpu_environment
        if isinstance(environment, Unavailable):
            missing = missing or FactMissing(f"{process.subject()}.gpu_environment", environment)
            continue
        if "CUDA_VISIBLE_DEVICES" not in environment.value:
            continue
        # here, not at import: only a process that sets the variable needs CUDA's reading of it
        from ..common.visibility import process_visibility

        seen = process_visibility(snapshot, process)
        if isinstance(seen, Unavailable):
            missing = missing or FactMissing("gpus", seen)
            continue
        yield process, environment.value, seen
    if missing is not None:
        raise missing
