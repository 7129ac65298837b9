from ..model import Fix, Severity, Snapshot
from . import finding, rule
from ..common import links as _links

# NCCL's troubleshooting guide asks containers for `--shm-size=1g`; less is what gets people the
# "failed to extend /dev/shm/nccl-..." error (Docker's own default is 64 MiB).
RECOMMENDED_BYTES = 1 << 30


@rule("dev-shm-too-small", scope="host", area="memory",
      summary="Inside a container with several GPUs, /dev/shm has at least 1 GiB for NCCL")
def dev_shm_too_small(snapshot: Snapshot):
    """
    What it checks
        Inside a container (Docker, Podman, Kubernetes) on a host with more than one GPU, the size of
        /dev/shm against the 1 GiB that NCCL's troubleshooting guide asks containers for
        (`--shm-size=1g`). Docker gives containers 64 MiB unless told otherwise.

    Why it matters
        NCCL creates its shared-memory segments in /dev/shm to pass data between the processes (and
        threads) of a multi-GPU job. When they do not fit, NCCL fails to initialise with "NCCL WARN
        Error: failed to extend /dev/shm/nccl-... to N bytes", or a job dies with a bus error.

    How to fix
        Start the container with a larger /dev/shm: `docker run --shm-size=1g --ulimit memlock=-1`
        (as NCCL's guide writes it), `shm_size: 1gb` in Docker Compose, or in Kubernetes a memory-backed
        emptyDir volume mounted at /dev/shm.

    References
        links.NCCL_SHARED_MEMORY
        https://docs.docker.com/reference/cli/docker/container/run/
    """
    container = snapshot.host.need("container")
    if container == "none" or len(snapshot.gpu_list()) < 2:
        return
    size = snapshot.stack.need("dev_shm_bytes")
    if size >= RECOMMENDED_BYTES:
        return
    yield finding(
        Severity.WARNING, "host",
        f"/dev/shm in this {container} container has {size / (1 << 20):.0f} MiB; NCCL's guide asks for 1 GiB "
        f"(--shm-size=1g) for multi-GPU jobs",
        {"host.container": container, "stack.dev_shm_bytes": size, "recommended_bytes": RECOMMENDED_BYTES},
        Fix(summary="Give the container a 1 GiB (or larger) /dev/shm",
            commands=("df -h /dev/shm", "docker run --shm-size=1g --ulimit memlock=-1 IMAGE"),
            url=_links.NCCL_SHARED_MEMORY),
    )
