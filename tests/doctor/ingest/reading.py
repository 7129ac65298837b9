"""What gpubal read from a dump, in the vocabulary of the corpus' `expected` files (values as printed in
the dump: strings stay strings), so a test can compare the two directly."""

from __future__ import annotations

from typing import Any, Dict, List

from gpubal.doctor.ingest.registry import detect, run_parsers
from gpubal.doctor.ingest.reader import open_dump


def parse_file(path: str) -> Dict[str, Any]:
    """format name -> parse result, for every format recognised in the file."""
    dump = open_dump(path)
    try:
        formats = detect(dump.head)
        results = run_parsers(formats, dump.chunks())
    finally:
        dump.close()
    return {result.format_name: result for result in results if result.found}


def _same_or_each(values: Dict[str, str]) -> Any:
    distinct = set(values.values())
    return next(iter(distinct)) if len(distinct) == 1 else values


def read_topo(results: Dict[str, Any]) -> Dict[str, Any]:
    topology = results["nvidia-smi topo"]
    reading: Dict[str, Any] = {}
    matrix = topology.topo()
    if matrix is not None:
        gpus = [str(i) for i in matrix.gpu_indices()]
        links = topology.links()
        titles = {"cpu_affinity": "CPU Affinity", "numa_affinity": "NUMA Affinity", "gpu_numa_id": "GPU NUMA ID"}
        reading.update(
            gpu_count=len(gpus), links=links,
            columns=matrix.devices + [titles[column] for column in matrix.affinity_columns],
            cpu_affinity={i: matrix.affinity.get(f"GPU{i}", {}).get("cpu_affinity") for i in gpus},
            numa_node={i: matrix.affinity.get(f"GPU{i}", {}).get("numa_affinity") for i in gpus},
            gpu_numa_id={i: matrix.affinity.get(f"GPU{i}", {}).get("gpu_numa_id") for i in gpus},
            nvlink=any(word.startswith("NV") for word in links.values()),
            nics=[name for name in matrix.devices if not name.startswith("GPU")],
            nvswitch_inferred=_route(topology) == "nvswitch",
            header_copied=matrix.header_copied, cut_rows=matrix.cut_rows,
        )
    for p2p in topology.p2p():
        indices = p2p.gpu_indices()
        reading.setdefault("gpu_count", len(indices))
        reading["p2p"] = {f"{a}-{b}": p2p.cell(f"GPU{a}", f"GPU{b}") for a in indices for b in indices if a != b}
    return reading


def _route(topology) -> str:
    routes = {value for path, value, _ in topology.observations() if path[-1] == "nvlink_route"}
    return routes.pop() if len(routes) == 1 else ""


def read_nvlink(results: Dict[str, Any]) -> Dict[str, Any]:
    status = results["nvidia-smi nvlink -s"]
    return {"gpus": {str(index): {"name": gpu["name"], "links": {str(n): text for n, text in gpu["links"].items()},
                                  "inactive_links": [n for n, text in gpu["links"].items() if text == "<inactive>"]}
                     for index, gpu in status.gpus.items()},
            "partial_gpus": sorted(index for index in status.gpus if status.cut(index))}


def read_smi_list(results: Dict[str, Any]) -> Dict[str, Any]:
    listing = results["nvidia-smi -L"]
    mig = {str(gpu["index"]): "on" if gpu["mig_devices"] else "off" for gpu in listing.gpus}
    devices = [device for gpu in listing.gpus for device in gpu["mig_devices"]]
    return {
        "gpu_count": len(listing.gpus), "gpu_models": [gpu["name"] for gpu in listing.gpus],
        "gpu_uuids": {str(gpu["index"]): gpu["uuid"] for gpu in listing.gpus},
        "mig": _same_or_each(mig), "mig_device_count": len(devices),
        "mig_profiles": [device["profile"] for device in devices],
        "mig_devices": {str(gpu["index"]): gpu["mig_devices"] for gpu in listing.gpus if gpu["mig_devices"]},
    }


def read_smi_xml(results: Dict[str, Any]) -> Dict[str, Any]:
    xml = results["nvidia-smi -q -x"]
    gpu = xml.gpus[0]
    link = "PCI/GPU Link Info/"
    return {
        "gpu_count": len(xml.gpus), "gpu_models": [g.get("Product Name") for g in xml.gpus],
        "driver_version": xml.driver_version, "cuda_version": xml.cuda_version, "dtd": xml.dtd,
        "gpu_uuid": gpu.get("GPU UUID"), "pci_bus_id": gpu.get("PCI/Bus Id"),
        "mig": {"Enabled": "on", "Disabled": "off"}.get(gpu.get("MIG Mode/Current", ""), "unknown"),
        "mig_pending": gpu.get("MIG Mode/Pending"),
        "mig_devices": [{"index": int(m["Index"]), "gpu_instance_id": int(m["GPU Instance ID"]),
                         "compute_instance_id": int(m["Compute Instance ID"]),
                         "multiprocessor_count": int(m["Multiprocessor count"]), "fb_total": m["FB Memory Usage/Total"]}
                        for m in xml.mig_devices[0]],
        "fb_memory_total": gpu.get("FB Memory Usage/Total"),
        "virtualization_mode": gpu.get("GPU Virtualization Mode/Virtualization Mode"),
        "pcie_gen_current": gpu.get(link + "PCIe Generation/Current"),
        "pcie_width_current": gpu.get(link + "Link Width/Current"), "ecc_mode": gpu.get("ECC Mode/Current"),
        "processes": xml.processes[0],
    }


def read_smi_table(results: Dict[str, Any]) -> Dict[str, Any]:
    table = results["nvidia-smi"]
    return {
        "gpu_count": len(table.gpus), "gpu_models": [gpu["name"] for gpu in table.gpus],
        "driver_version": table.driver_version, "cuda_version": table.cuda_version,
        "bus_ids": {gpu["index"]: gpu["bus_id"] for gpu in table.gpus},
        "memory_total_mib": {gpu["index"]: gpu.get("memory_total_mib") for gpu in table.gpus},
        "mig": _same_or_each({gpu["index"]: {"Enabled": "on", "Disabled": "off"}.get(gpu.get("mig", ""), "?")
                              for gpu in table.gpus}),
        "persistence": _same_or_each({gpu["index"]: gpu["persistence"] for gpu in table.gpus}),
        "processes": [] if table.no_processes else None,
        "timestamp": table.timestamp, "nvml_error": table.nvml_error,
        "nvml_library_version": table.nvml_library_version,
    }


def read_ollama(results: Dict[str, Any]) -> Dict[str, Any]:
    log = results["Ollama log"]
    reading: Dict[str, Any] = dict(log.extras)
    reading.update(gpus=list(log.gpu_details.values()), models=log.loads,
                   events=[{"kind": event.kind, "code": event.code} for event in log.events],
                   cuda_libraries=list(log.cuda_libraries))
    if log.version:
        reading["ollama_version"] = log.version
    if log.server_config is not None:
        reading["server_config"] = log.server_config
    return reading


def read_smi_query(results: Dict[str, Any]) -> Dict[str, Any]:
    query = results["nvidia-smi -q"]
    link = "PCI/GPU Link Info/"
    fields = {"bus_id": "PCI/Bus Id", "uuid": "GPU UUID", "mig_current": "MIG Mode/Current",
              "mig_pending": "MIG Mode/Pending", "persistence": "Persistence Mode",
              "pcie_gen_current": link + "PCIe Generation/Current", "pcie_gen_max": link + "PCIe Generation/Max",
              "pcie_width_current": link + "Link Width/Current", "pcie_width_max": link + "Link Width/Max",
              "fabric_state": "Fabric/State", "fabric_status": "Fabric/Status", "ecc_mode": "ECC Mode/Current",
              "ecc_mode_pending": "ECC Mode/Pending",
              "virtualization_mode": "GPU Virtualization Mode/Virtualization Mode",
              "fb_memory_total": "FB Memory Usage/Total"}
    mig = {str(i): {"Enabled": "on", "Disabled": "off"}.get(gpu.get("MIG Mode/Current", ""), "?")
           for i, gpu in enumerate(query.gpus)}
    return {
        "gpu_count": len(query.gpus), "attached_gpus": query.attached_gpus,
        "gpu_models": [gpu.get("Product Name") for gpu in query.gpus],
        "driver_version": query.driver_version, "cuda_version": query.cuda_version, "mig": _same_or_each(mig),
        "gpus": {str(i): {name: gpu.get(key) for name, key in fields.items()} for i, gpu in enumerate(query.gpus)},
        "mig_devices": {str(i): migs for i, migs in enumerate(query.mig_devices) if migs},
        "timestamp": query.timestamp,
    }


def read_collect_env(results: Dict[str, Any]) -> Dict[str, Any]:
    env = results["collect_env"]
    fields = {"torch_version": "PyTorch version", "cuda_used_to_build": "CUDA used to build PyTorch",
              "os": "OS", "driver_version": "Nvidia driver version", "cuda_runtime_version": "CUDA runtime version",
              "is_cuda_available": "Is CUDA available", "python_version": "Python version",
              "cpu_count": "CPU(s)", "cpu_model": "Model name", "hypervisor_vendor": "Hypervisor vendor",
              "sockets": "Socket(s)", "numa_nodes": "NUMA node(s)"}
    reading: Dict[str, Any] = {name: env.values.get(key) for name, key in fields.items()}
    numa = {key.split()[1][len("node"):]: text for key, text in env.values.items()
            if key.startswith("NUMA node") and key.endswith("CPU(s)") and key != "NUMA node(s)"}
    reading.update(
        tool=env.tool, gpu_count=len(env.gpus), gpu_models=[env.gpus[i] for i in sorted(env.gpus)],
        cudnn_files=list(env.cudnn_files),
        cudnn_versions=sorted({path.rsplit(".so.", 1)[1] for path in env.cudnn_files if ".so." in path}),
        numa_node_cpus=numa, packages=dict(env.packages), environment=dict(env.environment),
    )
    return reading


READERS = {"topo": read_topo, "topo-p2p": read_topo, "nvlink-s": read_nvlink, "smi-L": read_smi_list,
           "smi-q-xml": read_smi_xml, "smi": read_smi_table, "ollama-log": read_ollama,
           "smi-q": read_smi_query, "collect-env": read_collect_env}

# expected keys that record what the sample's issue says around the dump, not what the dump holds, and
# "snapshot": the facts that must reach the snapshot built from the sample alone (read_snapshot)
NOT_IN_TEXT = {"quirks", "p2p_mode", "snapshot"}


def read_snapshot(path: str) -> Dict[str, Any]:
    """The snapshot facts a dump yields on its own, in the corpus' vocabulary: driver facts, the GPUs the
    snapshot lists (with the part of the source that says where they came from), Ollama's log events
    and the CUDA each Python package was built for."""
    from gpubal.doctor.ingest.dumps import snapshot_from_dumps
    from gpubal.model import Known

    snapshot = snapshot_from_dumps([path]).snapshot
    reading: Dict[str, Any] = {}
    for name in ("version", "cuda_driver_version", "device_count"):
        fact = getattr(snapshot.driver, name)
        if isinstance(fact, Known):
            reading[f"driver.{name}"] = fact.value
    if isinstance(snapshot.gpus, Known):
        gpus = snapshot.gpus.value
        reading["gpu_count"] = len(gpus)
        reading["gpu_source"] = snapshot.gpus.source.split(": ", 1)[-1]
        for name in ("name", "compute_capability", "memory_total_bytes", "uuid", "display_active"):
            reading[f"gpu.{name}"] = [gpu_fact.value if isinstance(gpu_fact := getattr(gpu, name), Known) else None
                                      for gpu in gpus]
    if isinstance(snapshot.ollama.log_events, Known):
        reading["ollama.log_events"] = [[event.kind, event.code] for event in snapshot.ollama.log_events.value]
    if isinstance(snapshot.ollama.log_gpus, Known):
        reading["ollama.log_gpus.available_bytes"] = [gpu.available_bytes for gpu in snapshot.ollama.log_gpus.value]
    if isinstance(snapshot.ollama.log_cuda_libraries, Known):
        reading["ollama.log_cuda_libraries"] = snapshot.ollama.log_cuda_libraries.value
    if isinstance(snapshot.stack.python_packages, Known):
        reading["python_packages"] = {p.name: {"version": p.version, "cuda": p.cuda_version}
                                      for p in snapshot.stack.python_packages.value}
    if isinstance(snapshot.stack.cuda_toolkits, Known):
        reading["nvcc"] = [toolkit.version for toolkit in snapshot.stack.cuda_toolkits.value]
    return reading


def mismatches(expected: Any, actual: Any, where: str = "") -> List[str]:
    """Where `actual` differs from `expected`: every expected key must be read, with the same value
    (lists element by element); keys gpubal reads beyond the expert's list are not differences."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where or '.'}: expected an object, read {actual!r}"]
        found = []
        for key, value in expected.items():
            if key in NOT_IN_TEXT and not where:
                continue
            if key not in actual:
                found.append(f"{where}.{key}: not read (expected {value!r})")
            else:
                found += mismatches(value, actual[key], f"{where}.{key}")
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected {expected!r}, read {actual!r}"]
        return [m for i, (e, a) in enumerate(zip(expected, actual)) for m in mismatches(e, a, f"{where}[{i}]")]
    return [] if expected == actual else [f"{where}: expected {expected!r}, read {actual!r}"]
