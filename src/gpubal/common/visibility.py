"""Which GPUs a process's CUDA can use, from its environment and the host's GPUs: a pure function, shared
by the rules and the reports so that both say the same.

CUDA's rules (CUDA Programming Guide, "CUDA Environment Variables",
https://docs.nvidia.com/cuda/cuda-programming-guide/05-appendices/environment-variables.html):

- CUDA_VISIBLE_DEVICES unset: every GPU is visible; set but empty: none is.
- Otherwise a comma-separated list of GPU indexes, GPU UUIDs (GPU-8932f937-d72c-...; a prefix that names
  one GPU is enough) or MIG devices (MIG-<UUID>, or MIG-<GPU-UUID>/<GPU instance>/<compute instance>).
  The GPUs are enumerated in the order of the list, and at the first entry that names no GPU the list
  ends: "0,2,-1,1" makes GPUs 0 and 2 visible, and not 1.
- Indexes count in CUDA's enumeration order, which CUDA_DEVICE_ORDER chooses: FASTEST_FIRST (the default,
  "fastest to slowest using a simple heuristic") or PCI_BUS_ID (ascending PCI bus id, nvidia-smi's order).
  GPUs of one model are equally fast and are taken here in PCI order; with mixed models and no
  PCI_BUS_ID the order of an index is not known from the snapshot.

NVIDIA_VISIBLE_DEVICES is read by the NVIDIA Container Toolkit when a container is created: it decides
which GPUs the container has at all (indexes or UUIDs of the host, or "all"; "none", "void" or empty give
none). A process in a container sees those GPUs, in their own order, before CUDA_VISIBLE_DEVICES picks
among them. It applies only when gpubal looks from the host at a process in a container.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

from ..model import Gpu, GpuProcess, Known, Snapshot, Unavailable, record

CUDA_VISIBLE = "CUDA_VISIBLE_DEVICES"
CUDA_ORDER = "CUDA_DEVICE_ORDER"
CONTAINER_VISIBLE = "NVIDIA_VISIBLE_DEVICES"


@record
class Visibility:
    gpus: Tuple[int, ...]  # NVML indexes (nvidia-smi's numbers) of the GPUs CUDA enumerates, device 0 first
    mig_devices: Tuple[str, ...]  # MIG devices named, as written
    setting: str  # what decided it, as the environment says it ("CUDA_VISIBLE_DEVICES unset", ...)
    invalid_entry: Optional[str]  # the first entry that names no GPU (the list ends there); None when none
    ignored_entries: Tuple[str, ...]  # the entries after it, which CUDA never reads
    repeated_entries: Tuple[str, ...]  # entries naming a GPU already named (CUDA documents no meaning for it)
    by_index: bool  # some entry picks a GPU by its index
    index_order_known: bool  # False: indexes under FASTEST_FIRST on mixed GPU models
    container_gpus: Optional[Tuple[int, ...]]  # the GPUs NVIDIA_VISIBLE_DEVICES gave the container, if applied

    @property
    def names_missing_gpu(self) -> bool:
        return self.invalid_entry is not None


def _model(gpu: Gpu) -> Tuple[str, str]:
    name = gpu.name.value if isinstance(gpu.name, Known) else "?"
    capability = gpu.compute_capability.value if isinstance(gpu.compute_capability, Known) else "?"
    return name, capability


def _pci_order(gpus: Sequence[Gpu]) -> List[Gpu]:
    return sorted(gpus, key=lambda gpu: (gpu.pci_bus_id.value.lower() if isinstance(gpu.pci_bus_id, Known)
                                         else f"~{gpu.index:08d}", gpu.index))


def _uuid(gpu: Gpu) -> str:
    return gpu.uuid.value if isinstance(gpu.uuid, Known) else ""


def _by_uuid(entry: str, gpus: Sequence[Gpu]) -> Optional[Gpu]:
    matches = [gpu for gpu in gpus if _uuid(gpu) and _uuid(gpu).lower().startswith(entry.lower())]
    return matches[0] if len(matches) == 1 else None


def _by_mig(entry: str, gpus: Sequence[Gpu]) -> Optional[Gpu]:
    old = re.fullmatch(r"MIG-(GPU-[0-9a-fA-F-]+)/(\d+)/(\d+)", entry)
    for gpu in gpus:
        instances = gpu.mig_instances.value if isinstance(gpu.mig_instances, Known) else []
        for instance in instances:
            if old and _uuid(gpu).lower() == old.group(1).lower() and \
                    (instance.gpu_instance_id, instance.compute_instance_id) == (int(old.group(2)), int(old.group(3))):
                return gpu
            if not old and instance.uuid.lower().startswith(entry.lower()):
                return gpu
    return None


def _container_gpus(value: str, gpus: Sequence[Gpu]) -> Tuple[Gpu, ...]:
    value = value.strip()
    if value in ("", "none", "void"):
        return ()
    if value == "all":
        return tuple(gpus)
    chosen = []
    for entry in (part.strip() for part in value.split(",")):
        gpu = next((g for g in gpus if str(g.index) == entry), None) if entry.isdigit() else _by_uuid(entry, gpus)
        if gpu is not None and gpu not in chosen:
            chosen.append(gpu)
    return tuple(_pci_order(chosen))


def resolve_visibility(environment: Dict[str, str], gpus: Sequence[Gpu],
                       apply_container_devices: bool = False) -> Visibility:
    """What CUDA in a process with this environment enumerates, on a host with these GPUs (NVML's list)."""
    container: Optional[Tuple[int, ...]] = None
    base = list(gpus)
    if apply_container_devices and CONTAINER_VISIBLE in environment:
        chosen = _container_gpus(environment[CONTAINER_VISIBLE], gpus)
        base, container = list(chosen), tuple(gpu.index for gpu in chosen)
    pci_first = environment.get(CUDA_ORDER, "").strip() == "PCI_BUS_ID"
    one_model = len({_model(gpu) for gpu in base}) <= 1
    ordered = _pci_order(base)  # CUDA's order when PCI_BUS_ID is asked, or the GPUs are all alike
    if CUDA_VISIBLE not in environment:
        return Visibility(tuple(gpu.index for gpu in ordered), (), f"{CUDA_VISIBLE} unset", None, (), (), False,
                          pci_first or one_model, container)
    value = environment[CUDA_VISIBLE]
    entries = [part.strip() for part in value.split(",")]
    chosen: List[Gpu] = []
    migs: List[str] = []
    repeated: List[str] = []
    by_index = False
    for position, entry in enumerate(entries):
        gpu: Optional[Gpu] = None
        if re.fullmatch(r"-?\d+", entry):
            by_index = True
            number = int(entry)
            gpu = ordered[number] if 0 <= number < len(ordered) else None
        elif entry.upper().startswith("GPU-"):
            gpu = _by_uuid(entry, base)
        elif entry.upper().startswith("MIG-"):
            gpu = _by_mig(entry, base)
            if gpu is not None:
                migs.append(entry)
        if gpu is None:
            return Visibility(tuple(g.index for g in chosen), tuple(migs), f"{CUDA_VISIBLE}={value}", entry,
                              tuple(entries[position + 1:]), tuple(repeated), by_index,
                              pci_first or one_model or not by_index, container)
        if gpu in chosen and not entry.upper().startswith("MIG-"):
            repeated.append(entry)
            continue
        if gpu not in chosen:
            chosen.append(gpu)
    return Visibility(tuple(gpu.index for gpu in chosen), tuple(migs), f"{CUDA_VISIBLE}={value}", None, (),
                      tuple(repeated), by_index, pci_first or one_model or not by_index, container)


def process_visibility(snapshot: Snapshot, process: GpuProcess) -> Union[Visibility, Unavailable]:
    """What CUDA in the process enumerates; the container's device list counts only when gpubal looks from
    the host (inside the container NVML already lists the container's GPUs alone)."""
    environment, gpus = process.gpu_environment, snapshot.gpus
    if isinstance(environment, Unavailable):
        return environment
    if isinstance(gpus, Unavailable):
        return gpus
    host = snapshot.host.container
    from_host = isinstance(host, Known) and host.value == "none"
    in_container = isinstance(process.container, Known) and process.container.value != "none"
    return resolve_visibility(environment.value, gpus.value, apply_container_devices=from_host and in_container)
