"""Snapshots recorded on real hosts, and helpers that derive a variant of one by replacing facts.

Every case a test needs is the real snapshot with a few facts changed (`dataclasses.replace` on frozen
parts), never a call-by-call mock: the rest of the snapshot stays what a real H200 host reported.

    broken = with_gpu(h200x2_snapshot, 0, persistence_mode=known(False))
    report = evaluate(broken, [persistence_mode_off])
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List

from gpubal.model import GpuProcess, Known, NvLink, Reason, Snapshot, Unavailable

from .paths import FIXTURES


def real_snapshot(name: str) -> Snapshot:
    """The snapshot gpubal builds from the NVML profile and host files recorded on host `name`."""
    from gpubal.doctor.collect import collect_snapshot
    from gpubal.doctor.probes.files import HostFiles
    from gpubal.doctor.probes.nvml import ReplayAdapter

    return collect_snapshot(ReplayAdapter.from_file(str(FIXTURES / "nvml" / f"{name}.json")),
                            HostFiles(str(FIXTURES / "roots" / name)), origin=f"nvml-profile:{name}.json")


NO_DRIVER_PROFILE = {  # an NVML profile of a host whose NVML library is missing (the driver not mounted in)
    "format": "gpubal-nvml-profile",
    "version": 1,
    "init": {"error": "not_found", "source": "nvmlInit",
             "detail": "NVML Shared Library Not Found (NVML_ERROR_LIBRARY_NOT_FOUND)"},
}


def no_driver_snapshot() -> Snapshot:
    """The 1x H200 container's host files, with NVML's library missing (the driver not mounted in)."""
    from gpubal.doctor.collect import collect_snapshot
    from gpubal.doctor.probes.files import HostFiles
    from gpubal.doctor.probes.nvml import ReplayAdapter

    return collect_snapshot(ReplayAdapter(NO_DRIVER_PROFILE, "no-driver"), HostFiles(FIXTURES / "roots" / "h200x1"),
                            origin="nvml-profile:no-driver")


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


# --- the software stack and Ollama ---------------------------------------------------------------------

H200X2_STACK_ENVIRONMENT = {  # from ../shared/captures/h200x2/env.txt, the variables gpubal keeps
    "CUDA_VERSION": "13.0.2", "LD_LIBRARY_PATH": "/usr/local/nvidia/lib64:/usr/local/nvidia/lib",
    "NCCL_NVLS_ENABLE": "0", "PATH": "/opt/torch/.venv/bin:/usr/local/nvidia/bin:/usr/local/cuda/bin:/usr/bin",
}


def h200x2_stack():
    """The Stack collect_stack reads from roots/h200x2-stack (the 2x H200 host's CUDA, cuDNN, NCCL, torch)."""
    from gpubal.doctor.collect.stack import collect_stack
    from gpubal.doctor.probes.files import HostFiles

    return collect_stack(HostFiles(str(FIXTURES / "roots" / "h200x2-stack")), H200X2_STACK_ENVIRONMENT, (),
                         Known({}, "test"), Known("none", "test"))


def with_stack(snapshot: Snapshot, **changes: Any) -> Snapshot:
    return dataclasses.replace(snapshot, stack=dataclasses.replace(snapshot.stack, **changes))


def with_ollama(snapshot: Snapshot, **changes: Any) -> Snapshot:
    return dataclasses.replace(snapshot, ollama=dataclasses.replace(snapshot.ollama, **changes))


def ollama_running(snapshot: Snapshot, version: str = "0.12.6", **changes: Any) -> Snapshot:
    """The snapshot with an Ollama server that answered /api/version and /api/ps (no models loaded)."""
    facts = {"binary_path": known("/usr/local/bin/ollama"), "server_version": known(version),
             "running_models": known([]), "process_environment": known({})}
    return with_ollama(snapshot, **{**facts, **changes})


# a vLLM server on the recorded 2x H200 host (GPU 0 GPU-07f4a309..., GPU 1 GPU-ef0d3f05...), both GPUs
SERVER = GpuProcess(
    pid=4242, program=known("vllm"), found_by="nvml, name", command_line=known("vllm serve Qwen/Qwen3-8B"),
    user=known("svc-llm"), cgroup=known("/system.slice/vllm.service"), container=known("none"),
    gpu_environment=known({"CUDA_VISIBLE_DEVICES": "0,1"}), cpus_allowed=known("0-31"),
    memory_nodes_allowed=known("0"), gpus_held=known([0, 1]), gpu_numa_nodes=known([0]), gpu_libraries=known([]))


# --- synthetic hosts (gpubal topo, gpubal balance) -------------------------------------------------------


def synthetic_snapshot(gpus: List[Dict[str, Any]], links: Dict[Any, Any], numa_nodes: Dict[int, str]) -> Snapshot:
    """A snapshot with only what placement reads: per GPU `uuid`, `name`, `memory` (bytes), `numa`, `cpus`;
    per pair (a, b) a (pcie_path, nvlink_count, nvlink_route) triple. Every other fact is not_in_input."""
    from gpubal.model import SCHEMA_VERSION, Driver, Gpu, GpuPair, Host, NumaNode, Ollama, Stack

    def blank(cls, **given):
        missing = Unavailable(Reason.NOT_IN_INPUT, "synthetic")
        values = {f.name: missing for f in dataclasses.fields(cls)}
        values.update(given)
        return cls(**values)

    gpu_parts = [blank(Gpu, index=i, uuid=known(g["uuid"]), name=known(g.get("name", "NVIDIA H100 80GB HBM3")),
                       memory_total_bytes=known(g.get("memory", 80 << 30)), numa_node=known(g.get("numa", 0)),
                       cpu_affinity=known(g.get("cpus", "0-31")), pci_bus_id=known(f"00000000:{i + 16:02X}:00.0"))
                 for i, g in enumerate(gpus)]
    pairs = []
    for a in range(len(gpus)):
        for b in range(a + 1, len(gpus)):
            path, count, route = links.get((a, b), ("SYS", 0, "none"))
            pairs.append(blank(GpuPair, gpu_a=a, gpu_b=b, pcie_path=known(path), nvlink_count=known(count),
                               nvlink_route=known(route)))
    host = blank(Host, numa_nodes=known([NumaNode(node, cpus) for node, cpus in sorted(numa_nodes.items())]))
    return Snapshot(schema_version=SCHEMA_VERSION, gpubal_version="test", collected_at="2026-01-01T00:00:00+00:00",
                    origin="synthetic", host=host, driver=blank(Driver), gpus=known(gpu_parts), pairs=known(pairs),
                    stack=blank(Stack), ollama=blank(Ollama))


# --- hostile strings (reports: they must show as text and never run) ------------------------------------

HOSTILE = '<script>alert(1)</script>'
