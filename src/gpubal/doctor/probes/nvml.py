"""NVML behind a narrow adapter: the only code in gpubal that talks to the NVIDIA driver library.

Collectors ask for *queries* by name (`"memory_info"`, `"nvlink_state"` with a link number, ...) and get
back plain JSON values or an `Unavailable`. Three adapters speak this protocol:

- `PynvmlAdapter` calls the real library through one choke point (`_call`) that maps every NVML error to a
  reason, probes versioned functions and never lets an exception escape;
- `ReplayAdapter` answers from a JSON profile recorded on a real host or written by hand;
- `RecordingAdapter` wraps another adapter and keeps every answer, which `gpubal debug record-nvml` saves
  as such a profile. Because recording goes through the same queries, a profile holds exactly what the
  collectors ask.
"""

from __future__ import annotations

import json
import os
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Protocol, Tuple, Union

from ...model import Reason, Unavailable, tuple_record

if TYPE_CHECKING:
    from .nvml_start import EarlyNvmlStart

PROFILE_FORMAT = "gpubal-nvml-profile"
PROFILE_VERSION = 1
MAX_PROFILE_BYTES = 64 * 2**20  # a recorded 8-GPU host is about 40 KB; a long balance recording a few MB

Answer = Union[Any, Unavailable]

# NVML return codes (nvml.h) and what each means for a fact.
_REASON_BY_NVML_ERROR = {
    3: Reason.NOT_SUPPORTED,
    4: Reason.NO_PERMISSION,
    6: Reason.NOT_FOUND,
    9: Reason.NOT_FOUND,  # driver not loaded
    10: Reason.TIMEOUT,
    12: Reason.NOT_FOUND,  # library not found
    13: Reason.API_MISSING,  # function not found: the driver predates the call
    15: Reason.GPU_LOST,
    28: Reason.NOT_FOUND,  # GPU not found
}

_NVML_ERROR_NOT_FOUND = 6

# NVML return code names, for fabric status (an nvmlReturn_t) and error details.
NVML_RETURN_NAMES = {
    0: "success", 1: "uninitialized", 2: "invalid_argument", 3: "not_supported", 4: "no_permission",
    5: "already_initialized", 6: "not_found", 7: "insufficient_size", 8: "insufficient_power",
    9: "driver_not_loaded", 10: "timeout", 11: "irq_issue", 12: "library_not_found",
    13: "function_not_found", 14: "corrupted_inforom", 15: "gpu_is_lost", 16: "reset_required",
    17: "operating_system", 18: "lib_rm_version_mismatch", 19: "in_use", 20: "memory", 21: "no_data",
    22: "vgpu_ecc_not_supported", 23: "insufficient_resources", 24: "freq_not_supported",
    25: "argument_version_mismatch", 26: "deprecated", 27: "not_ready", 28: "gpu_not_found",
    29: "invalid_state", 999: "unknown",
}

P2P_INDEX = {"read": 0, "write": 1, "nvlink": 2, "atomics": 3, "pcie": 4}
NVLINK_MAX_LINKS = 18  # Hopper has 18; NVML's own constant grew to 36 for later generations


class NvmlAdapter(Protocol):
    def start(self) -> Optional[Unavailable]:
        """Start NVML; None when it started, else why it could not."""

    def system(self, query: str) -> Answer: ...

    def device(self, index: int, query: str, arg: Optional[int] = None) -> Answer: ...

    def pair(self, index_a: int, index_b: int, query: str, arg: Optional[int] = None) -> Answer: ...

    def stop(self) -> None: ...

    def advance_sample(self) -> bool:
        """`gpubal balance` calls this after each sample: a replay moves to its next recorded sample (False
        when none is left), a recording starts a new one, the real library has nothing to do (True)."""


def answer_key(query: str, arg: Optional[int]) -> str:
    return query if arg is None else f"{query}:{arg}"


# --- the real library --------------------------------------------------------------------------------


class PynvmlAdapter:
    """Calls NVML through nvidia-ml-py. Safe to call from several threads after start()."""

    def __init__(self, early_start: Optional["EarlyNvmlStart"] = None) -> None:
        self._nvml: Any = None
        self._handles: Dict[int, Answer] = {}
        self._lock = threading.Lock()
        self._early_start = early_start  # nvmlInit already begun (gpubal.entry); start() takes its outcome
        self._warming: Optional["EarlyNvmlStart"] = None

    def start(self) -> Optional[Unavailable]:
        from .nvml_start import start_nvml

        early, self._early_start = self._early_start, None
        self._warming = early  # its warm-up calls must be back before this adapter's nvmlShutdown
        pynvml, error = early.outcome() if early is not None else start_nvml()
        if pynvml is None:
            if not isinstance(error, ImportError):
                raise error  # type: ignore[misc]
            return Unavailable(Reason.NOT_FOUND, "import pynvml", f"nvidia-ml-py is not installed: {error}")
        if error is None:
            self._nvml = pynvml
            return None
        if isinstance(error, pynvml.NVMLError):
            code = getattr(error, "value", None)
            return Unavailable(_reason(code), "nvmlInit", _nvml_error_text(error, code))
        if isinstance(error, OSError):  # ctypes failures outside NVMLError
            return Unavailable(Reason.NOT_FOUND, "nvmlInit", str(error))
        if isinstance(error, Exception):  # a wrapper bug must not end the doctor
            return Unavailable(Reason.ERROR, "nvmlInit", f"{type(error).__name__}: {error}")
        raise error  # KeyboardInterrupt, SystemExit: not NVML's answer

    def stop(self) -> None:
        if self._nvml is not None:
            if self._warming is not None:
                self._warming.wait_warmed_up()
                self._warming = None
            self._call("nvmlShutdown")
            self._nvml = None

    def advance_sample(self) -> bool:
        return True

    def _call(self, function_name: str, *args: Any) -> Answer:
        """The choke point: every NVML call goes through here and comes back as a value or a reason."""
        return self._call_coded(function_name, *args)[0]

    def _call_coded(self, function_name: str, *args: Any) -> Tuple[Answer, Optional[int]]:
        """`_call`, keeping NVML's return code too: where one code means something of its own (an empty
        MIG slot is NOT_FOUND, while DRIVER_NOT_LOADED maps to the same reason and is a failure)."""
        function = getattr(self._nvml, function_name, None)
        if function is None:
            return Unavailable(Reason.API_MISSING, function_name, "not in this nvidia-ml-py"), None
        try:
            return function(*args), 0
        except self._nvml.NVMLError as error:
            code = getattr(error, "value", None)
            return Unavailable(_reason(code), function_name, _nvml_error_text(error, code)), code
        except Exception as error:  # noqa: BLE001 - a wrapper bug must not end the doctor
            return Unavailable(Reason.ERROR, function_name, f"{type(error).__name__}: {error}"), None

    def _first(self, calls: List[Tuple[str, Tuple[Any, ...]]]) -> Answer:
        """Versioned APIs: try the newest function first, fall back while it is missing."""
        answer: Answer = Unavailable(Reason.API_MISSING, calls[0][0])
        for function_name, args in calls:
            answer = self._call(function_name, *args)
            if not (isinstance(answer, Unavailable) and answer.reason is Reason.API_MISSING):
                return answer
        return answer

    def _handle(self, index: int) -> Answer:
        """The device handle, asked once per GPU (its answer, value or reason, is kept)."""
        with self._lock:
            if index not in self._handles:
                self._handles[index] = self._call("nvmlDeviceGetHandleByIndex", index)
            return self._handles[index]

    def system(self, query: str) -> Answer:
        if query == "driver_version":
            return self._call("nvmlSystemGetDriverVersion")
        if query == "nvml_version":
            return self._call("nvmlSystemGetNVMLVersion")
        if query == "cuda_driver_version":
            return self._first([("nvmlSystemGetCudaDriverVersion_v2", ()), ("nvmlSystemGetCudaDriverVersion", ())])
        if query == "device_count":
            return self._call("nvmlDeviceGetCount")
        raise KeyError(query)

    def device(self, index: int, query: str, arg: Optional[int] = None) -> Answer:
        handle = self._handle(index)
        if isinstance(handle, Unavailable):
            return handle
        reader = _DEVICE_QUERIES[query].read
        return _converted(query, lambda: reader(self, handle, arg))

    def pair(self, index_a: int, index_b: int, query: str, arg: Optional[int] = None) -> Answer:
        handle_a, handle_b = self._handle(index_a), self._handle(index_b)
        for handle in (handle_a, handle_b):
            if isinstance(handle, Unavailable):
                return handle
        if query == "topology_common_ancestor":
            return self._call("nvmlDeviceGetTopologyCommonAncestor", handle_a, handle_b)
        if query == "p2p_status":
            return self._call("nvmlDeviceGetP2PStatus", handle_a, handle_b, arg)
        raise KeyError(query)

    # Readers turn NVML's ctypes structures into plain JSON values, so that answers can be recorded.

    def _pci_info(self, handle: Any, _arg: Any) -> Answer:
        info = self._first([("nvmlDeviceGetPciInfo_v3", (handle,)), ("nvmlDeviceGetPciInfo", (handle,))])
        return info if isinstance(info, Unavailable) else {"bus_id": _text(info.busId)}

    def _memory_info(self, handle: Any, _arg: Any) -> Answer:
        info = self._call("nvmlDeviceGetMemoryInfo", handle)
        return info if isinstance(info, Unavailable) else {"total": _int(info.total), "used": _int(info.used)}

    def _fabric_info(self, handle: Any, _arg: Any) -> Answer:
        nvml = self._nvml
        for function_name, struct_name in (
            ("nvmlDeviceGetGpuFabricInfoV", "c_nvmlGpuFabricInfoV_t"),
            ("nvmlDeviceGetGpuFabricInfo", "c_nvmlGpuFabricInfo_t"),
        ):
            struct_type = getattr(nvml, struct_name, None)
            if struct_type is None:
                continue
            struct = struct_type()
            answer = self._call(function_name, handle, nvml.byref(struct))
            if isinstance(answer, Unavailable) and answer.reason is Reason.API_MISSING:
                continue
            if isinstance(answer, Unavailable):
                return answer
            return {"state": _int(struct.state), "status": _int(struct.status), "clique_id": _int(struct.cliqueId)}
        return Unavailable(Reason.API_MISSING, "nvmlDeviceGetGpuFabricInfo")

    def _affinity(self, function_name: str, handle: Any, words: int, *extra: Any) -> Answer:
        mask = self._call(function_name, handle, words, *extra)
        if isinstance(mask, Unavailable):
            return mask
        return _ints(mask, words)

    def _utilization(self, handle: Any, _arg: Any) -> Answer:
        rates = self._call("nvmlDeviceGetUtilizationRates", handle)
        return rates if isinstance(rates, Unavailable) else {"gpu": _int(rates.gpu), "memory": _int(rates.memory)}

    def _compute_processes(self, handle: Any, _arg: Any) -> Answer:
        processes = self._first([
            ("nvmlDeviceGetComputeRunningProcesses_v3", (handle,)),
            ("nvmlDeviceGetComputeRunningProcesses_v2", (handle,)),
            ("nvmlDeviceGetComputeRunningProcesses", (handle,)),
        ])
        if isinstance(processes, Unavailable):
            return processes
        found = []
        for process in processes:
            entry = {"pid": _int(process.pid)}
            used = getattr(process, "usedGpuMemory", None)
            if used is not None:  # None: NVML cannot say (NVML_VALUE_NOT_AVAILABLE)
                entry["used_bytes"] = _int(used)
            found.append(entry)
        return found

    def _throughput_counters(self, handle: Any, _arg: Any) -> Answer:
        """Cumulative PCIe bytes and NVLink KiB in one nvmlDeviceGetFieldValues call
        (nvmlDeviceGetPcieThroughput instead waits 20 ms on the GPU per direction).

        NVLink is asked as the sum over all links (scope UINT_MAX, nvml.h: "A scopeId of UINT_MAX returns
        aggregate value summed up across all links"): measured on a 2 x H200 NVSwitch host, 1.0 ms of CPU
        against 13-16 ms for the 18 links one by one (bench/results/nvml-concurrency-h200x2.json)."""
        fields = [(_FI_PCIE_TX_BYTES, 0), (_FI_PCIE_RX_BYTES, 0),
                  (_FI_NVLINK_TX_KIB, _ALL_LINKS), (_FI_NVLINK_RX_KIB, _ALL_LINKS)]
        values = self._call("nvmlDeviceGetFieldValues", handle, fields)
        if isinstance(values, Unavailable):
            return values
        names = {_FI_PCIE_TX_BYTES: "pcie_tx_bytes", _FI_PCIE_RX_BYTES: "pcie_rx_bytes",
                 _FI_NVLINK_TX_KIB: "nvlink_tx_kib", _FI_NVLINK_RX_KIB: "nvlink_rx_kib"}
        counters: Dict[str, int] = {}
        try:
            for value in values:
                if int(value.nvmlReturn) != 0:
                    continue
                name = names.get(int(value.fieldId))
                if name is not None:
                    counters[name] = counters.get(name, 0) + _field_value(value)
        except (AttributeError, TypeError, ValueError) as error:
            return Unavailable(Reason.ERROR, "nvmlDeviceGetFieldValues", f"unexpected answer: {error}")
        if not counters:
            return Unavailable(Reason.NOT_SUPPORTED, "nvmlDeviceGetFieldValues",
                               "no PCIe or NVLink throughput counter on this GPU and driver")
        return counters

    def _mig_devices(self, handle: Any, _arg: Any) -> Answer:
        count = self._call("nvmlDeviceGetMaxMigDeviceCount", handle)
        if isinstance(count, Unavailable):
            return count
        if not 0 <= _int(count) <= _MIG_MAX_SLOTS:
            return Unavailable(Reason.ERROR, "nvmlDeviceGetMaxMigDeviceCount", f"not a slot count: {count!r}")
        devices = []
        for mig_index in range(count):
            mig, code = self._call_coded("nvmlDeviceGetMigDeviceHandleByIndex", handle, mig_index)
            if isinstance(mig, Unavailable):
                if code == _NVML_ERROR_NOT_FOUND:  # an empty slot, not an error
                    continue
                return mig
            uuid = self._call("nvmlDeviceGetUUID", mig)
            memory = self._call("nvmlDeviceGetMemoryInfo", mig)
            gpu_instance = self._call("nvmlDeviceGetGpuInstanceId", mig)
            compute_instance = self._call("nvmlDeviceGetComputeInstanceId", mig)
            for answer in (uuid, memory, gpu_instance, compute_instance):
                if isinstance(answer, Unavailable):
                    return answer
            devices.append({
                "uuid": _text(uuid), "gpu_instance_id": _int(gpu_instance),
                "compute_instance_id": _int(compute_instance), "memory_total_bytes": _int(memory.total),
            })
        return devices


# nvmlDeviceGetFieldValues field ids (nvml.h): cumulative counters
_FI_NVLINK_TX_KIB, _FI_NVLINK_RX_KIB = 138, 139  # NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX/RX, per link (scope)
_FI_PCIE_TX_BYTES, _FI_PCIE_RX_BYTES = 197, 198  # NVML_FI_DEV_PCIE_COUNT_TX/RX_BYTES
_ALL_LINKS = 0xFFFFFFFF  # scopeId UINT_MAX: the NVLink counters summed over every link


def _field_value(value: Any) -> int:
    """A field value's number by its nvmlValueType_t: 0 double, 1 uint, 2 ulong, 3 ulonglong, 4 slonglong,
    5 sint, 6 ushort."""
    member = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal", 6: "usVal"}.get(
        int(value.valueType), "ullVal")
    return int(getattr(value.value, member))


def _converted(query: str, read: Callable[[], Answer]) -> Answer:
    """A reader's answer; turning NVML's structures into plain values happens outside `_call`, so an answer
    of a shape the reader did not expect (None for a width, a short tuple) becomes a reason here."""
    try:
        return read()
    except Exception as error:  # noqa: BLE001 - an odd answer must not end the doctor
        return Unavailable(Reason.ERROR, query, f"unexpected answer: {type(error).__name__}: {error}")


def _int(value: Any) -> int:
    """NVML's numbers arrive as Python ints; anything else (None, 1.5, "16", True) is not a number of NVML's
    and must not become one (int("16") would read a width where NVML gave none)."""
    if type(value) is not int:
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    if abs(value) > 2**64:  # NVML's widest numbers are unsigned 64-bit (a snapshot refuses more, too)
        raise ValueError(f"{value} is wider than any NVML number")
    return value


def _ints(value: Any, count: Optional[int] = None) -> List[int]:
    """A sequence of NVML numbers (a tuple, list or ctypes array); bytes and text index as numbers too,
    and are not one."""
    if isinstance(value, (bytes, str)) or (count is not None and len(value) != count):
        raise TypeError(f"expected {count or 'some'} integers, got {value!r:.60}")
    return [_int(item) for item in value]


def _int_pair(value: Any) -> List[int]:
    return _ints(value, 2)


_MIG_MAX_SLOTS = 64  # NVML_MAX_GPU_INSTANCES is 7 today; a larger count is a garbled answer


def _text(value: Any) -> str:
    """NVML's text answers arrive as bytes or str; anything else (None) is no text at all."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    raise TypeError(f"expected text, got {type(value).__name__}")


@tuple_record
class _Query:
    """How one device query is answered, and the NVML function a fact built from its answer cites (the
    first one the reader tries, where it tries several)."""

    source: str
    read: Callable[["PynvmlAdapter", Any, Optional[int]], Answer]


def _simple(function_name: str, convert: Callable[[Any], Any] = lambda v: v) -> _Query:
    def reader(adapter: PynvmlAdapter, handle: Any, arg: Optional[int]) -> Answer:
        args = (handle,) if arg is None else (handle, arg)
        answer = adapter._call(function_name, *args)
        return answer if isinstance(answer, Unavailable) else convert(answer)

    return _Query(function_name, reader)


def _versioned(*function_names: str, convert: Callable[[Any], Any] = lambda v: v) -> _Query:
    def reader(adapter: PynvmlAdapter, handle: Any, arg: Optional[int]) -> Answer:
        answer = adapter._first([(name, (handle,)) for name in function_names])
        return answer if isinstance(answer, Unavailable) else convert(answer)

    return _Query(function_names[0], reader)


# Codes that map to NOT_FOUND for the library, the driver or the GPU; asked of one link, they say nothing
# about whether the link exists (a link NVML does not have answers NOT_SUPPORTED or NOT_FOUND).
_NOT_ABOUT_THE_LINK = (9, 12, 28)


def _link_state(adapter: "PynvmlAdapter", handle: Any, link: Optional[int]) -> Answer:
    answer, code = adapter._call_coded("nvmlDeviceGetNvLinkState", handle, link)
    if isinstance(answer, Unavailable):
        if code in _NOT_ABOUT_THE_LINK:
            return Unavailable(Reason.ERROR, answer.source, answer.detail)
        return answer
    return _int(answer)


def _remote_pci(adapter: PynvmlAdapter, handle: Any, link: Optional[int]) -> Answer:
    info = adapter._first([
        ("nvmlDeviceGetNvLinkRemotePciInfo_v2", (handle, link)),
        ("nvmlDeviceGetNvLinkRemotePciInfo", (handle, link)),
    ])
    return info if isinstance(info, Unavailable) else _text(info.busId)


_AFFINITY_WORDS = 16  # 16 x 64 bits: room for 1024 CPUs or NUMA nodes


_DEVICE_QUERIES: Dict[str, _Query] = {
    "name": _simple("nvmlDeviceGetName", _text),
    "uuid": _simple("nvmlDeviceGetUUID", _text),
    "serial": _simple("nvmlDeviceGetSerial", _text),
    "vbios_version": _simple("nvmlDeviceGetVbiosVersion", _text),
    "pci_info": _Query("nvmlDeviceGetPciInfo_v3", PynvmlAdapter._pci_info),
    "memory_info": _Query("nvmlDeviceGetMemoryInfo", PynvmlAdapter._memory_info),
    "architecture": _simple("nvmlDeviceGetArchitecture", _int),
    "cuda_compute_capability": _simple("nvmlDeviceGetCudaComputeCapability", _int_pair),
    "persistence_mode": _simple("nvmlDeviceGetPersistenceMode", _int),
    "display_active": _simple("nvmlDeviceGetDisplayActive", _int),  # 1: a display is initialised on the GPU
    "compute_mode": _simple("nvmlDeviceGetComputeMode", _int),
    "ecc_mode": _simple("nvmlDeviceGetEccMode", _int_pair),
    "virtualization_mode": _simple("nvmlDeviceGetVirtualizationMode", _int),
    "mig_mode": _simple("nvmlDeviceGetMigMode", _int_pair),
    "mig_devices": _Query("nvmlDeviceGetMigDeviceHandleByIndex", PynvmlAdapter._mig_devices),
    "pcie_link_gen_current": _simple("nvmlDeviceGetCurrPcieLinkGeneration", _int),
    "pcie_link_gen_max": _simple("nvmlDeviceGetMaxPcieLinkGeneration", _int),
    "pcie_link_gen_device_max": _simple("nvmlDeviceGetGpuMaxPcieLinkGeneration", _int),
    "pcie_link_width_current": _simple("nvmlDeviceGetCurrPcieLinkWidth", _int),
    "pcie_link_width_max": _simple("nvmlDeviceGetMaxPcieLinkWidth", _int),
    "pcie_replay_counter": _simple("nvmlDeviceGetPcieReplayCounter", _int),
    "nvlink_state": _Query("nvmlDeviceGetNvLinkState", _link_state),
    "nvlink_version": _simple("nvmlDeviceGetNvLinkVersion", _int),
    "nvlink_remote_pci": _Query("nvmlDeviceGetNvLinkRemotePciInfo_v2", _remote_pci),
    "nvlink_remote_device_type": _simple("nvmlDeviceGetNvLinkRemoteDeviceType", _int),
    "fabric_info": _Query("nvmlDeviceGetGpuFabricInfoV", PynvmlAdapter._fabric_info),
    "clock_event_reasons": _versioned(
        "nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons", convert=_int
    ),
    "retired_pages_pending": _simple("nvmlDeviceGetRetiredPagesPendingStatus", _int),
    "remapped_rows": _simple("nvmlDeviceGetRemappedRows", lambda v: _ints(v, 4)),
    "memory_affinity_nodes": _Query("nvmlDeviceGetMemoryAffinity", lambda a, h, _: a._affinity(
        "nvmlDeviceGetMemoryAffinity", h, _AFFINITY_WORDS, 0)),
    "cpu_affinity": _Query("nvmlDeviceGetCpuAffinity", lambda a, h, _: a._affinity(
        "nvmlDeviceGetCpuAffinity", h, _AFFINITY_WORDS)),
    # asked by `gpubal balance` at every sample
    "utilization_rates": _Query("nvmlDeviceGetUtilizationRates", PynvmlAdapter._utilization),
    "power_usage": _simple("nvmlDeviceGetPowerUsage", _int),  # milliwatts
    "clock_info": _simple("nvmlDeviceGetClockInfo", _int),  # arg: nvmlClockType_t, 1 = SM; MHz
    "pcie_throughput": _simple("nvmlDeviceGetPcieThroughput", _int),  # arg: 0 TX, 1 RX; KB/s over 20 ms
    "throughput_counters": _Query("nvmlDeviceGetFieldValues", PynvmlAdapter._throughput_counters),
    "compute_processes": _Query("nvmlDeviceGetComputeRunningProcesses_v3", PynvmlAdapter._compute_processes),
    # asked once by collect (the process table; whether a GPU is busy): the same calls under their own
    # names, so that a recording of `gpubal doctor` does not start a sample series as `gpubal balance` does
    "running_processes": _Query("nvmlDeviceGetComputeRunningProcesses_v3", PynvmlAdapter._compute_processes),
    "utilization_now": _Query("nvmlDeviceGetUtilizationRates", PynvmlAdapter._utilization),
}
# The NVML function each device query's facts cite, read from the table above so that the name a fact
# cites and the function actually called cannot drift apart.
DEVICE_QUERY_SOURCES: Dict[str, str] = {query: entry.source for query, entry in _DEVICE_QUERIES.items()}
SAMPLE_QUERIES = ("utilization_rates", "power_usage", "clock_info", "pcie_throughput", "throughput_counters",
                  "compute_processes")
MOMENT_QUERIES = ("running_processes", "utilization_now")  # what runs now: a profile need not hold it
DEVICE_QUERIES = tuple(query for query in _DEVICE_QUERIES  # what collect asks of every GPU
                       if query not in SAMPLE_QUERIES + MOMENT_QUERIES)
# Asked since the first profiles were recorded: a profile made before may lack them, and its replay then
# answers not_found "not recorded in ...", never a value the host did not give.
LATER_QUERIES = ("vbios_version", "display_active")


def _reason(code: Optional[int]) -> Reason:
    return _REASON_BY_NVML_ERROR.get(code, Reason.ERROR) if code is not None else Reason.ERROR


def _nvml_error_text(error: Exception, code: Optional[int]) -> str:
    name = NVML_RETURN_NAMES.get(code, "") if code is not None else ""
    text = str(error)
    return f"{text} (NVML_ERROR_{name.upper()})" if name else text


# --- replayed profiles -------------------------------------------------------------------------------


class ProfileError(ValueError):
    """A profile file that cannot be replayed; the message is one line for the user."""


def _decode(value: Any, source: str) -> Answer:
    if isinstance(value, dict) and "error" in value:
        try:
            reason = Reason(value["error"])
        except ValueError:
            raise ProfileError(f"{source}: unknown error reason {value['error']!r}") from None
        return Unavailable(reason, value.get("source", source), value.get("detail", ""))
    return value


def _encode(answer: Answer) -> Any:
    if isinstance(answer, Unavailable):
        encoded = {"error": answer.reason.value, "source": answer.source}
        if answer.detail:
            encoded["detail"] = answer.detail
        return encoded
    return answer


def _check_profile_shape(profile: Dict[str, Any], name: str) -> None:
    """The tables a replay looks answers up in have the types it indexes them with, and every recorded
    error names a known reason: a malformed profile is a ProfileError now, never a crash mid-collection."""
    init = profile.get("init", "ok")
    if init != "ok" and not (isinstance(init, dict) and "error" in init):
        raise ProfileError(f"{name}: 'init' must be \"ok\" or an error object, not {init!r:.40}")
    shapes = (("system", dict, None), ("devices", list, dict), ("pairs", dict, dict))
    for key, outer, inner in shapes:
        table = profile.get(key, outer())
        if not isinstance(table, outer):
            raise ProfileError(f"{name}: {key!r} must be a JSON {'object' if outer is dict else 'list'}")
        items = table.values() if isinstance(table, dict) else table
        if inner is not None and not all(isinstance(item, inner) for item in items):
            raise ProfileError(f"{name}: every entry of {key!r} must be a JSON object of answers")
    answers: List[Any] = [init, *profile.get("system", {}).values()]
    for table in (*profile.get("devices", []), *profile.get("pairs", {}).values(),
                  *(answers for sample in profile.get("samples", []) for answers in sample)):
        answers.extend(table.values())
    for answer in answers:
        if isinstance(answer, dict) and "error" in answer:
            if not isinstance(answer["error"], str) or answer["error"] not in {reason.value for reason in Reason}:
                raise ProfileError(f"{name}: unknown error reason {answer['error']!r:.40}")
            if not all(isinstance(answer.get(field, ""), str) for field in ("source", "detail")):
                raise ProfileError(f"{name}: an error's source and detail must be strings")


class ReplayAdapter:
    """Answers from a profile. A query the profile lacks is `not_found`, naming the profile."""

    def __init__(self, profile: Dict[str, Any], name: str = "profile") -> None:
        if not isinstance(profile, dict) or profile.get("format") != PROFILE_FORMAT:
            raise ProfileError(f"{name}: not a gpubal NVML profile (format must be {PROFILE_FORMAT!r})")
        if profile.get("version") != PROFILE_VERSION:
            raise ProfileError(f"{name}: profile version {profile.get('version')!r}, expected {PROFILE_VERSION}")
        self.profile = profile
        self.name = name
        samples = profile.get("samples", [])
        if not isinstance(samples, list) or not all(
                isinstance(sample, list) and all(isinstance(answers, dict) for answers in sample) for sample in samples):
            raise ProfileError(f"{name}: 'samples' must be a list of samples, each a list of per-GPU answers")
        self.samples: List[List[Dict[str, Any]]] = samples
        self.sample_cursor = 0
        _check_profile_shape(profile, name)

    @classmethod
    def from_file(cls, path: str) -> "ReplayAdapter":
        from ...common.bounded import TooLarge, parse_bounded

        def no_constant(name: str) -> Any:
            raise ProfileError(f"{path}: {name} is not an NVML answer")

        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read(MAX_PROFILE_BYTES + 1)
            data = parse_bounded(lambda body: json.loads(body, parse_constant=no_constant), text, MAX_PROFILE_BYTES)
        except OSError as error:
            raise ProfileError(f"{path}: {error.strerror}") from None
        except TooLarge as error:
            raise ProfileError(f"{path}: not a gpubal NVML profile: {error}") from None
        except ProfileError:
            raise
        except ValueError as error:  # UnicodeDecodeError included
            raise ProfileError(f"{path}: not JSON: {error}") from None
        return cls(data, path)

    def _missing(self, where: str) -> Unavailable:
        return Unavailable(Reason.NOT_FOUND, where, f"not recorded in {os.path.basename(self.name)}")

    def start(self) -> Optional[Unavailable]:
        init = self.profile.get("init", "ok")
        return None if init == "ok" else _decode(init, "nvmlInit")

    def stop(self) -> None:
        pass

    def advance_sample(self) -> bool:
        """True while recorded samples remain; a profile without samples answers the same every time."""
        if not self.samples:
            return True
        self.sample_cursor += 1
        return self.sample_cursor < len(self.samples)

    def system(self, query: str) -> Answer:
        answers = self.profile.get("system", {})
        return _decode(answers[query], query) if query in answers else self._missing(query)

    def device(self, index: int, query: str, arg: Optional[int] = None) -> Answer:
        devices = self.profile.get("devices", [])
        if index >= len(devices):
            return self._missing(f"device {index}")
        answers = devices[index]
        if "handle" in answers:  # the handle itself failed: a lost GPU
            return _decode(answers["handle"], "nvmlDeviceGetHandleByIndex")
        key = answer_key(query, arg)
        if self.samples and self.sample_cursor < len(self.samples):
            sample = self.samples[self.sample_cursor]
            if index < len(sample) and key in sample[index]:
                return _decode(sample[index][key], key)
        return _decode(answers[key], key) if key in answers else self._missing(key)

    def pair(self, index_a: int, index_b: int, query: str, arg: Optional[int] = None) -> Answer:
        devices = self.profile.get("devices", [])
        for index in (index_a, index_b):
            if index < len(devices) and "handle" in devices[index]:
                return _decode(devices[index]["handle"], "nvmlDeviceGetHandleByIndex")
        answers = self.profile.get("pairs", {}).get(f"{index_a},{index_b}", {})
        key = answer_key(query, arg)
        return _decode(answers[key], key) if key in answers else self._missing(f"pair {index_a},{index_b} {key}")


class RecordingAdapter:
    """Passes every query to another adapter and keeps the answer for a profile."""

    def __init__(self, inner: NvmlAdapter) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self.init: Any = "ok"
        self.system_answers: Dict[str, Any] = {}
        self.device_answers: Dict[int, Dict[str, Any]] = {}
        self.pair_answers: Dict[str, Dict[str, Any]] = {}
        self.samples: List[Dict[int, Dict[str, Any]]] = []  # what `gpubal balance` asked, sample by sample
        self.sample_interval_s = 0.0

    def start(self) -> Optional[Unavailable]:
        failure = self.inner.start()
        if failure is not None:
            self.init = _encode(failure)
        return failure

    def stop(self) -> None:
        self.inner.stop()

    def system(self, query: str) -> Answer:
        answer = self.inner.system(query)
        with self._lock:
            self.system_answers[query] = _encode(answer)
        return answer

    def advance_sample(self) -> bool:
        with self._lock:
            self.samples.append({})
        return self.inner.advance_sample()

    def device(self, index: int, query: str, arg: Optional[int] = None) -> Answer:
        answer = self.inner.device(index, query, arg)
        with self._lock:
            # Once sampling has begun (its first sample query), every answer is kept per sample as well:
            # memory used and clock event reasons change from one sample to the next.
            if query in SAMPLE_QUERIES and not self.samples:
                self.samples.append({})
            if self.samples:
                self.samples[-1].setdefault(index, {})[answer_key(query, arg)] = _encode(answer)
            if query not in SAMPLE_QUERIES:
                self.device_answers.setdefault(index, {})[answer_key(query, arg)] = _encode(answer)
        return answer

    def pair(self, index_a: int, index_b: int, query: str, arg: Optional[int] = None) -> Answer:
        answer = self.inner.pair(index_a, index_b, query, arg)
        with self._lock:
            self.pair_answers.setdefault(f"{index_a},{index_b}", {})[answer_key(query, arg)] = _encode(answer)
        return answer

    def profile(self, description: str) -> Dict[str, Any]:
        count = max(self.device_answers, default=-1) + 1
        devices = []
        for index in range(count):
            answers = dict(sorted(self.device_answers.get(index, {}).items()))
            lost = [a for a in answers.values() if isinstance(a, dict) and a.get("error") == "gpu_lost"]
            if lost and len(lost) == len(answers):
                answers = {"handle": lost[0]}
            devices.append(answers)
        profile = {
            "format": PROFILE_FORMAT,
            "version": PROFILE_VERSION,
            "description": description,
            "init": self.init,
            "system": dict(sorted(self.system_answers.items())),
            "devices": devices,
            "pairs": {key: dict(sorted(value.items())) for key, value in sorted(self.pair_answers.items())},
        }
        samples = [sample for sample in self.samples if sample]
        if samples:
            profile["sample_interval_s"] = self.sample_interval_s
            profile["samples"] = [[dict(sorted(sample.get(index, {}).items())) for index in range(count)]
                                  for sample in samples]
        return profile
