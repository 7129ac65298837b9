from ..model import Fix, Severity, Snapshot, need
from . import finding, rule
from ..common import links as _links


@rule("site-policy-gpu-count", scope="host", area="policy",
      summary="The host has as many GPUs as the site policy expects",
      inputs=("policy",), policy_key="gpu_count")
def site_policy_gpu_count(snapshot: Snapshot, policy):
    """
    What it checks
        With `--policy FILE` whose `[expect]` table (or a matching `[[host]]` section) sets `gpu_count`:
        the number of GPUs the driver lists (NVML's device count, or the GPUs a whole pasted table shows)
        against that number; a mismatch is an error finding that says "actual X, expected Y". A paste
        whose GPU list was cut (`...`, or GPU indexes with a gap) does not tell how many GPUs the host
        has, so the check is not evaluated there. Without the key the check does not run.

    Why it matters
        A node with a GPU missing still boots and still serves, at a fraction of its capacity: a GPU
        that fell off the bus (Xid 79), failed to initialise or was never seated is easy to miss
        without a count to compare with.

    How to fix
        Find the missing GPU: is it on the PCI bus (`lspci -d 10de:`), did the driver see it
        (`nvidia-smi -L`), did the kernel log an Xid? If the node is of another kind, fix the policy's
        `[[host]]` sections instead.

    References
        links.XID_ERRORS
    """
    wanted = policy.expect["gpu_count"]
    actual = need(snapshot.driver.device_count, "driver.device_count")
    if actual == wanted:
        return
    yield finding(
        Severity.ERROR, "host", f"GPU count: actual {actual}, expected {wanted} (site policy {policy.name})",
        {"gpus": actual, "policy.expect.gpu_count": wanted},
        Fix(summary="Find the missing GPU: is it on the bus, did the driver see it, did it fall off (Xid 79)?",
            commands=("nvidia-smi -L", "lspci -d 10de: -nn", "sudo dmesg | grep -iE 'NVRM|Xid'"),
            url=_links.XID_ERRORS))
