from typing import Optional, Tuple

from ..model import FactMissing, Fix, Reason, Severity, Snapshot, Unavailable
from . import finding, rule
from ..common import links as _links


@rule("site-policy-min-driver", scope="host", area="policy",
      summary="The driver is at least the version the site policy requires",
      inputs=("policy",), policy_key="min_driver")
def site_policy_min_driver(snapshot: Snapshot, policy):
    """
    What it checks
        With `--policy FILE` whose `[expect]` table (or a matching `[[host]]` section) sets `min_driver`:
        the driver version against that minimum, number by number ("550.54.15" < "550.127.05"). A
        driver version gpubal cannot read as numbers is not evaluated (neither old nor passed); an older
        one is an error finding that says "actual X, expected Y". Without the key the check does not run.

    Why it matters
        A site sets a driver floor for a reason: a fix it needs, the CUDA release its images are built
        with, a security bulletin. A node below it fails the jobs that rely on that reason.

    How to fix
        Upgrade the driver to the site's minimum with your distribution's packages or NVIDIA's
        repository, and reboot.

    References
        links.DATA_CENTER_DRIVERS
    """
    wanted = policy.expect["min_driver"]
    actual = snapshot.driver.need("version")
    have, floor = _numbers(actual), _numbers(wanted)
    if have is None:
        # not comparable is not at least the minimum: the check could not be made
        raise FactMissing("driver.version", Unavailable(
            Reason.ERROR, "driver.version", f"{actual!r} is not a version of numbers gpubal can compare"))
    width = max(len(have), len(floor or ()))  # "390.157" is "390.157.0": the R390 branch prints two numbers
    if floor is None or have + (0,) * (width - len(have)) >= floor + (0,) * (width - len(floor)):
        return  # (the policy's own value was checked when it was read)
    yield finding(
        Severity.ERROR, "host", f"driver: actual {actual}, expected at least {wanted} (site policy {policy.name})",
        {"driver.version": actual, "policy.expect.min_driver": wanted},
        Fix(summary="Upgrade the driver to the site's minimum, then reboot",
            commands=("nvidia-smi --query-gpu=driver_version --format=csv,noheader",),
            url=_links.DATA_CENTER_DRIVERS))


def _numbers(version: str) -> Optional[Tuple[int, ...]]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return None
