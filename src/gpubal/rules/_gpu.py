"""Small helpers that several rules share."""

from ..doctor.model import Gpu, Known


def short_bus_id(gpu: Gpu) -> str:
    """The PCI address as lspci and sysfs write it (4-digit domain, lower case), or BUS_ID if unknown."""
    if not isinstance(gpu.pci_bus_id, Known):
        return "BUS_ID"
    domain, rest = gpu.pci_bus_id.value.split(":", 1)
    return f"{int(domain, 16):04x}:{rest.lower()}"
