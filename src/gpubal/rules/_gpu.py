"""Small helpers that several rules share."""

from ..model import Gpu, Known, value_or


def short_bus_id(gpu: Gpu) -> str:
    """The PCI address as lspci and sysfs write it (4-digit domain, lower case), or BUS_ID if unknown."""
    if not isinstance(gpu.pci_bus_id, Known):
        return "BUS_ID"
    domain, rest = gpu.pci_bus_id.value.split(":", 1)
    return f"{int(domain, 16):04x}:{rest.lower()}"


def nvswitch_gpus(snapshot):
    """GPUs on an NVSwitch fabric: those whose fabric state is anything but "not_supported"."""
    return [gpu for gpu in snapshot.gpu_list() if gpu.need("fabric_state") != "not_supported"]


def fabric_ready(gpus) -> bool:
    return all(value_or(gpu.fabric_state, "") == "completed" and value_or(gpu.fabric_status, "") == "success"
               for gpu in gpus)
