"""A fake `pynvml` (nvidia-ml-py) that answers from a recorded NVML profile and injects one fault.

The real adapter (`PynvmlAdapter`) runs on top of it unchanged, so its choke point, its versioned-call
probing and its conversions of NVML's structures are what is tested, not a stand-in. A fault is one
pynvml function, on one GPU or on all, answering with an NVML error code, a value of the wrong type, a
Python exception, or never (a hang, released when the fault is over).

`run_combo` then drives everything a user can reach from those answers (doctor facts, every rule and
report format, the exit code, `gpubal topo`, `gpubal balance`) and names what went wrong: a crash, a
hang, or a fact, rule outcome or topology word that claims more than the faulted NVML said.

Used by tests/doctor/probes/test_nvml_fault_injection.py (a sample) and bench/fault_sweep.py (every combination).
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from gpubal.model import Known, Unavailable
from gpubal.doctor.probes.nvml import NVML_RETURN_NAMES

FIXTURES = Path(__file__).parent / "fixtures"

NVML_ERROR_CODES = tuple(sorted(code for code in NVML_RETURN_NAMES if code != 0))
# Values of the wrong type. "negative" is an integer NVML could in principle send: a fault of that kind is
# read, not unknown, so it is only checked for crashes. "huge" is wider than any NVML number.
WRONG_VALUES: Dict[str, Any] = {
    "none": None, "text": "16", "float": 1.5, "bool": True, "empty_tuple": (), "object": object(),
    "bytes": b"\xff\xfe", "negative": -1, "huge": 2 ** 70,
}
READ_VALUES = ("wrong:negative",)
# ... and text is what these answer anyway
TEXT_FUNCTIONS = ("nvmlDeviceGetName", "nvmlDeviceGetUUID", "nvmlDeviceGetSerial", "nvmlDeviceGetVbiosVersion",
                  "nvmlSystemGetDriverVersion", "nvmlSystemGetNVMLVersion")
READ_TEXT = ("wrong:text", "wrong:bytes")
# Error codes that are answers of these functions: NOT_SUPPORTED or NOT_FOUND for a link says the GPU has
# no such link; NOT_FOUND for a MIG slot says the slot is empty.
ANSWER_CODES = {"nvmlDeviceGetNvLinkState": ("error:3", "error:6"),
                # an empty process list is what a GPU that runs nothing answers
                "nvmlDeviceGetComputeRunningProcesses_v3": ("wrong:empty_tuple",),
                "nvmlDeviceGetMigDeviceHandleByIndex": ("error:6",),
                "nvlink_state": ("unavailable:not_supported", "unavailable:not_found")}
EXCEPTIONS = {"RuntimeError": RuntimeError("injected"), "OSError": OSError(5, "injected I/O error"),
              "ArgumentError": ctypes.ArgumentError("injected"), "KeyError": KeyError("injected")}
FAULT_KINDS = tuple([f"error:{code}" for code in NVML_ERROR_CODES] + [f"wrong:{name}" for name in WRONG_VALUES]
                    + [f"raise:{name}" for name in EXCEPTIONS] + ["hang"])

_CODE_BY_REASON = {"not_supported": 3, "no_permission": 4, "not_found": 6, "api_missing": 13, "gpu_lost": 15,
                   "timeout": 10, "error": 999, "not_in_input": 6}


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return f"NVML error {self.value} ({NVML_RETURN_NAMES.get(self.value, 'unknown')})"


@dataclasses.dataclass(frozen=True)
class Fault:
    function: str  # a pynvml function name
    gpu: Optional[int]  # None: every GPU, and the calls that name none
    kind: str  # one of FAULT_KINDS

    def describe(self) -> str:
        return f"{self.function}@{'all' if self.gpu is None else f'gpu{self.gpu}'}={self.kind}"


class _Struct:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


@dataclasses.dataclass(frozen=True)
class _Handle:
    index: int


@dataclasses.dataclass(frozen=True)
class _MigHandle:
    parent: int
    slot: int


class c_nvmlGpuFabricInfoV_t:  # noqa: N801 - pynvml's name
    def __init__(self) -> None:
        self.state = self.status = self.cliqueId = 0


class FakePynvml:
    """Module-shaped: `sys.modules["pynvml"] = FakePynvml(profile, fault)` (see `installed`)."""

    NVMLError = NVMLError
    c_nvmlGpuFabricInfoV_t = c_nvmlGpuFabricInfoV_t

    def __init__(self, profile: Dict[str, Any], fault: "Optional[Fault] | Tuple[Fault, ...]" = None) -> None:
        self.profile = profile
        self.faults: Tuple[Fault, ...] = (fault,) if isinstance(fault, Fault) else tuple(fault or ())
        self.release = threading.Event()  # set: hung calls return
        self.calls: Dict[str, int] = {}
        samples = profile.get("samples") or []
        self.sample = samples[0] if samples else []

    @staticmethod
    def byref(value: Any) -> Any:
        return value

    # --- plumbing ---------------------------------------------------------------------------------------

    def _answer(self, function: str, gpu: Optional[int], real: Any) -> Any:
        """`real()` is the recorded answer; a fault on this function and GPU replaces it."""
        self.calls[function] = self.calls.get(function, 0) + 1
        fault = next((fault for fault in self.faults
                      if fault.function == function and (fault.gpu is None or fault.gpu == gpu)), None)
        if fault is not None:
            kind, _, name = fault.kind.partition(":")
            if kind == "error":
                raise NVMLError(int(name))
            if kind == "wrong":
                return WRONG_VALUES[name]
            if kind == "raise":
                raise EXCEPTIONS[name]
            self.release.wait(120)  # a hang, until the combination is over
            raise NVMLError(10)
        return real()

    def _decoded(self, value: Any) -> Any:
        if isinstance(value, dict) and "error" in value:
            raise NVMLError(_CODE_BY_REASON.get(value["error"], 999))
        return value

    def _system(self, query: str) -> Any:
        answers = self.profile.get("system", {})
        if query not in answers:
            raise NVMLError(6)
        return self._decoded(answers[query])

    def _device(self, index: int, key: str) -> Any:
        devices = self.profile.get("devices", [])
        if index >= len(devices):
            raise NVMLError(28)
        answers = devices[index]
        if "handle" in answers:
            self._decoded(answers["handle"])
        if self.sample and index < len(self.sample) and key in self.sample[index]:
            return self._decoded(self.sample[index][key])
        if key not in answers:
            raise NVMLError(6)
        return self._decoded(answers[key])

    def _pair(self, a: int, b: int, key: str) -> Any:
        answers = self.profile.get("pairs", {}).get(f"{a},{b}", {})
        if key not in answers:
            raise NVMLError(6)
        return self._decoded(answers[key])

    # --- library -----------------------------------------------------------------------------------------

    def nvmlInit(self) -> None:  # noqa: N802 - pynvml's names
        def real() -> None:
            init = self.profile.get("init", "ok")
            if init != "ok":
                self._decoded(init)
        return self._answer("nvmlInit", None, real)

    def nvmlShutdown(self) -> None:  # noqa: N802
        return self._answer("nvmlShutdown", None, lambda: None)

    def nvmlSystemGetDriverVersion(self) -> Any:  # noqa: N802
        return self._answer("nvmlSystemGetDriverVersion", None, lambda: self._system("driver_version"))

    def nvmlSystemGetNVMLVersion(self) -> Any:  # noqa: N802
        return self._answer("nvmlSystemGetNVMLVersion", None, lambda: self._system("nvml_version"))

    def nvmlSystemGetCudaDriverVersion_v2(self) -> Any:  # noqa: N802
        return self._answer("nvmlSystemGetCudaDriverVersion_v2", None, lambda: self._system("cuda_driver_version"))

    def nvmlDeviceGetCount(self) -> Any:  # noqa: N802
        return self._answer("nvmlDeviceGetCount", None, lambda: self._system("device_count"))

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:  # noqa: N802
        def real() -> Any:
            devices = self.profile.get("devices", [])
            if index >= len(devices):
                raise NVMLError(28)
            if "handle" in devices[index]:
                self._decoded(devices[index]["handle"])
            return _Handle(index)
        return self._answer("nvmlDeviceGetHandleByIndex", index, real)


def _gpu_of(handle: Any) -> Optional[int]:
    if isinstance(handle, _Handle):
        return handle.index
    if isinstance(handle, _MigHandle):
        return handle.parent
    return None


def _bus(value: Any) -> Any:
    return _Struct(busId=value.encode()) if isinstance(value, str) else value


def _plain_device_function(function: str, query: str, native=lambda value: value, with_arg: bool = False):
    def call(self: FakePynvml, handle: Any, *args: Any) -> Any:
        key = f"{query}:{args[0]}" if with_arg and args else query
        return self._answer(function, _gpu_of(handle), lambda: native(self._device(handle.index, key)))
    call.__name__ = function
    return call


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


_DEVICE_FUNCTIONS = {
    "nvmlDeviceGetName": ("name", lambda v: v, False),
    "nvmlDeviceGetSerial": ("serial", lambda v: v, False),
    "nvmlDeviceGetVbiosVersion": ("vbios_version", lambda v: v, False),
    "nvmlDeviceGetPciInfo_v3": ("pci_info", lambda v: _Struct(busId=v["bus_id"].encode()), False),
    "nvmlDeviceGetArchitecture": ("architecture", lambda v: v, False),
    "nvmlDeviceGetCudaComputeCapability": ("cuda_compute_capability", _tuple, False),
    "nvmlDeviceGetPersistenceMode": ("persistence_mode", lambda v: v, False),
    "nvmlDeviceGetDisplayActive": ("display_active", lambda v: v, False),
    "nvmlDeviceGetComputeMode": ("compute_mode", lambda v: v, False),
    "nvmlDeviceGetEccMode": ("ecc_mode", _tuple, False),
    "nvmlDeviceGetVirtualizationMode": ("virtualization_mode", lambda v: v, False),
    "nvmlDeviceGetMigMode": ("mig_mode", _tuple, False),
    "nvmlDeviceGetCurrPcieLinkGeneration": ("pcie_link_gen_current", lambda v: v, False),
    "nvmlDeviceGetMaxPcieLinkGeneration": ("pcie_link_gen_max", lambda v: v, False),
    "nvmlDeviceGetGpuMaxPcieLinkGeneration": ("pcie_link_gen_device_max", lambda v: v, False),
    "nvmlDeviceGetCurrPcieLinkWidth": ("pcie_link_width_current", lambda v: v, False),
    "nvmlDeviceGetMaxPcieLinkWidth": ("pcie_link_width_max", lambda v: v, False),
    "nvmlDeviceGetPcieReplayCounter": ("pcie_replay_counter", lambda v: v, False),
    "nvmlDeviceGetNvLinkState": ("nvlink_state", lambda v: v, True),
    "nvmlDeviceGetNvLinkVersion": ("nvlink_version", lambda v: v, True),
    "nvmlDeviceGetNvLinkRemotePciInfo_v2": ("nvlink_remote_pci", _bus, True),
    "nvmlDeviceGetNvLinkRemoteDeviceType": ("nvlink_remote_device_type", lambda v: v, True),
    "nvmlDeviceGetCurrentClocksEventReasons": ("clock_event_reasons", lambda v: v, False),
    "nvmlDeviceGetRetiredPagesPendingStatus": ("retired_pages_pending", lambda v: v, False),
    "nvmlDeviceGetRemappedRows": ("remapped_rows", _tuple, False),
    "nvmlDeviceGetPowerUsage": ("power_usage", lambda v: v, False),
    "nvmlDeviceGetClockInfo": ("clock_info", lambda v: v, True),
    "nvmlDeviceGetPcieThroughput": ("pcie_throughput", lambda v: v, True),
    "nvmlDeviceGetUtilizationRates": ("utilization_rates", lambda v: _Struct(gpu=v["gpu"], memory=v["memory"]), False),
}
for _function, (_query, _native, _with_arg) in _DEVICE_FUNCTIONS.items():
    setattr(FakePynvml, _function, _plain_device_function(_function, _query, _native, _with_arg))


def _uuid(self: FakePynvml, handle: Any) -> Any:
    def real() -> Any:
        if isinstance(handle, _MigHandle):
            return self._mig_devices(handle.parent)[handle.slot]["uuid"]
        return self._device(handle.index, "uuid")
    return self._answer("nvmlDeviceGetUUID", _gpu_of(handle), real)


def _memory_info(self: FakePynvml, handle: Any) -> Any:
    def real() -> Any:
        if isinstance(handle, _MigHandle):
            total = self._mig_devices(handle.parent)[handle.slot]["memory_total_bytes"]
            return _Struct(total=total, used=0)
        info = self._device(handle.index, "memory_info")
        return _Struct(total=info["total"], used=info["used"])
    return self._answer("nvmlDeviceGetMemoryInfo", _gpu_of(handle), real)


def _mig_devices(self: FakePynvml, index: int) -> List[Dict[str, Any]]:
    return self._device(index, "mig_devices")


def _max_mig(self: FakePynvml, handle: Any) -> Any:
    # one slot more than the instances: an empty slot answers NOT_FOUND, as on a real GPU
    return self._answer("nvmlDeviceGetMaxMigDeviceCount", _gpu_of(handle),
                        lambda: len(self._mig_devices(handle.index)) + 1)


def _mig_handle(self: FakePynvml, handle: Any, slot: int) -> Any:
    def real() -> Any:
        if slot >= len(self._mig_devices(handle.index)):
            raise NVMLError(6)
        return _MigHandle(handle.index, slot)
    return self._answer("nvmlDeviceGetMigDeviceHandleByIndex", _gpu_of(handle), real)


def _mig_id(function: str, field: str):
    def call(self: FakePynvml, handle: Any) -> Any:
        return self._answer(function, _gpu_of(handle),
                            lambda: self._mig_devices(handle.parent)[handle.slot][field])
    return call


def _fabric(self: FakePynvml, handle: Any, struct: Any) -> Any:
    def real() -> Any:
        info = self._device(handle.index, "fabric_info")
        struct.state, struct.status, struct.cliqueId = info["state"], info["status"], info["clique_id"]
        return 0
    answer = self._answer("nvmlDeviceGetGpuFabricInfoV", _gpu_of(handle), real)
    if answer != 0:  # a wrong answer of a call that fills a structure is a structure of wrong values
        struct.state = struct.status = struct.cliqueId = answer
    return 0


def _affinity(function: str, query: str):
    def call(self: FakePynvml, handle: Any, words: int, *_scope: Any) -> Any:
        return self._answer(function, _gpu_of(handle), lambda: list(self._device(handle.index, query)))
    return call


def _ancestor(self: FakePynvml, a: Any, b: Any) -> Any:
    return self._answer("nvmlDeviceGetTopologyCommonAncestor", _gpu_of(a),
                        lambda: self._pair(a.index, b.index, "topology_common_ancestor"))


def _p2p(self: FakePynvml, a: Any, b: Any, index: int) -> Any:
    return self._answer("nvmlDeviceGetP2PStatus", _gpu_of(a), lambda: self._pair(a.index, b.index, f"p2p_status:{index}"))


_FI_NAMES = {138: "nvlink_tx_kib", 139: "nvlink_rx_kib", 197: "pcie_tx_bytes", 198: "pcie_rx_bytes"}


def _field_values(self: FakePynvml, handle: Any, fields: List[Tuple[int, int]]) -> Any:
    def real() -> Any:
        counters = self._device(handle.index, "throughput_counters")
        values = []
        for field, scope in fields:
            name = _FI_NAMES.get(field)
            present = name in counters and (scope == 0 or not name.startswith("nvlink"))
            number = counters.get(name, 0) if scope == 0 else 0
            values.append(_Struct(fieldId=field, scopeId=scope, nvmlReturn=0 if present else 3, valueType=3,
                                  value=_Struct(ullVal=number)))
        return values
    return self._answer("nvmlDeviceGetFieldValues", _gpu_of(handle), real)


def _processes(self: FakePynvml, handle: Any) -> Any:
    def real() -> Any:
        return [_Struct(pid=entry["pid"], usedGpuMemory=entry.get("used_bytes"))
                for entry in self._device(handle.index, "compute_processes")]
    return self._answer("nvmlDeviceGetComputeRunningProcesses_v3", _gpu_of(handle), real)


FakePynvml.nvmlDeviceGetUUID = _uuid
FakePynvml.nvmlDeviceGetMemoryInfo = _memory_info
FakePynvml._mig_devices = _mig_devices
FakePynvml.nvmlDeviceGetMaxMigDeviceCount = _max_mig
FakePynvml.nvmlDeviceGetMigDeviceHandleByIndex = _mig_handle
FakePynvml.nvmlDeviceGetGpuInstanceId = _mig_id("nvmlDeviceGetGpuInstanceId", "gpu_instance_id")
FakePynvml.nvmlDeviceGetComputeInstanceId = _mig_id("nvmlDeviceGetComputeInstanceId", "compute_instance_id")
FakePynvml.nvmlDeviceGetGpuFabricInfoV = _fabric
FakePynvml.nvmlDeviceGetMemoryAffinity = _affinity("nvmlDeviceGetMemoryAffinity", "memory_affinity_nodes")
FakePynvml.nvmlDeviceGetCpuAffinity = _affinity("nvmlDeviceGetCpuAffinity", "cpu_affinity")
FakePynvml.nvmlDeviceGetTopologyCommonAncestor = _ancestor
FakePynvml.nvmlDeviceGetP2PStatus = _p2p
FakePynvml.nvmlDeviceGetFieldValues = _field_values
FakePynvml.nvmlDeviceGetComputeRunningProcesses_v3 = _processes

FUNCTIONS = tuple(sorted(name for name in dir(FakePynvml) if name.startswith("nvml")))


@contextmanager
def installed(fake: FakePynvml) -> Iterator[FakePynvml]:
    """The fake as `import pynvml` sees it, for as long as the block runs; hung calls end with it."""
    before = sys.modules.get("pynvml")
    sys.modules["pynvml"] = fake  # type: ignore[assignment]
    try:
        yield fake
    finally:
        fake.release.set()
        if before is None:
            sys.modules.pop("pynvml", None)
        else:
            sys.modules["pynvml"] = before


def load_profile(name: str) -> Dict[str, Any]:
    for folder in ("nvml", "balance"):
        path = FIXTURES / folder / f"{name}.json"
        if path.exists():
            return json.loads(path.read_text())
    raise KeyError(name)


def root_of(name: str) -> str:
    """The recorded file tree that goes with a profile (a100-mig-instances: roots/a100-mig)."""
    roots = sorted((path.name for path in (FIXTURES / "roots").iterdir()), key=len, reverse=True)
    return str(FIXTURES / "roots" / next((root for root in roots if name.startswith(root)), "h200x2"))


# --- running one combination ---------------------------------------------------------------------------

HANG_DEADLINE_S = 0.3  # the collection's NVML deadline while a fault hangs a call
HANG_LIMIT_S = 10.0  # a combination that takes longer is counted as a hang


@dataclasses.dataclass
class ComboResult:
    profile: str
    fault: Any  # a Fault or a QueryUnavailable
    seconds: float = 0.0
    crash: str = ""  # the exception that escaped, if one did
    exit_code: int = 0
    violations: List[str] = dataclasses.field(default_factory=list)  # claims the faulted NVML did not make

    @property
    def hung(self) -> bool:
        return self.seconds > HANG_LIMIT_S


def _key(item: Any, position: int) -> str:
    if not dataclasses.is_dataclass(item):
        return str(position)
    for names in (("gpu_a", "gpu_b"), ("gpu_index", "link"), ("index",), ("uuid",), ("pid",)):
        if all(hasattr(item, name) for name in names):
            return "/".join(str(getattr(item, name)) for name in names)
    return str(position)


def known_leaves(value: Any, path: str = "", inside_known: bool = False) -> Iterator[Tuple[str, Any]]:
    """Every definite value the object claims, by a path that does not depend on list order."""
    if isinstance(value, Known):
        yield from known_leaves(value.value, path, True)
    elif isinstance(value, Unavailable):
        return
    elif dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            yield from known_leaves(getattr(value, field.name), f"{path}.{field.name}", inside_known)
    elif isinstance(value, (list, tuple)):
        if inside_known:
            yield f"{path}#len", len(value)
        for position, item in enumerate(value):
            yield from known_leaves(item, f"{path}[{_key(item, position)}]", inside_known)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from known_leaves(item, f"{path}{{{key}}}", inside_known)
    elif inside_known:
        yield path, value


def _claims_beyond(baseline: Any, faulted: Any, what: str) -> List[str]:
    before = dict(known_leaves(baseline))
    found = []
    for path, value in known_leaves(faulted):
        if path not in before:
            found.append(f"{what}{path} = {value!r:.60} (unknown without the fault)")
        elif before[path] != value:
            found.append(f"{what}{path} = {value!r:.60} (was {before[path]!r:.60})")
    return found


@dataclasses.dataclass(frozen=True)
class QueryUnavailable:
    """One adapter query (as collectors ask it) answering Unavailable(reason), on one GPU or all."""

    query: str  # "init", a system, device or pair query
    gpu: Optional[int]
    reason: Any  # a gpubal Reason

    @property
    def function(self) -> str:
        return self.query

    @property
    def kind(self) -> str:
        return f"unavailable:{self.reason.value}"

    def describe(self) -> str:
        return f"{self.query}@{'all' if self.gpu is None else f'gpu{self.gpu}'}={self.kind}"


def _unavailable_adapter(profile: Dict[str, Any], name: str, fault: QueryUnavailable):
    from gpubal.doctor.probes.nvml import ReplayAdapter

    def hit(*gpus: int) -> bool:
        return fault.gpu is None or fault.gpu in gpus

    injected = Unavailable(fault.reason, fault.query, "injected")

    class Adapter(ReplayAdapter):
        def start(self):
            return injected if fault.query == "init" else super().start()

        def system(self, query):
            return injected if query == fault.query and fault.gpu is None else super().system(query)

        def device(self, index, query, arg=None):
            return injected if query == fault.query and hit(index) else super().device(index, query, arg)

        def advance_sample(self):
            return True  # the first sample every time, as the fake library answers

        def pair(self, index_a, index_b, query, arg=None):
            if query == fault.query and hit(index_a, index_b):
                return injected
            return super().pair(index_a, index_b, query, arg)

    return Adapter(profile, name)


@contextmanager
def _nvml(profile_name: str, profile: Dict[str, Any], fault: Any) -> Iterator[Any]:
    """The adapter a combination runs on: the real one over the fake library, or a replay whose one query
    answers Unavailable."""
    from gpubal.doctor.probes.nvml import PynvmlAdapter

    if isinstance(fault, QueryUnavailable):
        yield _unavailable_adapter(profile, profile_name, fault)
        return
    with installed(FakePynvml(profile, fault)):
        yield PynvmlAdapter()


def unavailable_combos(profile_name: str) -> List[QueryUnavailable]:
    """Every query the adapter supports, answering each reason, on all GPUs and on each GPU alone."""
    from gpubal.model import Reason
    from gpubal.doctor.probes.nvml import _DEVICE_QUERIES

    count = len(load_profile(profile_name).get("devices", []))
    queries = ["init", "driver_version", "nvml_version", "cuda_driver_version", "device_count",
               "topology_common_ancestor", "p2p_status"] + list(_DEVICE_QUERIES)
    found = []
    for query in queries:
        gpus = [None] if query in ("init", "driver_version", "nvml_version", "cuda_driver_version",
                                   "device_count") else [None] + list(range(count))
        for gpu in gpus:
            for reason in Reason:
                found.append(QueryUnavailable(query, gpu, reason))
    return found


def _doctor(profile_name: str, profile: Dict[str, Any], fault: Optional[Fault], deadline_s: float):
    from gpubal.doctor.collect import collect_snapshot
    from gpubal.doctor.engine import evaluate
    from gpubal.doctor.probes.files import HostFiles
    from gpubal.outputs import exit_code
    from gpubal.rules import all_rules

    with _nvml(profile_name, profile, fault) as adapter:
        snapshot = collect_snapshot(adapter, HostFiles(root_of(profile_name)), origin="fault",
                                    nvml_deadline_s=deadline_s)
    report = evaluate(snapshot, all_rules())
    return snapshot, report, exit_code(report, "error")


def _render(report, advice, balance, every_format: bool) -> None:
    """JSON always; the template and terminal renderers (tens of milliseconds each) when asked."""
    from gpubal.reports import balance as balance_renderers
    from gpubal.reports.json_report import render_json
    from gpubal.reports.topo import render_topo_json

    render_json(report)
    render_topo_json(advice)
    balance_renderers.render_balance_json(balance)
    balance_renderers.render_balance_prometheus(balance)
    if every_format:
        _render_everything(report, advice, balance)


def _render_everything(report, advice, balance) -> None:
    import io

    from rich.console import Console

    from gpubal.reports import balance as balance_renderers
    from gpubal.reports.html import render_html
    from gpubal.reports.json_report import render_json
    from gpubal.reports.junit import render_junit
    from gpubal.reports.markdown import render_markdown
    from gpubal.reports.terminal import render_terminal
    from gpubal.reports.topo import render_topo_json, render_topo_terminal

    for render in (render_json, render_markdown, render_html, render_junit):
        render(report)
    render_terminal(report, Console(file=io.StringIO(), width=100, no_color=True))
    render_topo_json(advice)
    render_topo_terminal(advice, Console(file=io.StringIO(), width=100, no_color=True))
    balance_renderers.render_balance_json(balance)
    balance_renderers.render_balance_markdown(balance)
    balance_renderers.render_balance_prometheus(balance)
    balance_renderers.render_balance_terminal(balance, Console(file=io.StringIO(), width=100, no_color=True))


def _balance(profile_name: str, profile: Dict[str, Any], fault: Optional[Fault]):
    from gpubal.balance.analysis import analyze
    from gpubal.balance.sampler import Sampler, VirtualClock
    from gpubal.doctor.collect import _nothing_answers
    from gpubal.model import Reason
    from gpubal.doctor.probes.deadline import DeadlineAdapter
    from gpubal.doctor.probes.files import HostFiles

    clock = VirtualClock()
    with _nvml(profile_name, profile, fault) as adapter:
        sampler = Sampler(DeadlineAdapter(adapter, HANG_DEADLINE_S), HostFiles(root_of(profile_name)),
                          _nothing_answers, Unavailable(Reason.NOT_FOUND, "fault", "no server"),
                          clock=clock, sleep=clock.sleep, cpu_clock=lambda: 0.0)
        recording = sampler.run(1.0, 0.2, "fault")
    return recording, analyze(recording)


_BASELINES: Dict[str, Any] = {}


def _baseline(profile_name: str, profile: Dict[str, Any], replay: bool = False):
    """What the same adapter answers without a fault: the fake library for library faults, the replay for
    adapter-level ones (the two agree on the doctor's facts, not on every balance counter)."""
    key = f"{profile_name}/replay" if replay else profile_name
    if key not in _BASELINES:
        from gpubal.model import Reason
        from gpubal.placement.advice import advise
        from gpubal.placement.topology import build_topology

        no_fault = QueryUnavailable("(none)", None, Reason.ERROR) if replay else None
        snapshot, report, _ = _doctor(profile_name, profile, no_fault, 20.0)
        recording, _balance_report = _balance(profile_name, profile, no_fault)
        _BASELINES[key] = (snapshot, report, build_topology(snapshot), advise(snapshot), recording)
    return _BASELINES[key]


def _outcomes(report) -> Dict[Tuple[str, str], str]:
    return {(result.rule_id, result.subject): result.outcome.value for result in report.results}


_BALANCE_QUERIES = ("init", "device_count", "uuid", "name", "memory_info", "clock_event_reasons")


def _who_asks(fault: Any) -> Tuple[bool, bool]:
    """Whether the doctor and balance ask what the fault breaks (an adapter query only one of them asks
    need not run the other; a fault in the library runs both)."""
    if not isinstance(fault, QueryUnavailable):
        return True, True
    from gpubal.doctor.probes.nvml import SAMPLE_QUERIES

    sampled = fault.query in SAMPLE_QUERIES or fault.query in _BALANCE_QUERIES
    return fault.query not in SAMPLE_QUERIES, sampled


def _base_balance(recording):
    from gpubal.balance.analysis import analyze

    return analyze(recording)


def run_combo(profile_name: str, fault: Any, every_format: bool = True) -> ComboResult:
    """One profile with one fault through doctor, rules, every report, topo and balance."""
    import gpubal.doctor.collect as collect
    from gpubal.placement.advice import advise
    from gpubal.placement.topology import TIER_UNKNOWN, build_topology

    profile = load_profile(profile_name)
    base_snapshot, base_report, base_topology, _base_advice, base_recording = _baseline(
        profile_name, profile, replay=isinstance(fault, QueryUnavailable))
    result = ComboResult(profile_name, fault)
    started = time.monotonic()
    doctor_asks, balance_asks = _who_asks(fault)
    try:
        if doctor_asks:
            snapshot, report, result.exit_code = _doctor(profile_name, profile, fault, HANG_DEADLINE_S)
        else:
            snapshot, report = base_snapshot, base_report
        topology = build_topology(snapshot)
        advice = advise(snapshot)
        if balance_asks:
            recording, balance = _balance(profile_name, profile, fault)
        else:
            recording, balance = base_recording, _base_balance(base_recording)
        _render(report, advice, balance, every_format)
    except Exception as error:  # noqa: BLE001 - what the harness counts
        result.crash = f"{type(error).__name__}: {error}"
        result.seconds = time.monotonic() - started
        return result
    finally:
        collect.abandoned_threads.clear()
    result.seconds = time.monotonic() - started
    if fault.kind in READ_VALUES or (fault.function in TEXT_FUNCTIONS and fault.kind in READ_TEXT) \
            or fault.kind in ANSWER_CODES.get(fault.function, ()):
        return result  # a value that was read: only crashes and hangs count
    result.violations += _claims_beyond(base_snapshot, snapshot, "snapshot")
    result.violations += _claims_beyond(base_recording.gpus, recording.gpus, "balance.gpus")
    result.violations += _claims_beyond(base_recording.samples[:1], recording.samples[:1], "balance.samples")
    result.violations += _claims_beyond(_base_balance(base_recording), balance, "balance.report")
    before = _outcomes(base_report)
    for key, outcome in _outcomes(report).items():
        if outcome == "passed" and before.get(key, "passed") != "passed":
            result.violations.append(f"rule {key[0]} on {key[1]} passed (was {before[key]})")
    for pair, link in topology.links.items():
        was = base_topology.links.get(pair)
        if was is None:
            continue
        if link.tier != TIER_UNKNOWN and link.tier != was.tier:
            result.violations.append(f"topo {pair} tier {link.label} (was {was.label})")
        if link.pcie_tier != TIER_UNKNOWN and link.pcie_tier != was.pcie_tier:
            result.violations.append(f"topo {pair} PCIe tier {link.pcie_tier} (was {was.pcie_tier})")
    if result.exit_code not in (0, 1):
        result.violations.append(f"exit code {result.exit_code}")
    return result


def combos(profile_name: str) -> List[Fault]:
    """Every fault: each function, on every GPU at once and on each GPU alone, each kind."""
    profile = load_profile(profile_name)
    count = len(profile.get("devices", []))
    found = []
    for function in FUNCTIONS:
        for gpu in [None] + list(range(count)):
            for kind in FAULT_KINDS:
                found.append(Fault(function, gpu, kind))
    return found


PROFILES = ("h200x2", "h200x1", "hgx8-h100-nvswitch", "a100-mig-instances", "a100-mig-no-instances",
            "old-driver-470", "pcie4-l40s-2numa", "rtx3090x2-nvlink-bridge", "mixed-h100-a100", "lost-gpu",
            "downtrained", "both-busy", "h200x1-matmul")
