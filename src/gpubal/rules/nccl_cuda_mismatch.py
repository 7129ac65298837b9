from ..model import Fix, Severity, Snapshot
from . import finding, rule
from ..matrix import Matrix, nccl_release
from ._stack import consumer_cuda, major_minor, matrix_lacks, short_version


@rule("nccl-cuda-mismatch", scope="host", area="stack",
      summary="Each NCCL copy is built for the CUDA major its user runs",
      inputs=("matrix",))
def nccl_cuda_mismatch(snapshot: Snapshot, matrix: Matrix):
    """
    What it checks
        Every NCCL copy found (system libnccl, the nvidia-nccl-cu12/-cu13 wheels, framework-bundled)
        against the CUDA versions NVIDIA builds that NCCL release for, taken from the NCCL release notes
        and NVIDIA's redistributable listings. The CUDA major of the build must be the one its user runs.
        An NCCL release the matrix has no row for is not evaluated: gpubal does not guess.

    Why it matters
        An NCCL built for another CUDA major does not load into the process (missing libcudart symbols)
        or fails at communicator creation, and distributed jobs stop at their first collective.

    How to fix
        Install the NCCL build for the CUDA major in use: the libnccl2 package built for that CUDA
        (`+cudaX.Y` in its version) or the nvidia-nccl-cu12 / nvidia-nccl-cu13 wheel.

    References
        https://docs.nvidia.com/deeplearning/nccl/release-notes/index.html
        https://docs.nvidia.com/deeplearning/nccl/install-guide/index.html
    """
    lacking = []
    for copy in snapshot.stack.need("libraries"):
        if copy.name != "nccl":
            continue
        version = short_version(copy.version)
        release = nccl_release(matrix, version)
        if release is None:
            lacking.append(version)
            continue
        cuda, how = consumer_cuda(copy, snapshot.stack)
        if not cuda:
            continue
        majors = sorted({major_minor(build)[0] for build in release.cuda_builds})
        if major_minor(cuda)[0] in majors:
            continue
        yield finding(
            Severity.ERROR, f"lib:{copy.path}",
            f"NCCL {copy.version} at {copy.path} is built for CUDA {', '.join(release.cuda_builds)} but "
            f"{copy.consumer} runs CUDA {cuda}",
            {"nccl": copy.version, "path": copy.path, "consumer": copy.consumer, "consumer CUDA": f"{cuda} ({how})",
             "NCCL builds for CUDA": list(release.cuda_builds)},
            Fix(summary=f"Install an NCCL build for CUDA {major_minor(cuda)[0]}",
                commands=(f"pip install nvidia-nccl-cu{major_minor(cuda)[0]}",), url=release.source),
        )
    if lacking:
        matrix_lacks(f"NCCL {lacking[0]}", "nccl.toml")
