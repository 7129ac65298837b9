"""A GPU or driver that stops answering must not hang the doctor: past the NVML deadline the NVML facts
are reported as timed out, everything else is still collected, and `gpubal doctor` exits normally."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

from gpubal.doctor.collect import collect_snapshot
from gpubal.model import Known, Reason, Unavailable
from gpubal.doctor.probes.files import HostFiles
from gpubal.doctor.probes.nvml import ReplayAdapter
from helpers.paths import FIXTURES, TESTS

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
    assert isinstance(snapshot.driver.nvml_status, Unavailable) and snapshot.driver.nvml_status.reason is Reason.TIMEOUT
    assert "no answer within 0.5 s" in snapshot.driver.nvml_status.detail
    [gpu] = snapshot.gpus.value  # the GPU is there, every fact of it timed out
    assert isinstance(gpu.name, Unavailable) and gpu.name.reason is Reason.TIMEOUT
    assert isinstance(snapshot.pairs, Unavailable) and snapshot.pairs.reason is Reason.TIMEOUT
    # read before the hang, so kept
    assert snapshot.driver.version == Known("580.159.04", "nvmlSystemGetDriverVersion")
    assert snapshot.driver.kernel_module_version == Known("580.159.04", "/proc/driver/nvidia/version")
    assert isinstance(snapshot.host.cpu_model, Known)


class OneHungGpu(ReplayAdapter):
    """Two H200s; GPU 1 stops answering once asked for its memory."""

    def device(self, index, query, arg=None):
        if index == 1 and query == "memory_info":
            time.sleep(30)
        return super().device(index, query, arg)


def test_one_hung_gpu_does_not_throw_away_the_other_gpus_facts():
    profile = json.loads((FIXTURES / "nvml" / "h200x2.json").read_text())
    snapshot = collect_snapshot(OneHungGpu(profile, "h200x2"), HostFiles(str(FIXTURES / "roots" / "h200x2")),
                                nvml_deadline_s=0.5)
    gpu0, gpu1 = snapshot.gpus.value
    assert isinstance(gpu0.memory_total_bytes, Known)
    assert isinstance(gpu0.nvlinks, Unavailable) and "not cross-checked" in gpu0.nvlinks.detail
    assert isinstance(gpu1.memory_total_bytes, Unavailable) and gpu1.memory_total_bytes.reason is Reason.TIMEOUT
    assert isinstance(snapshot.pairs, Unavailable) and snapshot.pairs.reason is Reason.TIMEOUT


class HungShutdown(ReplayAdapter):
    def stop(self):
        time.sleep(30)


def test_a_hung_nvml_shutdown_keeps_every_fact():
    started = time.monotonic()
    snapshot = collect_snapshot(HungShutdown(PROFILE, "h200x1"), HostFiles(str(FIXTURES / "roots" / "h200x1")),
                                nvml_deadline_s=0.5)
    assert time.monotonic() - started < 5
    assert snapshot.driver.nvml_status == Known("ok", "nvmlInit")
    assert isinstance(snapshot.gpus.value[0].memory_total_bytes, Known)


class HungDriverFile(HostFiles):
    """/proc/driver/nvidia/version blocks on read, as it does when the driver is wedged."""

    def read_text(self, path, limit_bytes=1 << 20):
        if path == "/proc/driver/nvidia/version":
            time.sleep(30)
        return super().read_text(path, limit_bytes)


def test_a_blocking_driver_file_is_not_read_again_after_the_deadline():
    started = time.monotonic()
    snapshot = collect_snapshot(ReplayAdapter(PROFILE, "h200x1"), HungDriverFile(str(FIXTURES / "roots" / "h200x1")),
                                nvml_deadline_s=0.5)
    assert time.monotonic() - started < 5
    assert isinstance(snapshot.driver.kernel_module_version, Unavailable)
    assert snapshot.driver.kernel_module_version.reason is Reason.TIMEOUT


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
        code, defaults = collect.collect_snapshot.__code__, list(collect.collect_snapshot.__defaults__)
        names = code.co_varnames[:code.co_argcount]
        defaults[names.index("nvml_deadline_s") - (len(names) - len(defaults))] = 0.5
        collect.collect_snapshot.__defaults__ = tuple(defaults)
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


def test_a_fifo_in_place_of_a_host_file_is_not_read(tmp_path):
    import os
    import shutil
    import threading

    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "roots" / "h200x1", root, symlinks=True)
    for name in ("proc/driver/nvidia/version", "proc/cpuinfo", "proc/meminfo", "proc/modules", "etc/os-release",
                 "proc/1/comm", "proc/1/environ"):
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            target.unlink()
        os.mkfifo(target)
    done = {}
    worker = threading.Thread(target=lambda: done.setdefault("snapshot", collect_snapshot(
        ReplayAdapter(PROFILE, "h200x1"), HostFiles(str(root)), nvml_deadline_s=5)), daemon=True)
    worker.start()
    worker.join(10)  # before: open() waited for a writer that never comes
    assert "snapshot" in done, "the collection blocked on a FIFO"
    module = done["snapshot"].driver.kernel_module_version
    assert isinstance(module, Unavailable) and "not a regular file" in module.detail
    assert isinstance(done["snapshot"].gpus, Known)


def test_gpubal_balance_ends_when_an_nvml_call_hangs():
    # the live path (no --nvml-profile), over a fake library whose utilization call never returns
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import nvml_fault_injection as nvml_faults
        from gpubal.doctor.probes import deadline
        deadline.DeadlineAdapter.__init__.__defaults__ = (0.5,)
        fake = nvml_faults.FakePynvml(nvml_faults.load_profile("both-busy"),
                                      nvml_faults.Fault("nvmlDeviceGetUtilizationRates", 1, "hang"))
        sys.modules["pynvml"] = fake
        sys.argv = ["gpubal", "balance", "--seconds", "2", "--interval", "100", "--format", "json",
                    "--root", {str(FIXTURES / "balance" / "root")!r}]
        from gpubal.cli import main
        main()
    """)
    started = time.monotonic()
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 20
    assert process.returncode in (0, 1), process.stderr
    report = json.loads(process.stdout)
    assert "no answer within 0.5 s" in process.stdout
    assert report
