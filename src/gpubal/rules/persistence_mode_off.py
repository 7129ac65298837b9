from ..model import Fix, Gpu, Known, Severity, Snapshot
from . import finding, rule
from ..common import links as _links


@rule("persistence-mode-off", scope="gpu", area="driver",
      summary="The driver stays initialised between programs (nvidia-persistenced)")
def persistence_mode_off(gpu: Gpu, snapshot: Snapshot):
    """
    What it checks
        Whether the GPU is kept initialised while no program uses it (persistence mode, kept by the
        nvidia-persistenced daemon).

    Why it matters
        Without persistence the driver tears the GPU down when the last client exits and sets it up
        again for the next one: every CUDA start and every nvidia-smi call pays seconds on a multi-GPU
        host, and settings such as clocks are lost in between. The legacy per-GPU switch
        (`nvidia-smi -pm 1`) is deprecated; the driver logs "Persistence mode is deprecated and will
        be removed in a future release. Please use nvidia-persistenced instead."

        A GPU that drives a display (display active) is not judged: the display server holds its device
        file open, and "The GPU state remains loaded in the driver whenever one or more clients have the
        device file open" (NVIDIA, Driver Persistence, Persistence Daemon: Implementation Details,
        https://docs.nvidia.com/deploy/driver-persistence/persistence-daemon.html), so nothing is torn down
        between programs; the daemon is documented for Data Center, Quadro and GRID products, and the
        problem it solves is compute-only hosts "where X is not used" (.../background.html). Warning a
        desktop GeForce that drives the screen would be a false alarm.
        When whether a display is active is unknown (a recording or paste that does not show it, NVML
        without the answer), persistence off is warned about: the hosts persistence is for are headless servers,
        whose boards show no display, and dropping the warning there would lose a true one; a desktop's
        own nvidia-smi table shows `Disp.A`, so a pasted desktop table is told apart.

    How to fix
        Enable and start the nvidia-persistenced service that ships with the driver.

    References
        links.PERSISTENCE
    """
    if gpu.need("persistence_mode"):
        return
    display = gpu.display_active
    if isinstance(display, Known) and display.value:
        return  # the display server keeps the GPU initialised (see above)
    daemon = snapshot.driver.persistenced_running
    evidence = {f"{gpu.subject()}.persistence_mode": False}
    if isinstance(display, Known):  # shown when read: it is why a desktop GPU would not be warned
        evidence[f"{gpu.subject()}.display_active"] = False
    yield finding(
        Severity.WARNING, gpu.subject(),
        f"Persistence is off on GPU {gpu.index}: the driver re-initialises it for every new program",
        {**evidence,
         "driver.persistenced_running": daemon.value if isinstance(daemon, Known) else daemon.describe()},
        Fix(
            summary="Run the nvidia-persistenced daemon",
            commands=("sudo systemctl enable --now nvidia-persistenced",),
            url=_links.PERSISTENCE,
        ),
    )
