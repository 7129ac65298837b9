from ..model import Fix, Gpu, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ._gpu import short_bus_id


@rule("pcie-link-downtrained", scope="gpu", area="pcie",
      summary="The PCIe link runs at the width (and, under load, the generation) it can reach")
def pcie_link_downtrained(gpu: Gpu, snapshot: Snapshot):
    """
    What it checks
        The GPU's current PCIe link width against the widest this GPU can reach in this slot, and the
        current PCIe generation against the highest, but the generation only while the GPU is busy.
        NVML's maximum already accounts for the slot, so a x16 card in a x8 slot is not reported.

    Why it matters
        A link that trained at x8 instead of x16 halves host-to-GPU bandwidth: model loading, CPU
        offload and any PCIe peer traffic slow down. It usually means a badly seated card, a riser, a
        dirty connector or a BIOS setting. An idle GPU lowers its link generation to save power: that
        is normal and not reported.

    How to fix
        Reseat the card or riser, check the slot's BIOS setting (lane bifurcation, link speed), and
        compare with `nvidia-smi -q -d PCIE` under load.

    References
        links.NVML_API
    """
    width = gpu.need("pcie_link_width_current")
    width_max = gpu.need("pcie_link_width_max")
    evidence = {f"{gpu.subject()}.pcie_link_width_current": width,
                f"{gpu.subject()}.pcie_link_width_max": width_max}
    fix = Fix(
        summary="Reseat the GPU or riser and check the slot's BIOS link settings",
        commands=(f"nvidia-smi -q -d PCIE -i {gpu.index}", f"sudo lspci -vv -s {short_bus_id(gpu)} | grep -E 'LnkCap|LnkSta'"),
        url=_links.NVML_API,
    )
    if width < width_max:
        yield finding(
            Severity.WARNING, gpu.subject(),
            f"GPU {gpu.index} PCIe link runs at x{width}, below the x{width_max} it can reach",
            evidence, fix,
        )
    generation = gpu.need("pcie_link_gen_current")
    generation_max = gpu.need("pcie_link_gen_max")
    if generation >= generation_max:
        return
    reasons = gpu.need("clock_event_reasons")
    if "gpu_idle" in reasons:
        return  # power saving, not a fault
    yield finding(
        Severity.WARNING, gpu.subject(),
        f"GPU {gpu.index} PCIe link runs at Gen{generation} while busy, below the Gen{generation_max} it can reach",
        {**evidence, f"{gpu.subject()}.pcie_link_gen_current": generation,
         f"{gpu.subject()}.pcie_link_gen_max": generation_max,
         f"{gpu.subject()}.clock_event_reasons": reasons},
        fix,
    )

