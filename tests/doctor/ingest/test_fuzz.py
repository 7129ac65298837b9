"""Every parser, fed arbitrary text, returns its result type and never raises; the budget is small so
the suite stays fast (bench/fuzz_ingest.py runs the long version)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpubal.doctor.ingest.build import DumpFacts, build_snapshot
from gpubal.doctor.ingest.common import parse_lines
from gpubal.doctor.ingest.registry import FORMATS, detect

# words the parsers look for, so random text reaches their deeper branches
VOCABULARY = ["GPU0", "GPU1", "NIC0", "X", "NV4", "SYS", "PHB", "OK", "CNS", "CPU Affinity", "NUMA Affinity",
              "Legend:", "|", "MiB", "NVIDIA-SMI 580.1", "Driver Version:", "CUDA Version:", "Link 0:",
              "<inactive>", "(UUID: GPU-1)", "GPU 0:", "MIG 1g.10gb", "Device  0:", "<nvidia_smi_log>",
              "<gpu>", "</gpu>", "<!DOCTYPE", "<!ENTITY", "Attached GPUs", ":", "    ", "\t",
              'msg="inference compute"', "msg=offload", "layers.model=3", "layers.split=1,2", "server config",
              'env="map[', "]\"", "load_tensors:", "offloaded 1/2 layers to GPU", "model buffer size =",
              "PyTorch version:", "GPU models and configuration:", "NVRM version: NVIDIA", "\x1b[4m", "0-31,64-95",
              "N/A", "\n", "Fabric", "State", "Completed"]
TEXT = st.lists(st.one_of(st.sampled_from(VOCABULARY), st.text(max_size=12)), max_size=60).map(" ".join)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(TEXT)
def test_no_parser_raises_and_types_hold(text):
    lines = text.splitlines(keepends=True)
    for fmt in FORMATS:
        result = parse_lines(fmt.parser(), lines)
        assert isinstance(result.found, bool)
        assert all(isinstance(problem, str) for problem in result.problems)
        observations = list(result.observations())
        for path, _, section in observations:
            assert isinstance(path, tuple) and isinstance(section, str)
        build_snapshot([DumpFacts("fuzz.txt", observations, [fmt.name])])


@FUZZ
@given(st.text(max_size=400))
def test_detection_never_raises(text):
    assert isinstance(detect(text), list)
