from ..model import Fix, Severity, Snapshot
from . import finding, rule
from ..matrix import Matrix, cudnn_builds, cudnn_variant, min_driver_for_cuda
from ._stack import consumer_cuda, major_minor, matrix_lacks, short_version, version_key


@rule("cudnn-cuda-mismatch", scope="host", area="stack",
      summary="Each cuDNN copy is built for the CUDA major its user runs, and the driver is new enough",
      inputs=("matrix",))
def cudnn_cuda_mismatch(snapshot: Snapshot, matrix: Matrix):
    """
    What it checks
        Every cuDNN copy found (system library, wheel, framework-bundled) against NVIDIA's cuDNN support
        matrix: the CUDA major it was built for must be the one its user runs (torch's CUDA build for
        torch's wheel, the system libcudart for the system copy), and the driver must meet the build's
        minimum. Where only NVIDIA's redistributable manifest of a release was found (which CUDA majors it
        is built for, no support matrix), the CUDA major is judged, and the driver against that CUDA
        major's own minimum. A cuDNN release the matrix has no row for is not evaluated: gpubal does not
        guess.

    Why it matters
        cuDNN for CUDA 12 does not load into a CUDA 13 process and the other way round, and a cuDNN
        build on a driver below its minimum fails at its first call (CUDNN_STATUS_... errors, or a
        framework that silently runs without cuDNN).

    How to fix
        Install the cuDNN package or wheel for the CUDA major in use (nvidia-cudnn-cu12 or
        nvidia-cudnn-cu13; libcudnn9-cuda-12 or libcudnn9-cuda-13), or upgrade the driver to the
        build's minimum.

    References
        links.CUDNN_SUPPORT_MATRIX
    """
    driver_version = snapshot.driver.need("version")
    copies = [copy for copy in snapshot.stack.need("libraries") if copy.name == "cudnn"]
    lacking = []
    for copy in copies:
        version = short_version(copy.version)
        builds = cudnn_builds(matrix, version)
        variant = cudnn_variant(matrix, version)
        if not builds and variant is None:
            lacking.append(version)
            continue
        cuda, how = consumer_cuda(copy, snapshot.stack)
        evidence = {"cudnn": copy.version, "path": copy.path, "consumer": copy.consumer,
                    "consumer CUDA": f"{cuda} ({how})" if cuda else "unknown", "driver.version": driver_version}
        if not builds:
            yield from _judge_variant(matrix, copy, version, variant, cuda, driver_version, evidence)
            continue
        matching = [b for b in builds if not cuda or b.cuda_major == major_minor(cuda)[0]]
        if not matching:
            majors = sorted({b.cuda_major for b in builds})
            yield _wrong_cuda_major(copy, version, cuda, f"{', '.join(map(str, majors))}.x",
                                    {**evidence, "cuDNN builds for CUDA": majors}, builds[0].source)
            continue
        floor = min((b.min_linux_driver for b in matching), key=version_key)
        if version_key(driver_version) < version_key(floor):
            yield _driver_too_old(copy, f"needs driver {floor} or newer", floor, driver_version,
                                  {**evidence, "cuDNN minimum driver": floor}, matching[0].source)
    if lacking:
        matrix_lacks(f"cuDNN {lacking[0]}", "cudnn.toml")


def _judge_variant(matrix, copy, version, variant, cuda, driver_version, evidence):
    """A release known only from NVIDIA's manifest: its CUDA majors, and the driver that CUDA major needs."""
    if not cuda:
        return
    major = major_minor(cuda)[0]
    evidence = {**evidence, "cuDNN builds for CUDA": list(variant.cuda_majors)}
    if major not in variant.cuda_majors:
        built_for = f"{', '.join(f'{v}.x' for v in variant.cuda_majors)} (NVIDIA's manifest)"
        yield _wrong_cuda_major(copy, version, cuda, built_for, evidence, variant.source)
        return
    floor = min_driver_for_cuda(matrix, f"{major}.0")
    if floor is not None and version_key(driver_version) < version_key(floor):
        yield _driver_too_old(copy, f"is a CUDA {major} build, and CUDA {major} needs driver {floor} or newer",
                              floor, driver_version, {**evidence, "CUDA minimum driver": floor}, variant.source)


def _wrong_cuda_major(copy, version, cuda, built_for, evidence, url):
    major = major_minor(cuda)[0]
    return finding(
        Severity.ERROR, f"lib:{copy.path}",
        f"cuDNN {copy.version} at {copy.path} is built for CUDA {built_for} but {copy.consumer} runs CUDA {cuda}",
        evidence,
        Fix(summary=f"Install the cuDNN {version.split('.')[0]} build for CUDA {major}",
            commands=(f"pip install nvidia-cudnn-cu{major}",), url=url),
    )


def _driver_too_old(copy, needs, floor, driver_version, evidence, url):
    return finding(
        Severity.ERROR, f"lib:{copy.path}",
        f"cuDNN {copy.version} at {copy.path} {needs}; this driver is {driver_version}",
        evidence,
        Fix(summary=f"Upgrade the driver to {floor} or newer",
            commands=("nvidia-smi --query-gpu=driver_version --format=csv,noheader",), url=url),
    )
