"""Documentation that fixes point to, in one place so that a moved page is mended once.

A fix names its page in code (``url=links.NVML_API``); a rule's docstring names the same page in its
References section by the same name (``links.NVML_API``), and :func:`expand_names` writes the URL in when
`gpubal explain`, `gpubal rules` and docs/rules.md render the docstring. So each URL is written here only.
"""

import re

DRIVER_INSTALL = "https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/index.html"
CONTAINER_TOOLKIT = "https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html"
PERSISTENCE = "https://docs.nvidia.com/deploy/driver-persistence/index.html"
MIG_GUIDE = "https://docs.nvidia.com/datacenter/tesla/mig-user-guide/index.html"
FABRIC_MANAGER = "https://docs.nvidia.com/datacenter/tesla/fabric-manager-user-guide/index.html"
XID_ERRORS = "https://docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html"
NCCL_TROUBLESHOOTING = "https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/troubleshooting.html"
MEMORY_ERRORS = "https://docs.nvidia.com/deploy/a100-gpu-mem-error-mgmt/index.html"
PAGE_RETIREMENT = "https://docs.nvidia.com/deploy/dynamic-page-retirement/index.html"
NVML_API = "https://docs.nvidia.com/deploy/nvml-api/index.html"
OLLAMA_GPU = "https://docs.ollama.com/gpu"
CUDA_COMPATIBILITY = "https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html"
CUDA_RELEASE_NOTES = "https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html"
CUDA_ENVIRONMENT = "https://docs.nvidia.com/cuda/cuda-programming-guide/05-appendices/environment-variables.html"
CUDNN_SUPPORT_MATRIX = "https://docs.nvidia.com/deeplearning/cudnn/latest/support-matrix/index.html"
NCCL_ENVIRONMENT = "https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/env.html"
NCCL_SHARED_MEMORY = "https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/troubleshooting/runtime_and_mpi_issues.html"
DRIVER_LIFECYCLE = "https://docs.nvidia.com/datacenter/tesla/drivers/supported-drivers-and-cuda-toolkit-versions.html"
LD_SO = "https://man7.org/linux/man-pages/man8/ld.so.8.html"
OLLAMA_FAQ = "https://docs.ollama.com/faq"
SYSTEMD_EXEC = "https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html"
NVML_CLOCK_EVENT_REASONS = "https://docs.nvidia.com/deploy/nvml-api/group__nvmlClocksEventReasons.html"
VLLM_PARALLELISM = "https://docs.vllm.ai/en/latest/serving/distributed_serving.html"
SGLANG_SERVER_ARGUMENTS = "https://docs.sglang.io/advanced_features/server_arguments.html"
NCCL_ACS = "https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/troubleshooting.html#pci-access-control-services-acs"
NVIDIA_IOMMU_PASSTHROUGH = "https://docs.nvidia.com/nim/maxine/lipsync/latest/advanced-usage/multi-gpu.html"
SYSTEMD_UNIT = "https://www.freedesktop.org/software/systemd/man/latest/systemd.unit.html"
CUDA_DRIVER_ERRORS = "https://docs.nvidia.com/cuda/cuda-driver-api/group__CUDA__TYPES.html"
CONTAINER_CAPABILITIES = "https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/docker-specialized.html"
VLLM_GPU_INSTALL = "https://docs.vllm.ai/en/v0.14.0/getting_started/installation/gpu/"
VLLM_GPU_REQUIREMENTS_0_21 = ("https://raw.githubusercontent.com/vllm-project/vllm/v0.21.0/docs/getting_started/"
                              "installation/gpu.cuda.inc.md")
NVIDIA_CUDA_GPUS = "https://developer.nvidia.com/cuda-gpus"
PYTORCH_INSTALL = "https://pytorch.org/get-started/locally/"
DATA_CENTER_DRIVERS = "https://docs.nvidia.com/datacenter/tesla/drivers/index.html"
CUDA_C_ENVIRONMENT_VARIABLES = "https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#env-vars"
KERNEL_NUMA_MEMORY_POLICY = "https://docs.kernel.org/admin-guide/mm/numa_memory_policy.html"



def documentation_hosts() -> "tuple[str, ...]":
    """The host of every page here: public documentation, whose name says nothing about a site, so
    redaction leaves it as it is."""
    urls = [value for name, value in globals().items() if name.isupper() and isinstance(value, str)]
    return tuple(sorted({url.split("/")[2] for url in urls if url.startswith("https://")}))


_NAME = re.compile(r"\blinks\.([A-Za-z_][A-Za-z0-9_]*)")


def expand_names(text: str) -> str:
    """`text` with every ``links.NAME`` replaced by that constant's URL. A name this module does not define
    raises ``LookupError``, so a misspelt reference fails the rule-documentation tests instead of being
    printed."""

    def url(match: "re.Match[str]") -> str:
        value = globals().get(match.group(1))
        if not isinstance(value, str) or not value.startswith("https://"):
            raise LookupError(f"links.{match.group(1)} is not a documentation URL in gpubal.common.links")
        return value

    return _NAME.sub(url, text)
