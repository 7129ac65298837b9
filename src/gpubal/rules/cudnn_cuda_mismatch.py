from ..doctor.model import Fix, Severity, Snapshot
from . import finding, matrix, rule
from ._stack import consumer_cuda, major_minor, matrix_lacks, short_version, version_key


@rule("cudnn-cuda-mismatch", scope="host", area="stack",
      summary="Each cuDNN copy is built for the CUDA major its user runs, and the driver is new enough")
def check(snapshot: Snapshot):
    """
    What it checks
        Every cuDNN copy found (system library, wheel, framework-bundled) against NVIDIA's cuDNN support
        matrix: the CUDA major it was built for must be the one its user runs (torch's CUDA build for
        torch's wheel, the system libcudart for the system copy), and the driver must meet the build's
        minimum. A cuDNN release the matrix has no row for is not evaluated: gpubal does not guess.

    Why it matters
        cuDNN for CUDA 12 does not load into a CUDA 13 process and the other way round, and a cuDNN
        build on a driver below its minimum fails at its first call (CUDNN_STATUS_... errors, or a
        framework that silently runs without cuDNN).

    How to fix
        Install the cuDNN package or wheel for the CUDA major in use (nvidia-cudnn-cu12 or
        nvidia-cudnn-cu13; libcudnn9-cuda-12 or libcudnn9-cuda-13), or upgrade the driver to the
        build's minimum.

    References
        https://docs.nvidia.com/deeplearning/cudnn/latest/support-matrix/index.html
    """
    driver_version = snapshot.driver.need("version")
    m = matrix.load_matrix()
    copies = [copy for copy in snapshot.stack.need("libraries") if copy.name == "cudnn"]
    lacking = []
    for copy in copies:
        version = short_version(copy.version)
        builds = matrix.cudnn_builds(m, version)
        if not builds:
            lacking.append(version)
            continue
        cuda, how = consumer_cuda(copy, snapshot.stack)
        matching = [b for b in builds if not cuda or b.cuda_major == major_minor(cuda)[0]]
        evidence = {"cudnn": copy.version, "path": copy.path, "consumer": copy.consumer,
                    "consumer CUDA": f"{cuda} ({how})" if cuda else "unknown", "driver.version": driver_version}
        if not matching:
            majors = sorted({b.cuda_major for b in builds})
            yield finding(
                Severity.ERROR, f"lib:{copy.path}",
                f"cuDNN {copy.version} at {copy.path} is built for CUDA {', '.join(map(str, majors))}.x but "
                f"{copy.consumer} runs CUDA {cuda}",
                {**evidence, "cuDNN builds for CUDA": majors},
                Fix(summary=f"Install the cuDNN {version.split('.')[0]} build for CUDA {major_minor(cuda)[0]}",
                    commands=(f"pip install nvidia-cudnn-cu{major_minor(cuda)[0]}",), url=builds[0].source),
            )
            continue
        floor = min((b.min_linux_driver for b in matching), key=version_key)
        if version_key(driver_version) < version_key(floor):
            yield finding(
                Severity.ERROR, f"lib:{copy.path}",
                f"cuDNN {copy.version} at {copy.path} needs driver {floor} or newer; this driver is {driver_version}",
                {**evidence, "cuDNN minimum driver": floor},
                Fix(summary=f"Upgrade the driver to {floor} or newer",
                    commands=("nvidia-smi --query-gpu=driver_version --format=csv,noheader",), url=matching[0].source),
            )
    if lacking:
        matrix_lacks(f"cuDNN {lacking[0]}", "cudnn.toml")
