"""A GPU or driver that stops answering must not hang the doctor: past the NVML deadline the NVML facts
are reported as timed out, everything else is still collected, and `gpubal doctor` exits normally."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from gpubal.doctor.collect import collect_snapshot
from gpubal.doctor.model import Known, Reason, Unavailable
from gpubal.doctor.probes.files import HostFiles
from gpubal.doctor.probes.nvml import ReplayAdapter

FIXTURES = Path(__file__).parent / "fixtures"
PROFILE = json.loads((FIXTURES / "nvml" / "h200x1.json").read_text())


class HungNvml(ReplayAdapter):
    """The recorded H200, except that asking for GPU 0's memory blocks like a GPU that fell off the bus."""

    def device(self, index, query, arg=None):
        if query == "memory_info":
            time.sleep(30)
        return super().device(index, query, arg)


def test_a_hung_nvml_call_times_out_and_the_rest_is_still_reported():
    started = time.monotonic()
    snapshot = collect_snapshot(HungNvml(PROFILE, "h200x1"), HostFiles(str(FIXTURES / "roots" / "h200x1")),
                                nvml_deadline_s=0.5)
    assert time.monotonic() - started < 5
    assert isinstance(snapshot.gpus, Unavailable) and snapshot.gpus.reason is Reason.TIMEOUT
    assert "no answer within 0.5 s" in snapshot.gpus.detail
    assert isinstance(snapshot.driver.version, Unavailable) and snapshot.driver.version.reason is Reason.TIMEOUT
    assert snapshot.driver.kernel_module_version == Known("580.159.04", "/proc/driver/nvidia/version")
    assert isinstance(snapshot.host.cpu_model, Known)


def test_gpubal_doctor_exits_when_nvml_hangs():
    # a real process: the abandoned NVML thread must not keep it from exiting
    script = textwrap.dedent(f"""
        import json, sys, time
        import gpubal.doctor.collect as collect
        from gpubal.doctor.probes import nvml
        profile = json.load(open({str(FIXTURES / "nvml" / "h200x1.json")!r}))
        class Hung(nvml.ReplayAdapter):
            def device(self, index, query, arg=None):
                if query == "memory_info":
                    time.sleep(60)
                return super().device(index, query, arg)
        nvml.ReplayAdapter.from_file = classmethod(lambda cls, path: Hung(profile, path))
        collect.NVML_DEADLINE_S = 0.5
        collect.collect_snapshot.__defaults__ = collect.collect_snapshot.__defaults__[:-1] + (0.5,)
        sys.argv = ["gpubal", "doctor", "--nvml-profile", "x.json", "--root", {str(FIXTURES / "roots" / "h200x1")!r},
                    "--fail-on", "never"]
        from gpubal.cli import main
        main()
    """)
    started = time.monotonic()
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert time.monotonic() - started < 20
    assert process.returncode == 0, process.stderr
    assert "no answer within 0.5 s" in process.stdout
    assert "ERROR   nvml-unresponsive  host" in process.stdout
