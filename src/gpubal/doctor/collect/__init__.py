"""Probe answers become typed facts here. Collectors never judge: that is the rules' job."""

from __future__ import annotations

import dataclasses
import datetime
from concurrent.futures import ThreadPoolExecutor
from typing import List, Mapping, Optional, Sequence

from ... import __version__
from ..model import SCHEMA_VERSION, Gpu, Known, Reason, Snapshot, Unavailable
from ..probes.files import HostFiles
from ..probes.commands import CommandRunner
from ..probes.http import HttpGetter
from ..probes.nvml import NvmlAdapter
from .driver import collect_driver
from .gpus import collect_gpu
from .host import collect_host
from .ollama import collect_ollama
from .processes import process_names
from .stack import collect_stack
from .topology import collect_pairs


def _nothing_runs(argv, timeout_s):
    return Unavailable(Reason.NOT_IN_INPUT, " ".join(argv), "not run: this collection replays a recording")


def _nothing_answers(url, timeout_s):
    return Unavailable(Reason.NOT_IN_INPUT, url, "not asked: this collection replays a recording")


def collect_snapshot(nvml: NvmlAdapter, files: HostFiles, origin: str = "live",
                     environment: Mapping[str, str] = {}, site_dirs: Sequence[str] = (),
                     run: CommandRunner = _nothing_runs, get: HttpGetter = _nothing_answers,
                     ollama_log: Optional[str] = None) -> Snapshot:
    """Every fact gpubal knows how to read. `environment` and `site_dirs` are the process environment and
    Python package directories to look at, `run` and `get` run programs and HTTP requests: the live CLI
    passes the real ones; tests pass recorded ones (by default nothing runs and no server answers)."""
    host = collect_host(files)
    processes = process_names(files)
    with ThreadPoolExecutor(max_workers=1) as ollama_pool:  # programs and HTTP wait; NVML goes on meanwhile
        ollama_future = ollama_pool.submit(collect_ollama, files, environment, processes, run, get, ollama_log)
        stack = collect_stack(files, environment, site_dirs, processes, host.container)
        snapshot = _collect_nvml_part(nvml, files, host, processes, origin, stack)
        return dataclasses.replace(snapshot, ollama=ollama_future.result())


def _collect_nvml_part(nvml, files, host, processes, origin, stack) -> Snapshot:
    nvml_failure = nvml.start()
    try:
        driver = collect_driver(nvml, nvml_failure, files, host.container, processes)
        if nvml_failure is not None:
            gpus = pairs = nvml_failure
        elif isinstance(driver.device_count, Unavailable):
            gpus = pairs = driver.device_count
        else:
            gpu_list = _collect_gpus(nvml, files, driver.device_count.value, host)
            gpus = Known(gpu_list, "nvmlDeviceGetHandleByIndex")
            pairs = Known(collect_pairs(nvml, gpu_list), "nvmlDeviceGetTopologyCommonAncestor, nvmlDeviceGetP2PStatus")
    finally:
        if nvml_failure is None:
            nvml.stop()
    return Snapshot(
        schema_version=SCHEMA_VERSION,
        gpubal_version=__version__,
        collected_at=datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        origin=origin,
        host=host,
        driver=driver,
        gpus=gpus,  # type: ignore[arg-type]
        pairs=pairs,  # type: ignore[arg-type]
        stack=stack,
        ollama=None,  # type: ignore[arg-type]  # filled in by collect_snapshot
    )


def _collect_gpus(nvml: NvmlAdapter, files: HostFiles, count: int, host) -> List[Gpu]:
    # NVML is thread-safe and releases the GIL; some queries wait on the GPU for milliseconds, so GPUs,
    # and the questions asked of each, go side by side (measured on an H200: 4 threads halve the time).
    with ThreadPoolExecutor(max_workers=max(1, min(count, 16))) as gpu_pool, \
            ThreadPoolExecutor(max_workers=16) as query_pool:
        return list(gpu_pool.map(
            lambda index: collect_gpu(nvml, files, index, host.numa_nodes, query_pool), range(count)))
