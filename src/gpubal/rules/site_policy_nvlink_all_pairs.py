from ..model import Fix, GpuPair, Severity, Snapshot
from . import finding, rule
from ..common import links as _links


@rule("site-policy-nvlink-all-pairs", scope="gpu_pair", area="policy",
      summary="Every pair of GPUs is joined by NVLink, as the site policy requires",
      inputs=("policy",), policy_key="nvlink_all_pairs")
def site_policy_nvlink_all_pairs(pair: GpuPair, snapshot: Snapshot, policy):
    """
    What it checks
        With `--policy FILE` whose `[expect]` table (or a matching `[[host]]` section) sets
        `nvlink_all_pairs = true`: every pair of GPUs has at least one NVLink between them, direct or
        through NVSwitch; a pair without one is an error finding that says "actual X, expected Y". Without
        the key, or with `false`, the check does not run.

    Why it matters
        Tensor-parallel jobs sized for an NVLink node exchange activations between every pair of GPUs;
        a pair that talks over PCIe instead is several times slower and holds back the whole group.

    How to fix
        Check the topology (`nvidia-smi topo -m`) and the pair's links (`nvidia-smi nvlink --status`):
        a missing bridge, an inactive link or an NVSwitch fabric that is not up (Fabric Manager) each
        leave a pair without NVLink.

    References
        links.FABRIC_MANAGER
    """
    actual = pair.need("nvlink_count")
    if actual > 0:
        return
    yield finding(
        Severity.ERROR, pair.subject(),
        f"GPU {pair.gpu_a} and GPU {pair.gpu_b}: actual {actual} NVLinks, expected at least 1 (site policy {policy.name})",
        {f"{pair.subject()}.nvlink_count": actual, "policy.expect.nvlink_all_pairs": True},
        Fix(summary="Check the NVLink bridge or NVSwitch fabric between the two GPUs",
            commands=("nvidia-smi topo -m", f"nvidia-smi nvlink --status -i {pair.gpu_a}"),
            url=_links.FABRIC_MANAGER))
