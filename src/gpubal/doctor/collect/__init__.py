"""Probe answers become typed facts here. Collectors never judge: that is the rules' job."""

from __future__ import annotations

import datetime
from concurrent.futures import ThreadPoolExecutor
from typing import List

from ... import __version__
from ..model import SCHEMA_VERSION, Gpu, Known, Snapshot, Unavailable
from ..probes.files import HostFiles
from ..probes.nvml import NvmlAdapter
from .driver import collect_driver
from .gpus import collect_gpu
from .host import collect_host
from .topology import collect_pairs


def collect_snapshot(nvml: NvmlAdapter, files: HostFiles, origin: str = "live") -> Snapshot:
    host = collect_host(files)
    nvml_failure = nvml.start()
    try:
        driver = collect_driver(nvml, nvml_failure, files, host.container)
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
    )


def _collect_gpus(nvml: NvmlAdapter, files: HostFiles, count: int, host) -> List[Gpu]:
    # NVML is thread-safe; some queries wait on the GPU for milliseconds, so GPUs are asked side by side.
    if count <= 1:
        return [collect_gpu(nvml, files, index, host.numa_nodes) for index in range(count)]
    with ThreadPoolExecutor(max_workers=min(count, 16)) as pool:
        return list(pool.map(lambda index: collect_gpu(nvml, files, index, host.numa_nodes), range(count)))
