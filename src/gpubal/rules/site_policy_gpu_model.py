import fnmatch

from ..model import Fix, Gpu, Severity, Snapshot
from . import finding, rule


@rule("site-policy-gpu-model", scope="gpu", area="policy",
      summary="Every GPU is the model the site policy expects",
      inputs=("policy",), policy_key="gpu_model")
def site_policy_gpu_model(gpu: Gpu, snapshot: Snapshot, policy):
    """
    What it checks
        With `--policy FILE` whose `[expect]` table (or a matching `[[host]]` section) sets `gpu_model`:
        each GPU's name as NVML reports it ("NVIDIA H100 80GB HBM3") against that name, or against a
        glob when the policy writes one (`*H100*`); a mismatch is an error finding that says "actual X,
        expected Y". Without the key the check does not run.

    Why it matters
        A scheduler that places work by node type assumes every node of the type has the same GPUs; a
        node of another model (or a policy section that matches the wrong hosts) gives jobs the wrong
        memory and speed.

    How to fix
        Check which GPUs the host has (`nvidia-smi --query-gpu=index,name,pci.bus_id --format=csv`)
        and that the host is the kind the matching policy section describes; fix the policy's
        `match` globs or `gpu_model` when the host is right.

    References
        https://docs.nvidia.com/deploy/nvidia-smi/index.html
    """
    wanted = policy.expect["gpu_model"]
    actual = gpu.need("name")
    matches = fnmatch.fnmatchcase(actual, wanted) if any(c in wanted for c in "*?[") else actual == wanted
    if matches:
        return
    yield finding(
        Severity.ERROR, gpu.subject(),
        f"GPU {gpu.index} model: actual {actual}, expected {wanted} (site policy {policy.name})",
        {f"{gpu.subject()}.name": actual, "policy.expect.gpu_model": wanted},
        Fix(summary="Check that this host is the kind the policy section describes, or fix the policy",
            commands=("nvidia-smi --query-gpu=index,name,pci.bus_id --format=csv",)))
