from ..model import Fix, Gpu, Known, Severity, Snapshot
from . import finding, rule
from ..common import links as _links


@rule("nvlink-link-inactive", scope="gpu", area="nvlink",
      summary="Every NVLink of a GPU that uses NVLink is up")
def nvlink_link_inactive(gpu: Gpu, snapshot: Snapshot):
    """
    What it checks
        On a GPU where at least one NVLink is active, whether any other link is down. A GPU whose
        links are all inactive (a PCIe card with no bridge fitted) is not reported: it does not use
        NVLink at all.

    Why it matters
        Each missing link removes its share of GPU-to-GPU bandwidth (an H100 or H200 has 18 links of
        about 26 GB/s each way); on NVSwitch boards it also makes the fabric asymmetric, so collective
        operations run at the speed of the weakest GPU. Links drop because of bridge seating, a faulty
        NVSwitch tray, or errors that took a link down.

    How to fix
        Look at the link states and error counters, reseat NVLink bridges, and on NVSwitch systems
        check Fabric Manager's log; persistent failures need the vendor.

    References
        links.FABRIC_MANAGER
    """
    links = gpu.need("nvlinks")
    states = {link.link: link.need("active") for link in links}
    active = sorted(number for number, up in states.items() if up)
    inactive = sorted(number for number, up in states.items() if not up)
    if not active or not inactive:
        return
    name = gpu.name.value if isinstance(gpu.name, Known) else "GPU"
    yield finding(
        Severity.WARNING, gpu.subject(),
        f"GPU {gpu.index} ({name}) has {len(inactive)} of {len(states)} NVLinks down: links {', '.join(map(str, inactive))}",
        {f"{gpu.subject()}.nvlinks_active": len(active), f"{gpu.subject()}.nvlinks_inactive": inactive},
        Fix(
            summary="Check link state and errors; reseat bridges; on NVSwitch systems read the Fabric Manager log",
            commands=(f"nvidia-smi nvlink -s -i {gpu.index}", f"nvidia-smi nvlink -e -i {gpu.index}",
                      "sudo journalctl -u nvidia-fabricmanager"),
            url=_links.FABRIC_MANAGER,
        ),
    )
