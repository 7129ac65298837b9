from typing import Optional

from ..common import links as _links
from ..model import FactMissing, Fix, GpuProcess, Known, Severity, Snapshot, Unavailable, need
from . import finding, rule

# NCCL's troubleshooting guide asks containers for `--shm-size=1g`; less is what gets people the
# "failed to extend /dev/shm/nccl-..." error (Docker's own default is 64 MiB).
RECOMMENDED_BYTES = 1 << 30
# Servers that split a model over GPUs inside one process, through llama.cpp's CUDA backend: no NCCL, so
# no NCCL segments in /dev/shm
WITHOUT_NCCL = ("ollama", "llama.cpp")


@rule("dev-shm-too-small", scope="host", area="memory",
      summary="Inside a container with several GPUs, /dev/shm has at least 1 GiB for NCCL")
def dev_shm_too_small(snapshot: Snapshot):
    """
    What it checks
        Inside a container (Docker, Podman, Kubernetes) on a host with more than one GPU, the size of
        /dev/shm against the 1 GiB that NCCL's troubleshooting guide asks containers for
        (`--shm-size=1g`). Docker gives containers 64 MiB unless told otherwise. Seen from the host, the
        same for every GPU process that runs in a container and whose CUDA sees two GPUs or more: its
        own /dev/shm, read from /proc/PID/mountinfo. Ollama and llama.cpp servers are not judged: they
        split a model over GPUs in one process, without NCCL.

    Why it matters
        NCCL creates its shared-memory segments in /dev/shm to pass data between the processes (and
        threads) of a multi-GPU job. When they do not fit, NCCL fails to initialise with "NCCL WARN
        Error: failed to extend /dev/shm/nccl-... to N bytes", or a job dies with a bus error. A host
        with a large /dev/shm says nothing about a container's: each container mounts its own.

    How to fix
        Start the container with a larger /dev/shm: `docker run --shm-size=1g --ulimit memlock=-1`
        (as NCCL's guide writes it), `shm_size: 1gb` in Docker Compose, or in Kubernetes a memory-backed
        emptyDir volume mounted at /dev/shm.

    References
        links.NCCL_SHARED_MEMORY
        https://docs.docker.com/reference/cli/docker/container/run/
    """
    missing: Optional[FactMissing] = None
    try:
        yield from _this_container(snapshot)
    except FactMissing as lacking:
        missing = lacking
    try:
        yield from _container_processes(snapshot)
    except FactMissing as lacking:
        missing = missing or lacking
    if missing is not None:
        raise missing


def _this_container(snapshot: Snapshot):
    """gpubal itself runs in a container: the /dev/shm it sees is the container's."""
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
        _fix(),
    )


def _container_processes(snapshot: Snapshot):
    """Each GPU process in a container with two GPUs or more, by its own /dev/shm. A fact missing for one
    process does not hide the others: the first missing one is raised at the end."""
    missing: Optional[FactMissing] = None
    for process in need(snapshot.processes, "processes"):
        if not (isinstance(process.container, Known) and process.container.value != "none"):
            continue
        if isinstance(process.program, Known) and process.program.value in WITHOUT_NCCL:
            continue
        try:
            gpus = _gpus_it_uses(snapshot, process)
            if gpus < 2:
                continue
            size = process.need("dev_shm_bytes")
        except FactMissing as lacking:
            missing = missing or lacking
            continue
        if size >= RECOMMENDED_BYTES:
            continue
        subject = process.subject()
        program = process.program.value if isinstance(process.program, Known) else f"PID {process.pid}"
        yield finding(
            Severity.WARNING, subject,
            f"{program} (PID {process.pid}, {gpus} GPUs) runs in a {process.container.value} container whose "
            f"/dev/shm has {size / (1 << 20):.0f} MiB; NCCL's guide asks for 1 GiB (--shm-size=1g)",
            {f"{subject}.container": process.container.value, f"{subject}.dev_shm_bytes": size,
             "recommended_bytes": RECOMMENDED_BYTES},
            _fix(),
        )
    if missing is not None:
        raise missing


def _gpus_it_uses(snapshot: Snapshot, process: GpuProcess) -> int:
    """The GPUs the process holds, or else those its CUDA sees."""
    if isinstance(process.gpus_held, Known) and len(process.gpus_held.value) >= 2:
        return len(process.gpus_held.value)
    from ..common.visibility import process_visibility  # here: only a process in a container gets this far

    seen = process_visibility(snapshot, process)
    if isinstance(seen, Unavailable):
        raise FactMissing(f"{process.subject()}.gpu_environment", seen)
    return len(seen.gpus)


def _fix() -> Fix:
    return Fix(summary="Give the container a 1 GiB (or larger) /dev/shm",
               commands=("df -h /dev/shm", "docker run --shm-size=1g --ulimit memlock=-1 IMAGE"),
               url=_links.NCCL_SHARED_MEMORY)
