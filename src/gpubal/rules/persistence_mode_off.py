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

    How to fix
        Enable and start the nvidia-persistenced service that ships with the driver.

    References
        links.PERSISTENCE
    """
    if gpu.need("persistence_mode"):
        return
    daemon = snapshot.driver.persistenced_running
    yield finding(
        Severity.WARNING, gpu.subject(),
        f"Persistence is off on GPU {gpu.index}: the driver re-initialises it for every new program",
        {f"{gpu.subject()}.persistence_mode": False,
         "driver.persistenced_running": daemon.value if isinstance(daemon, Known) else daemon.describe()},
        Fix(
            summary="Run the nvidia-persistenced daemon",
            commands=("sudo systemctl enable --now nvidia-persistenced",),
            url=_links.PERSISTENCE,
        ),
    )
