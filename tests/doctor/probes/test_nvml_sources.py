"""One table names the NVML function behind each device query: the probe's. A fact collected from an
answer cites it, and so does the reason the probe gives when NVML says no, so a fact names the same
function whether or not the GPU answered."""

import ast
from pathlib import Path

import pytest

from gpubal.doctor.probes import nvml
from gpubal.model import Unavailable

# queries whose reader asks another function first, before the one its facts cite
ASKS_FIRST = {
    "mig_devices": "nvmlDeviceGetMaxMigDeviceCount",  # the slot count, then each slot's handle
}
NEEDS_ARGUMENT = {"nvlink_state", "nvlink_version", "nvlink_remote_pci", "nvlink_remote_device_type",
                  "clock_info", "pcie_throughput"}


class _EveryCallNotSupported:
    """A pynvml whose every function answers NVML_ERROR_NOT_SUPPORTED and whose structures exist."""

    def __init__(self):
        import pynvml

        self.NVMLError = pynvml.NVMLError
        self.c_nvmlGpuFabricInfoV_t = self.c_nvmlGpuFabricInfo_t = type("Struct", (), {})
        self.byref = lambda value: value

    def __getattr__(self, name):
        if name == "nvmlDeviceGetHandleByIndex":
            return lambda index: f"handle{index}"

        def not_supported(*_args):
            raise self.NVMLError(3)

        return not_supported


@pytest.mark.parametrize("query", sorted(nvml.DEVICE_QUERY_SOURCES))
def test_a_refused_query_cites_the_function_its_facts_cite(query):
    adapter = nvml.PynvmlAdapter()
    adapter._nvml = _EveryCallNotSupported()
    answer = adapter.device(0, query, 0 if query in NEEDS_ARGUMENT else None)
    assert isinstance(answer, Unavailable), answer
    assert answer.source == ASKS_FIRST.get(query, nvml.DEVICE_QUERY_SOURCES[query])


def test_every_device_query_has_a_source():
    assert set(nvml.DEVICE_QUERY_SOURCES) == set(nvml._DEVICE_QUERIES)
    assert all(source.startswith("nvmlDevice") for source in nvml.DEVICE_QUERY_SOURCES.values())


def _string_constants(path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_collectors_cite_the_table_instead_of_writing_the_names_again():
    # the modules that turn device-query answers into facts (the doctor's collection, balance's sampler)
    package = Path(nvml.__file__).parents[2]
    collectors = sorted((package / "doctor" / "collect").glob("*.py")) + [package / "balance" / "sampler.py"]
    names = set(nvml.DEVICE_QUERY_SOURCES.values())
    written = [f"{path.relative_to(package)}:{line}: {value}"
               for path in collectors for line, value in _string_constants(path) if value in names]
    assert written == [], "use DEVICE_QUERY_SOURCES[query]:\n" + "\n".join(written)
