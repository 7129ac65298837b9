import re

from ..model import Fix, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ._ollama import require_ollama



@rule("ollama-several-libcuda-versions", scope="host", area="driver",
      summary="Only one driver version of libcuda is on the loader path")
def ollama_several_libcuda_versions(snapshot: Snapshot):
    """
    What it checks
        The libcuda copies Ollama's GPU discovery found (its debug log lists them: `discovered GPU
        libraries paths=[...]`): whether their file names carry more than one driver version, such as
        libcuda.so.570.86.15 beside libcuda.so.570.86.16.

    Why it matters
        libcuda must match the loaded kernel module exactly. A leftover copy from an earlier driver
        (a partial upgrade, a copy baked into a container image, a cuda-compat package) can be the one
        a program loads first: cuInit then fails (often 803, or 802 inside containers) or the GPU is
        not found, while nvidia-smi, which uses NVML, still works.

    How to fix
        Remove the copy that does not match the kernel module (`cat /proc/driver/nvidia/version`),
        then refresh the loader cache with `sudo ldconfig`. In a container, do not bake a libcuda into
        the image: the NVIDIA Container Toolkit mounts the host's.

    References
        links.CONTAINER_CAPABILITIES
        links.LD_SO
    """
    ollama = require_ollama(snapshot)
    paths = ollama.need("log_cuda_libraries")
    versions = {}
    for path in paths:
        # written in the call: re compiles (and caches) it on first use, not at every start
        match = re.search(r"libcuda\.so\.(\d{3}\.\d+(?:\.\d+)?)$", path)
        if match:
            versions.setdefault(match.group(1), []).append(path)
    if len(versions) <= 1:
        return
    yield finding(
        Severity.WARNING, "host",
        f"libcuda of {len(versions)} driver versions is on the loader path ({', '.join(sorted(versions))}): a "
        "program may load one that does not match the kernel module",
        {"ollama.log_cuda_libraries": paths, "driver versions": sorted(versions)},
        Fix(summary="Keep only the libcuda of the running driver's version, then refresh the loader cache",
            commands=("cat /proc/driver/nvidia/version", "ldconfig -p | grep libcuda", "sudo ldconfig"),
            url=_links.LD_SO),
    )
