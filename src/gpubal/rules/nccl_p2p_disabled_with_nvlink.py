from ..model import Fix, Severity, Snapshot, need, value_or
from . import finding, rule
from ..common import links as _links


@rule("nccl-p2p-disabled-with-nvlink", scope="host", area="nvlink",
      summary="NCCL is not told to avoid P2P on GPUs that are connected by NVLink")
def nccl_p2p_disabled_with_nvlink(snapshot: Snapshot):
    """
    What it checks
        The NCCL variables in the environment gpubal runs in: NCCL_P2P_DISABLE=1, or NCCL_P2P_LEVEL=LOC
        (or 0), on a host where some pair of GPUs is connected by NVLink (directly or through NVSwitch).

    Why it matters
        Both settings stop NCCL from using peer-to-peer between GPUs, so NVLink goes unused and traffic
        between GPUs bounces through host memory: all-reduce and tensor-parallel inference slow down
        several times. They are often left over from a workaround for a PCIe-only machine.

    How to fix
        Unset NCCL_P2P_DISABLE and NCCL_P2P_LEVEL (NCCL picks the best path itself), or set
        NCCL_P2P_LEVEL=NVL to allow P2P over NVLink only. Look for them in shell profiles, job scripts,
        container images and systemd units.

    References
        links.NCCL_ENVIRONMENT
    """
    environment = snapshot.stack.need("environment")
    disable = environment.get("NCCL_P2P_DISABLE", "").strip()
    level = environment.get("NCCL_P2P_LEVEL", "").strip().upper()
    if disable != "1" and level not in ("LOC", "0"):
        return
    pairs = need(snapshot.pairs, "pairs")
    linked = [pair.subject() for pair in pairs if value_or(pair.nvlink_count, 0) > 0]
    if not linked:
        for pair in pairs:
            pair.need("nvlink_count")  # a pair whose NVLinks are unknown may have some: not evaluated
        return
    setting = "NCCL_P2P_DISABLE=1" if disable == "1" else f"NCCL_P2P_LEVEL={environment['NCCL_P2P_LEVEL']}"
    yield finding(
        Severity.WARNING, "host",
        f"{setting} keeps NCCL off peer-to-peer although {len(linked)} GPU pairs are connected by NVLink",
        {"stack.environment": {k: v for k, v in environment.items() if k in ("NCCL_P2P_DISABLE", "NCCL_P2P_LEVEL")},
         "NVLink pairs": linked},
        Fix(summary="Unset it (or set NCCL_P2P_LEVEL=NVL) where the jobs get their environment",
            commands=("unset NCCL_P2P_DISABLE NCCL_P2P_LEVEL", "NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,P2P COMMAND"),
            url=_links.NCCL_ENVIRONMENT),
    )
