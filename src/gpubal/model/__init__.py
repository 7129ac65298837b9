"""The Snapshot and its parts: the contract between collecting facts and judging them.

A fact is either `Known(value, source)` or `Unavailable(reason, source, detail)`. There is no None, no
"N/A" string and no NaN: a rule that needs a fact which is unavailable is *not evaluated*, and the report
says which fact was missing and why. Every fact names its source (an NVML call, a file, a command), so a
report can cite it.

This module holds only the dataclasses, and imports nothing else from gpubal: every room may import it.
The JSON codec lives beside it in gpubal.snapshot_file.
"""

from __future__ import annotations

import enum
from dataclasses import field
from typing import Any, Dict, Generic, List, Tuple, TypeVar, Union

from ._record import record, tuple_record

SCHEMA_VERSION = 1

T = TypeVar("T")


class Reason(str, enum.Enum):
    """Why a fact could not be read. A closed set: reports and rules may rely on it."""

    NOT_SUPPORTED = "not_supported"  # the device or driver does not offer it
    NO_PERMISSION = "no_permission"  # offered, but this user may not read it
    NOT_FOUND = "not_found"  # the library, file, device or program does not exist
    API_MISSING = "api_missing"  # the installed driver predates the call
    GPU_LOST = "gpu_lost"  # the GPU fell off the bus or stopped answering
    TIMEOUT = "timeout"  # the source did not answer in time
    ERROR = "error"  # anything else; the detail says what
    NOT_IN_INPUT = "not_in_input"  # built from pasted text that did not contain it
    INCONSISTENT = "inconsistent"  # asked again, the source gave different answers: too doubtful to judge
    NOT_ASKED = "not_asked"  # deliberately not read this time (a sampler reads a costly counter less often)


@record
class Known(Generic[T]):
    value: T
    source: str


@record
class Unavailable:
    reason: Reason
    source: str
    detail: str = ""

    def describe(self) -> str:
        text = f"{self.reason.value} ({self.source})"
        return f"{text}: {self.detail}" if self.detail else text


Fact = Union[Known[T], Unavailable]


class FactMissing(Exception):
    """Raised by `need()` inside a rule; the engine turns it into a "not evaluated" outcome."""

    def __init__(self, fact_name: str, unavailable: Unavailable):
        super().__init__(f"{fact_name}: {unavailable.describe()}")
        self.fact_name = fact_name
        self.unavailable = unavailable


class NotApplicable(Exception):
    """Raised by a rule whose subject is positively absent (no Ollama on the host, say); the engine
    reports "does not apply" with the reason, which is neither a pass nor an unknown."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def need(fact: Fact[T], fact_name: str) -> T:
    """The value of a fact, or FactMissing naming it; rules use this instead of checking by hand."""
    if isinstance(fact, Known):
        return fact.value
    raise FactMissing(fact_name, fact)


def value_or(fact: Fact[T], default: T) -> T:
    return fact.value if isinstance(fact, Known) else default


class _Facts:
    """Mixin for parts of the snapshot: `part.need("field")` names the fact after the part's subject."""

    def subject(self) -> str:  # pragma: no cover - every part overrides it
        raise NotImplementedError

    def need(self, field_name: str) -> Any:
        return need(getattr(self, field_name), f"{self.subject()}.{field_name}")


# --- host and driver ---------------------------------------------------------------------------------


@record
class NumaNode:
    node_id: int
    cpu_list: str  # the kernel's cpulist notation, e.g. "0-31,64-95"


@record
class Host(_Facts):
    hostname: Fact[str]
    kernel_release: Fact[str]
    os_release: Fact[str]
    cpu_model: Fact[str]
    cpu_count: Fact[int]
    numa_nodes: Fact[List[NumaNode]]
    virtualization: Fact[str]  # "none" or the hypervisor ("kvm", "microsoft", ...)
    container: Fact[str]  # "none" or the runtime ("docker", "podman", "kubernetes", "container")
    uptime_seconds: Fact[int]  # since boot; bounds how long the driver's counters have been counting

    def subject(self) -> str:
        return "host"


@record
class Driver(_Facts):
    nvml_status: Fact[str]  # Known("ok") when NVML started; Unavailable says why not
    version: Fact[str]  # user-space driver, from NVML
    nvml_version: Fact[str]
    cuda_driver_version: Fact[str]  # highest CUDA the driver supports, "13.0"
    kernel_module_version: Fact[str]  # from /proc/driver/nvidia/version
    kernel_module_flavor: Fact[str]  # "open" or "proprietary"
    uvm_module_loaded: Fact[bool]
    uvm_device_present: Fact[bool]
    persistenced_running: Fact[bool]
    device_count: Fact[int]

    def subject(self) -> str:
        return "driver"


# --- GPUs --------------------------------------------------------------------------------------------


@record
class MigInstance:
    uuid: str
    gpu_instance_id: int
    compute_instance_id: int
    memory_total_bytes: int


@record
class NvLink(_Facts):
    gpu_index: int
    link: int
    active: Fact[bool]
    version: Fact[int]
    remote_pci_bus_id: Fact[str]
    remote_device_type: Fact[str]  # "gpu", "nvswitch", "ibmnpu", "unknown"

    def subject(self) -> str:
        return f"gpu:{self.gpu_index}.nvlink:{self.link}"


@record
class Gpu(_Facts):
    index: int
    name: Fact[str]
    uuid: Fact[str]
    serial: Fact[str]
    pci_bus_id: Fact[str]  # NVML form, "00000000:00:06.0"
    architecture: Fact[str]  # "hopper", "ampere", ...
    compute_capability: Fact[str]  # "9.0"
    memory_total_bytes: Fact[int]
    memory_used_bytes: Fact[int]
    persistence_mode: Fact[bool]
    compute_mode: Fact[str]  # "default", "exclusive_process", "prohibited"
    ecc_enabled_current: Fact[bool]
    ecc_enabled_pending: Fact[bool]
    virtualization_mode: Fact[str]  # "none", "passthrough", "vgpu", "host_vgpu", "host_vsga"
    mig_enabled_current: Fact[bool]
    mig_enabled_pending: Fact[bool]
    mig_instances: Fact[List[MigInstance]]
    pcie_link_gen_current: Fact[int]
    pcie_link_gen_max: Fact[int]  # the most this GPU in this slot can reach (GPU and system)
    pcie_link_gen_device_max: Fact[int]  # the most the GPU itself supports
    pcie_link_width_current: Fact[int]
    pcie_link_width_max: Fact[int]
    pcie_replay_count: Fact[int]
    nvlinks: Fact[List[NvLink]]  # every link NVML reports on this GPU, active or not
    fabric_state: Fact[str]  # "not_supported", "not_started", "in_progress", "completed"
    fabric_status: Fact[str]  # NVML return name of the fabric probe, "success" when fine
    clock_event_reasons: Fact[List[str]]
    retired_pages_pending: Fact[bool]
    remapped_rows_pending: Fact[bool]
    remapped_rows_failed: Fact[bool]
    numa_node_nvml: Fact[int]  # from nvmlDeviceGetMemoryAffinity; -1 when NVML names no node
    numa_node_sysfs: Fact[int]  # /sys/bus/pci/devices/*/numa_node; -1 means firmware gave none
    numa_node: Fact[int]  # the two reconciled; the source says how
    cpu_affinity_nvml: Fact[str]
    cpu_affinity_sysfs: Fact[str]
    cpu_affinity: Fact[str]  # the two reconciled, kernel cpulist notation
    # Percent of the last sample period (1/6 s to 1 s by product) in which a kernel ran: whether the GPU is
    # busy now. It has a default so that a snapshot file without it (pasted text, an older gpubal) still loads.
    utilization_gpu_percent: Fact[int] = field(default=Unavailable(
        Reason.NOT_IN_INPUT, "snapshot", "not in this snapshot (pasted text, or made before gpubal read it)"))
    # Added later too. The video BIOS as NVML and nvidia-smi print it ("96.00.A5.00.1A"): hosts of one GPU
    # model on different VBIOS builds behave differently (NVLink training, power limits), so fleets compare it.
    vbios_version: Fact[str] = field(default=Unavailable(
        Reason.NOT_IN_INPUT, "snapshot", "not in this snapshot (made before gpubal read the VBIOS version)"))
    # Whether a display is initialised on the GPU (a display server holds it open): NVML's display active,
    # nvidia-smi's `Disp.A`. Defaulted so that a snapshot written before gpubal read it still loads.
    display_active: Fact[bool] = field(default=Unavailable(
        Reason.NOT_IN_INPUT, "snapshot", "not in this snapshot (made before gpubal read it, or not in the paste)"))

    def subject(self) -> str:
        return f"gpu:{self.index}"


@record
class GpuPair(_Facts):
    gpu_a: int
    gpu_b: int
    pcie_path: Fact[str]  # nvidia-smi topo words: "PIX", "PXB", "PHB", "NODE", "SYS" (or "SELF" inside a board)
    nvlink_count: Fact[int]  # links usable between the two, directly or through NVSwitch
    nvlink_route: Fact[str]  # "direct", "nvswitch" or "none"
    p2p_read: Fact[str]  # "ok", "chipset_not_supported", "gpu_not_supported", "topology_not_supported",
    p2p_write: Fact[str]  # "disabled_by_regkey", "not_supported", "unknown"
    p2p_nvlink: Fact[str]
    p2p_atomics: Fact[str]
    p2p_pcie: Fact[str]

    def subject(self) -> str:
        return f"gpu:{self.gpu_a}-gpu:{self.gpu_b}"


@record
class Snapshot:
    schema_version: int
    gpubal_version: str
    collected_at: str  # ISO 8601, UTC
    origin: str  # how it was made: "live", "nvml-profile:<file>", "pasted text"
    host: Host
    driver: Driver
    gpus: Fact[List[Gpu]]
    pairs: Fact[List[GpuPair]]
    stack: "Stack"
    ollama: "Ollama"
    # Added after the first snapshots were written: one that lacks it loads with this default.
    processes: Fact[List["GpuProcess"]] = field(default=Unavailable(
        Reason.NOT_IN_INPUT, "snapshot", "not in this snapshot (pasted text, or made before gpubal read processes)"))
    pci: "PciPlatform" = field(default_factory=lambda: PciPlatform.not_in_input())
    xid_events: Fact[List["XidEvent"]] = field(default=Unavailable(
        Reason.NOT_IN_INPUT, "snapshot", "not in this snapshot (pasted text, or made before gpubal read the kernel log)"))

    def gpu_list(self) -> List[Gpu]:
        """The GPUs, or FactMissing("gpus") when NVML could not list them."""
        return need(self.gpus, "gpus")


# --- findings and outcomes ---------------------------------------------------------------------------


class Severity(str, enum.Enum):
    ERROR = "error"  # will not work
    WARNING = "warning"  # degraded or at risk
    INFO = "info"  # advice

    @property
    def rank(self) -> int:
        return {"info": 1, "warning": 2, "error": 3}[self.value]


@record
class Fix:
    summary: str
    commands: Tuple[str, ...] = ()
    url: str = ""


@record
class Finding:
    rule_id: str
    severity: Severity
    subject: str
    message: str
    evidence: Dict[str, Any]
    fix: Fix


class Outcome(str, enum.Enum):
    PASSED = "passed"
    FINDING = "finding"
    NOT_EVALUATED = "not_evaluated"
    NOT_APPLICABLE = "not_applicable"
    CRASHED = "crashed"


# Field metadata: a field derived from others for the renderers' convenience, never written to JSON.
NOT_IN_JSON = "not_in_json"


@record
class RuleResult:
    """What one rule concluded about one subject."""

    rule_id: str
    subject: str
    outcome: Outcome
    findings: Tuple[Finding, ...] = ()
    missing_fact: str = ""  # when not evaluated: which fact
    missing_reason: str = ""  # and why it was unavailable
    # the rule's area ("pcie", "policy", ...), stamped by the engine so that renderers group by it without
    # looking the rule up; it follows from rule_id, so the JSON report leaves it out (NOT_IN_JSON)
    area: str = field(default="", metadata={NOT_IN_JSON: True})


@record
class TopologyClass:
    """The host's topology in words ("full NVSwitch mesh", "one NUMA node per GPU"), with the evidence."""

    classes: Tuple[str, ...]
    evidence: Tuple[str, ...]

    def text(self) -> str:
        return " · ".join(self.classes)


@record
class Report:
    snapshot: Snapshot
    results: Tuple[RuleResult, ...]
    matrix_version: str
    policy: str = ""  # the site policy applied (file and matching host sections), "" when none
    topology_class: Union[TopologyClass, None] = None  # from doctor.topology_class; None: no GPUs known

    def findings(self) -> List[Finding]:
        found = [finding for result in self.results for finding in result.findings]
        return sorted(found, key=lambda f: (-f.severity.rank, f.rule_id, f.subject))

    def worst_severity(self) -> Union[Severity, None]:
        findings = self.findings()
        return findings[0].severity if findings else None


# --- the software stack (CUDA, cuDNN, NCCL, frameworks, Fabric Manager) -------------------------------


@record
class CudaToolkit:
    path: str  # /usr/local/cuda-13.0
    version: str  # "13.0.2", from version.json (or version.txt on old toolkits)
    has_nvcc: bool


@record
class LibraryCopy:
    """One copy of a GPU library that some process on the host could load."""

    name: str  # "cudart", "cudnn", "nccl"
    version: str  # "13.0.96", "9.14.0", "2.28.3"
    path: str
    origin: str  # "system", "LD_LIBRARY_PATH", "toolkit", "wheel", "ollama"
    consumer: str  # who loads this copy: "the system loader", "torch 2.11.0+cu130", "ollama"
    version_source: str  # how the version was read: file name, header, wheel metadata


@record
class PythonPackage:
    name: str  # normalized distribution name, "torch", "nvidia-cudnn-cu13"
    version: str
    location: str  # the site-packages directory
    cuda_version: str  # the CUDA it was built for ("13.0" from torch's +cu130); "" when it does not say;
    # "none" when it says it was built without CUDA (torch's "+cpu", collect_env's "CUDA used to build: None")
    requires: Tuple[str, ...]  # its nvidia-* pins, as written in its metadata


@record
class Stack(_Facts):
    cuda_toolkits: Fact[List[CudaToolkit]]
    libraries: Fact[List[LibraryCopy]]
    python_packages: Fact[List[PythonPackage]]
    environment: Fact[Dict[str, str]]  # CUDA_*, NCCL_*, OLLAMA_*, LD_LIBRARY_PATH ...; secret-looking names dropped
    dev_shm_bytes: Fact[int]
    fabric_manager_installed: Fact[bool]
    fabric_manager_version: Fact[str]
    fabric_manager_running: Fact[bool]

    def subject(self) -> str:
        return "stack"


# --- Ollama ------------------------------------------------------------------------------------------


@record
class OllamaModel:
    """A model the server has loaded (GET /api/ps)."""

    name: str
    size_bytes: int  # memory the loaded model takes, weights and context
    size_vram_bytes: int  # of which on GPUs; the rest is on the CPU


@record
class OllamaLogGpu:
    """A GPU as Ollama's log reports it at start ("inference compute")."""

    gpu_id: str  # "0", a GPU UUID, or "GPU-..." as Ollama printed it
    library: str  # "cuda", "rocm", ...
    name: str
    compute_capability: str  # "8.9", or "" when the line does not say
    total_bytes: int
    available_bytes: int  # UNKNOWN_BYTES when the log does not say how much was free


UNKNOWN_BYTES = -1  # an OllamaLogGpu's available memory that the log does not show


@record
class OllamaLogOffload:
    """How one model load was split, from the log's offload lines (older and newer formats)."""

    model: str  # the model file or name if the log says, else ""
    layers_total: int
    layers_on_gpu: int
    layers_split: Tuple[int, ...]  # layers per GPU, in the order of the GPUs used
    tensor_split: str  # the --tensor-split given to the runner, "" if none
    memory_required_bytes: int  # memory.required.full when logged, else 0 only if the line says so


@record
class OllamaLogEvent:
    """A failure or fallback that Ollama's log records, kept as printed so a report can quote it."""

    kind: str  # "cuda_init_failed", "no_compatible_gpus", "cpu_only", "out_of_memory"
    code: str  # the error number the line gives ("802" for cuInit), "" when it gives none
    line: str  # the log line as printed, without a journald prefix; at most 500 characters


@record
class Ollama(_Facts):
    binary_path: Fact[str]
    binary_version: Fact[str]  # `ollama -v`
    server_url: Fact[str]  # OLLAMA_HOST as gpubal resolved it, default http://127.0.0.1:11434
    server_version: Fact[str]  # GET /api/version
    running_models: Fact[List[OllamaModel]]  # GET /api/ps
    service_environment: Fact[Dict[str, str]]  # Environment= of the systemd unit and its drop-ins
    service_exec_start: Fact[str]  # ExecStart= of the unit: flags given to `ollama serve`
    process_environment: Fact[Dict[str, str]]  # /proc/<pid>/environ of the running server, steering names
    log_source: Fact[str]  # where the log lines came from (journalctl -u ollama, a file)
    log_server_config: Fact[Dict[str, str]]  # the `server config` line: the environment Ollama saw
    log_gpus: Fact[List[OllamaLogGpu]]
    log_offloads: Fact[List[OllamaLogOffload]]
    log_events: Fact[List[OllamaLogEvent]]  # discovery failures, CPU fallback, out-of-memory, as logged
    log_cuda_libraries: Fact[List[str]]  # libcuda copies Ollama's GPU discovery found (debug log), by path
    # Environment= of each unit file and drop-in, in the order systemd applies them (the last wins);
    # it has a default so that a snapshot file without it (pasted text, an older gpubal) still loads
    service_environment_by_file: Fact[Dict[str, Dict[str, str]]] = field(default=Unavailable(
        Reason.NOT_IN_INPUT, "snapshot", "not in this snapshot (pasted text, or made before gpubal kept it)"))

    def subject(self) -> str:
        return "ollama"


# --- processes that use GPUs, and model servers -------------------------------------------------------


@record
class GpuProcess(_Facts):
    """A process NVML lists on a GPU, or a model server (Ollama, vLLM, SGLang, llama.cpp) found by its name
    in /proc even while it holds no GPU. Facts come from /proc/PID/*; another user's process may hide some
    (environ and maps are readable only by its owner and root)."""

    pid: int
    program: Fact[str]  # "ollama", "vllm", "sglang", "llama.cpp", else the kernel's name for it (/proc/PID/comm)
    found_by: str  # "nvml" (it holds a GPU), "name" (a server by its name), or "nvml, name"
    command_line: Fact[str]  # arguments joined by spaces; values of secret-looking options dropped
    user: Fact[str]  # the real user, by name from /etc/passwd (the number when passwd does not list it)
    cgroup: Fact[str]  # its cgroup path: names the systemd unit or the container
    container: Fact[str]  # "none", "docker", "podman", "kubernetes", "containerd", "lxc"
    gpu_environment: Fact[Dict[str, str]]  # CUDA_*, NVIDIA_*, NCCL_*, OLLAMA_*, GPU_DEVICE_ORDINAL at its start
    cpus_allowed: Fact[str]  # Cpus_allowed_list, kernel cpulist notation
    memory_nodes_allowed: Fact[str]  # Mems_allowed_list: the NUMA nodes it may allocate memory on
    gpus_held: Fact[List[int]]  # NVML indexes of the GPUs that list it among their compute processes
    gpu_numa_nodes: Fact[List[int]]  # the NUMA nodes of those GPUs
    gpu_libraries: Fact[List[str]]  # libcuda, libcudart, libnccl files it has mapped (/proc/PID/maps)
    # vLLM and SGLang servers: num_attention_heads, num_key_value_heads of the model's config.json
    model_config: Fact[Dict[str, int]] = field(default=Unavailable(
        Reason.NOT_FOUND, "command line", "not a vLLM or SGLang server"))
    # the size of the /dev/shm the process sees (its own mount namespace: a container's own /dev/shm)
    dev_shm_bytes: Fact[int] = field(default=Unavailable(
        Reason.NOT_IN_INPUT, "snapshot", "not in this snapshot (made before gpubal read each process's /dev/shm)"))

    def subject(self) -> str:
        return f"process:{self.pid}"


# --- the kernel's word on the GPUs ----------------------------------------------------------------------


@record
class XidEvent:
    """The Xid reports of one code for one GPU since boot, as NVIDIA's kernel driver logged them
    ("NVRM: Xid (PCI:0000:2b:00): 79, pid=..., name=..., <text>"). Lines of the same code for the same GPU
    are counted together: a single fault can log one line per SM."""

    pci_bus_id: str  # as the line names the GPU, domain:bus:device ("0000:2b:00"), lower case
    xid: int
    count: int  # lines with this code for this GPU in the log read
    first_logged_at: str  # the log's own time stamp of the first and the last such line
    last_logged_at: str  # (journalctl's ISO time, or seconds since boot from /dev/kmsg)
    first_line: str  # the first such line from "NVRM: Xid" on, as logged; at most 500 characters
    processes: Tuple[str, ...]  # "python3 (pid 1818990)" as the lines name them, distinct, at most 8


# --- the PCIe platform between GPUs: what decides whether peer-to-peer traffic flows ---------------------


@record
class PciPlatform(_Facts):
    kernel_command_line: Fact[str]  # /proc/cmdline: iommu=pt, intel_iommu=on, amd_iommu=...
    iommu_group_types: Fact[Dict[str, str]]  # GPU bus id -> its IOMMU group's type ("identity", "DMA", "DMA-FQ",
    # "none" when the GPU is in no group: no IOMMU translates its traffic)
    gpu_pci_paths: Fact[Dict[str, List[str]]]  # GPU index -> the PCI bridges from the root down to the GPU
    acs_controls: Fact[Dict[str, List[str]]]  # bridge -> the ACS controls enabled on it (lspci -vvv ACSCtl "+")

    def subject(self) -> str:
        return "pci"

    @staticmethod
    def not_in_input() -> "PciPlatform":
        missing = Unavailable(Reason.NOT_IN_INPUT, "snapshot",
                              "not in this snapshot (pasted text, or made before gpubal read the PCI platform)")
        return PciPlatform(missing, missing, missing, missing)
