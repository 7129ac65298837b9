"""Snapshots recorded on real hosts, and helpers that derive a variant of one by replacing facts.

Every case a test needs is the real snapshot with a few facts changed (`dataclasses.replace` on frozen
parts), never a call-by-call mock: the rest of the snapshot stays what a real H200 host reported.

    broken = with_gpu(h200x2_snapshot, 0, persistence_mode=known(False))
    report = evaluate(broken, [persistence_mode_off.persistence_mode_off])
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Dict, List

import pytest

from gpubal.doctor.collect import collect_snapshot
from gpubal.model import Finding, Fix, Known, NvLink, Outcome, Reason, RuleResult, Snapshot, Unavailable
from gpubal.doctor.probes.files import HostFiles
from gpubal.doctor.probes.nvml import ReplayAdapter

FIXTURES = Path(__file__).parent / "fixtures"


def real_snapshot(name: str) -> Snapshot:
    """The snapshot gpubal builds from the NVML profile and host files recorded on host `name`."""
    return collect_snapshot(ReplayAdapter.from_file(str(FIXTURES / "nvml" / f"{name}.json")),
                            HostFiles(str(FIXTURES / "roots" / name)), origin=f"nvml-profile:{name}.json")


@pytest.fixture(scope="session")
def h200x2_snapshot() -> Snapshot:
    """A healthy 2x H200 host on an NVSwitch fabric (a VM with both GPUs passed through)."""
    return real_snapshot("h200x2")


@pytest.fixture(scope="session")
def h200x1_snapshot() -> Snapshot:
    """A 1x H200 seen from inside a Docker container; its link has retransmitted one packet."""
    return real_snapshot("h200x1")


# --- facts ---------------------------------------------------------------------------------------------


def known(value: Any) -> Known:
    return Known(value, "test")


def unavailable(reason: Reason = Reason.NOT_SUPPORTED, detail: str = "") -> Unavailable:
    return Unavailable(reason, "test", detail)


# --- variants of a snapshot ----------------------------------------------------------------------------


def with_host(snapshot: Snapshot, **changes: Any) -> Snapshot:
    return dataclasses.replace(snapshot, host=dataclasses.replace(snapshot.host, **changes))


def with_driver(snapshot: Snapshot, **changes: Any) -> Snapshot:
    return dataclasses.replace(snapshot, driver=dataclasses.replace(snapshot.driver, **changes))


def with_gpu(snapshot: Snapshot, index: int, **changes: Any) -> Snapshot:
    """The snapshot with the facts of GPU `index` replaced; the other GPUs stay as recorded."""
    gpus = snapshot.gpu_list()
    if not any(gpu.index == index for gpu in gpus):
        raise KeyError(f"the snapshot has no GPU {index}")
    changed = [dataclasses.replace(gpu, **changes) if gpu.index == index else gpu for gpu in gpus]
    return dataclasses.replace(snapshot, gpus=Known(changed, snapshot.gpus.source))


def with_pair(snapshot: Snapshot, gpu_a: int, gpu_b: int, **changes: Any) -> Snapshot:
    pairs = snapshot.pairs.value
    if not any((pair.gpu_a, pair.gpu_b) == (gpu_a, gpu_b) for pair in pairs):
        raise KeyError(f"the snapshot has no pair gpu:{gpu_a}-gpu:{gpu_b}")
    changed = [dataclasses.replace(pair, **changes) if (pair.gpu_a, pair.gpu_b) == (gpu_a, gpu_b) else pair
               for pair in pairs]
    return dataclasses.replace(snapshot, pairs=Known(changed, snapshot.pairs.source))


def with_nvlinks(snapshot: Snapshot, index: int, inactive: List[int]) -> Snapshot:
    """GPU `index` with the listed links (as recorded otherwise) reported down."""
    links: List[NvLink] = snapshot.gpu_list()[index].nvlinks.value
    changed = [dataclasses.replace(link, active=known(False)) if link.link in inactive else link
               for link in links]
    return with_gpu(snapshot, index, nvlinks=known(changed))


def with_snapshot(snapshot: Snapshot, **changes: Any) -> Snapshot:
    """Top-level replacement, e.g. `gpus=unavailable(Reason.NOT_FOUND)`."""
    return dataclasses.replace(snapshot, **changes)


# --- reading a report ----------------------------------------------------------------------------------


def only_result(report, subject: str) -> RuleResult:
    """The one result a report holds for `subject` (each rule gives each subject exactly one)."""
    found = [result for result in report.results if result.subject == subject]
    assert len(found) == 1, f"expected one result for {subject}, got {found}"
    return found[0]


def single_finding(report, subject: str) -> Finding:
    """The one finding of the result for `subject`, which must be a finding."""
    result = only_result(report, subject)
    assert result.outcome is Outcome.FINDING, result
    assert len(result.findings) == 1, result.findings
    return result.findings[0]


def assert_actionable(fix: Fix) -> None:
    """A fix says what to do: a summary, at least one exact command and a documentation page."""
    assert fix.summary
    assert fix.commands and all(command.strip() for command in fix.commands)
    assert fix.url.startswith("https://")


def outcomes(report) -> Dict[str, Outcome]:
    return {result.subject: result.outcome for result in report.results}


# --- golden files --------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="Rewrite tests/goldens/* from the current renderers instead of comparing with them.")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """True under `pytest --update-goldens`: golden tests write their files instead of comparing."""
    return bool(request.config.getoption("--update-goldens"))


# --- the software stack and Ollama (appended for issue 3) -----------------------------------------------

H200X2_STACK_ENVIRONMENT = {  # from ../shared/captures/h200x2/env.txt, the variables gpubal keeps
    "CUDA_VERSION": "13.0.2", "LD_LIBRARY_PATH": "/usr/local/nvidia/lib64:/usr/local/nvidia/lib",
    "NCCL_NVLS_ENABLE": "0", "PATH": "/opt/torch/.venv/bin:/usr/local/nvidia/bin:/usr/local/cuda/bin:/usr/bin",
}


def h200x2_stack():
    """The Stack collect_stack reads from roots/h200x2-stack (the 2x H200 host's CUDA, cuDNN, NCCL, torch)."""
    from gpubal.doctor.collect.stack import collect_stack
    return collect_stack(HostFiles(str(FIXTURES / "roots" / "h200x2-stack")), H200X2_STACK_ENVIRONMENT, (),
                         Known({}, "test"), Known("none", "test"))


@pytest.fixture(scope="session")
def h200x2_full_snapshot(h200x2_snapshot) -> Snapshot:
    """The 2x H200 snapshot with its real software stack."""
    return dataclasses.replace(h200x2_snapshot, stack=h200x2_stack())


def with_stack(snapshot: Snapshot, **changes: Any) -> Snapshot:
    return dataclasses.replace(snapshot, stack=dataclasses.replace(snapshot.stack, **changes))


def with_ollama(snapshot: Snapshot, **changes: Any) -> Snapshot:
    return dataclasses.replace(snapshot, ollama=dataclasses.replace(snapshot.ollama, **changes))


def ollama_running(snapshot: Snapshot, version: str = "0.12.6", **changes: Any) -> Snapshot:
    """The snapshot with an Ollama server that answered /api/version and /api/ps (no models loaded)."""
    facts = {"binary_path": known("/usr/local/bin/ollama"), "server_version": known(version),
             "running_models": known([]), "process_environment": known({})}
    return with_ollama(snapshot, **{**facts, **changes})


# --- synthetic hosts and balance series (gpubal topo, gpubal balance) ------------------------------------


def synthetic_snapshot(gpus: List[Dict[str, Any]], links: Dict[Any, Any], numa_nodes: Dict[int, str]) -> Snapshot:
    """A snapshot with only what placement reads: per GPU `uuid`, `name`, `memory` (bytes), `numa`, `cpus`;
    per pair (a, b) a (pcie_path, nvlink_count, nvlink_route) triple. Every other fact is not_in_input."""
    from gpubal.model import SCHEMA_VERSION, Driver, Gpu, GpuPair, Host, NumaNode, Ollama, Stack

    def blank(cls, **given):
        missing = Unavailable(Reason.NOT_IN_INPUT, "synthetic")
        values = {f.name: missing for f in dataclasses.fields(cls)}
        values.update(given)
        return cls(**values)

    gpu_parts = [blank(Gpu, index=i, uuid=known(g["uuid"]), name=known(g.get("name", "NVIDIA H100 80GB HBM3")),
                       memory_total_bytes=known(g.get("memory", 80 << 30)), numa_node=known(g.get("numa", 0)),
                       cpu_affinity=known(g.get("cpus", "0-31")), pci_bus_id=known(f"00000000:{i + 16:02X}:00.0"))
                 for i, g in enumerate(gpus)]
    pairs = []
    for a in range(len(gpus)):
        for b in range(a + 1, len(gpus)):
            path, count, route = links.get((a, b), ("SYS", 0, "none"))
            pairs.append(blank(GpuPair, gpu_a=a, gpu_b=b, pcie_path=known(path), nvlink_count=known(count),
                               nvlink_route=known(route)))
    host = blank(Host, numa_nodes=known([NumaNode(node, cpus) for node, cpus in sorted(numa_nodes.items())]))
    return Snapshot(schema_version=SCHEMA_VERSION, gpubal_version="test", collected_at="2026-01-01T00:00:00+00:00",
                    origin="synthetic", host=host, driver=blank(Driver), gpus=known(gpu_parts), pairs=known(pairs),
                    stack=blank(Stack), ollama=blank(Ollama))


def replay_balance(name: str, seconds: float = 10.0, interval_s: float = 0.2, **sampler_options: Any):
    """The Recording `gpubal balance` makes from tests/fixtures/balance/<name>.json (a replayed series)."""
    from gpubal.balance.sampler import Sampler, VirtualClock

    adapter = ReplayAdapter.from_file(str(FIXTURES / "balance" / f"{name}.json"))
    clock = VirtualClock()
    options = {"clock": clock, "sleep": clock.sleep, **sampler_options}
    sampler = Sampler(adapter, HostFiles(str(FIXTURES / "balance" / "root")),
                      lambda url, timeout: Unavailable(Reason.NOT_FOUND, url, "no server in tests"),
                      known("http://127.0.0.1:11434"), **options)
    return sampler.run(seconds, interval_s, source=f"nvml-profile:{name}.json")


# --- hostile strings (reports: they must show as text and never run) ------------------------------------

HOSTILE = '<script>alert(1)</script>'


@pytest.fixture(scope="session")
def hostile_snapshot(h200x2_snapshot) -> Snapshot:
    """The 2x H200 host with markup in every free-text fact a report shows: hostname, environment values,
    a loaded model's name (partly on the CPU, so a rule quotes it in a finding), and a secret that
    collection would have dropped (a snapshot written by hand may still carry one)."""
    from gpubal.model import OllamaModel

    snapshot = with_host(h200x2_snapshot, hostname=known(f'node"{HOSTILE}'),
                         os_release=known("Ubuntu <img src=x onerror=alert(2)> | `rm -rf` **bold**"))
    stack = dataclasses.replace(snapshot.stack, environment=known({
        "CUDA_VISIBLE_DEVICES": f"0,1{HOSTILE}", "NCCL_DEBUG": "</script><script>alert(3)</script>",
        "HF_TOKEN_FOR_TEST": "hf_SECRETVALUE123", "OLLAMA_API_KEY": "sk-SECRETVALUE456"}))
    ollama = dataclasses.replace(snapshot.ollama, server_version=known("0.5.7"), running_models=known([
        OllamaModel(name=f"llama3{HOSTILE}", size_bytes=50 * 2**30, size_vram_bytes=20 * 2**30)]),
        process_environment=known({"OLLAMA_HOST": "http://admin:hunter2@10.1.2.3:11434",
                                   "OLLAMA_AUTH_TOKEN": "SECRETVALUE789"}))
    return dataclasses.replace(snapshot, stack=stack, ollama=ollama)
