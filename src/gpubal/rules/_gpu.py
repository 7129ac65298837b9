"""Small helpers that several rules share."""

from ..model import Gpu, Known, NotApplicable, Reason, Unavailable, value_or


def short_bus_id(gpu: Gpu) -> str:
    """The PCI address as lspci and sysfs write it (4-digit domain, lower case), or BUS_ID if unknown."""
    if not isinstance(gpu.pci_bus_id, Known):
        return "BUS_ID"
    domain, rest = gpu.pci_bus_id.value.split(":", 1)
    return f"{int(domain, 16):04x}:{rest.lower()}"


def has_feature(gpu: Gpu, fact_name: str) -> bool:
    """False when NVML answered "not supported" for the fact: the GPU has no such feature (no NVSwitch
    fabric on an L40S, no MIG on a GeForce), which makes a rule about it not apply rather than not
    evaluated. Any other unavailable answer stays unknown (FactMissing)."""
    fact = getattr(gpu, fact_name)
    if isinstance(fact, Unavailable) and fact.reason is Reason.NOT_SUPPORTED:
        return False
    gpu.need(fact_name)
    return True


def need_feature(gpu: Gpu, fact_name: str, what: str):
    """The fact's value; NotApplicable when the GPU has no such feature (see has_feature)."""
    if not has_feature(gpu, fact_name):
        raise NotApplicable(f"GPU {gpu.index} has no {what} (NVML: not supported)")
    return gpu.need(fact_name)


def on_nvswitch_fabric(gpu: Gpu) -> bool:
    """On an NVSwitch fabric: NVML reads a fabric state for it other than "not_supported"."""
    return has_feature(gpu, "fabric_state") and gpu.need("fabric_state") != "not_supported"


def nvswitch_gpus(snapshot):
    """GPUs on an NVSwitch fabric (on_nvswitch_fabric)."""
    return [gpu for gpu in snapshot.gpu_list() if on_nvswitch_fabric(gpu)]


def fabric_ready(gpus) -> bool:
    return all(value_or(gpu.fabric_state, "") == "completed" and value_or(gpu.fabric_status, "") == "success"
               for gpu in gpus)
