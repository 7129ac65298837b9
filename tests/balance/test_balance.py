"""`gpubal balance`: replayed sample series (tests/fixtures/balance/, made by make_balance_series.py)
through the real sampler and analysis: the statistics, the diagnoses and their fixes, Ctrl-C, the
recording of a series, the NVML readers behind the new queries, and every output format."""

from __future__ import annotations

import json
import types

import pytest
from typer.testing import CliRunner

from helpers import replay_balance
from gpubal.balance import sampler as sampler_module
from gpubal.balance.analysis import analyze
from gpubal.balance.sampler import Sampler, VirtualClock
from gpubal.cli import app
from gpubal.model import Known, Reason, Severity, Unavailable
from gpubal.doctor.probes.files import HostFiles
from gpubal.doctor.probes.nvml import PynvmlAdapter, RecordingAdapter, ReplayAdapter
from gpubal.reports.balance import (render_balance_html, render_balance_json, render_balance_markdown,
                                    render_balance_prometheus)
from helpers.paths import FIXTURES

try:
    RUNNER = CliRunner(mix_stderr=False)
except TypeError:
    RUNNER = CliRunner()


def report_of(name, **options):
    return analyze(replay_balance(name, **options))


def ids(report):
    return [finding.rule_id for finding in report.diagnoses]


def balance_args(name):
    return ["balance", "--nvml-profile", str(FIXTURES / "balance" / f"{name}.json"),
            "--root", str(FIXTURES / "balance" / "root")]


# --- statistics --------------------------------------------------------------------------------------------


def test_one_busy_gpu_is_about_fifty_points_of_imbalance():
    report = report_of("one-busy")
    assert report.sample_count == 50 and not report.interrupted
    means = [gpu.utilization_mean_percent.value for gpu in report.gpus]
    assert means == [pytest.approx(98.5), 0.0]
    assert report.imbalance.stddev_points.value == pytest.approx(49.25)
    assert report.imbalance.max_over_mean.value == pytest.approx(2.0)
    assert report.imbalance.idle_gpus == (1,) and report.imbalance.busy_gpus == (0,)
    assert report.gpus[0].utilization_peak_percent.value == 100
    assert report.gpus[0].power_mean_watts.value == pytest.approx(661.6)


def test_both_busy_is_balanced_and_concurrent():
    report = report_of("both-busy")
    assert report.imbalance.stddev_points.value < 1.0
    assert report.imbalance.idle_gpus == ()
    assert report.imbalance.concurrency.value == pytest.approx(1.96)
    assert report.imbalance.overlap_share.value == 1.0
    assert report.diagnoses == ()


def test_alternating_gpus_are_balanced_but_never_busy_together():
    report = report_of("alternating")
    assert report.imbalance.stddev_points.value == 0.0
    assert report.imbalance.concurrency.value == pytest.approx(1.0)
    assert report.imbalance.overlap_share.value == 0.0
    assert [gpu.busy_sample_share.value for gpu in report.gpus] == [0.5, 0.5]
    assert report.utilization_series[0][:4] == (99, 1, 99, 1)
    assert report.utilization_series[1][:4] == (1, 99, 1, 99)


def test_counters_become_rates():
    report = report_of("alternating")
    gpu = report.gpus[0]
    assert gpu.nvlink_tx_bytes_per_s.value == pytest.approx(400_000 * 1024 / 0.2)
    assert gpu.pcie_rx_bytes_per_s.value == pytest.approx(4_000_000 / 0.2)


def test_processes_are_named_from_proc_with_their_memory():
    report = report_of("one-busy")
    (process,) = report.processes
    assert (process.gpu, process.pid, process.name.value, process.ollama) == (0, 4242, "ollama", True)
    assert process.memory_peak_bytes.value == 20 * 2**30 - 600 * 2**20
    assert process.sample_share == 1.0
    assert process.cuda_visible_devices.reason is Reason.NOT_FOUND  # not set: every GPU visible


def test_a_profile_without_samples_reports_why_utilization_is_unknown():
    adapter = ReplayAdapter.from_file(str(FIXTURES / "nvml" / "h200x1.json"))
    clock = VirtualClock()
    recording = Sampler(adapter, HostFiles(str(FIXTURES / "roots" / "h200x1")), lambda u, t: None,
                        Known("http://127.0.0.1:11434", "test"), clock=clock, sleep=clock.sleep).run(1.0, 0.2)
    report = analyze(recording)
    assert report.sample_count == 5
    assert isinstance(report.imbalance.stddev_points, Unavailable)
    assert report.gpus[0].memory_used_peak_bytes.value > 0  # memory_info was recorded
    assert report.diagnoses == ()


# --- diagnoses ---------------------------------------------------------------------------------------------


def test_one_busy_ollama_gets_spread_and_per_gpu_server_advice():
    report = report_of("one-busy")
    assert ids(report) == ["balance-one-gpu-busy"]
    finding = report.diagnoses[0]
    assert finding.severity is Severity.WARNING and finding.subject == "gpu:0"
    assert finding.evidence["gpu:1.utilization_mean_percent"] == 0.0
    assert finding.evidence["pid:4242.name"] == "ollama"
    assert "OLLAMA_SCHED_SPREAD=1" in finding.fix.summary
    assert "gpubal topo --group-size 1" in finding.fix.commands
    assert finding.fix.url.startswith("https://")


def test_one_busy_because_cuda_visible_devices_names_one_gpu():
    report = report_of("restricted")
    (finding,) = report.diagnoses
    assert finding.rule_id == "balance-one-gpu-busy"
    assert "CUDA_VISIBLE_DEVICES=GPU-07f4a309-9680-b6ff-3e0f-c7623199c4cc" in finding.message
    assert "it can see one GPU only" in finding.message
    assert "grep -z CUDA_VISIBLE_DEVICES /proc/5151/environ" in finding.fix.commands


@pytest.mark.parametrize("name", ["alternating", "fine-turns"])
def test_layer_split_taking_turns_is_found_in_both_shapes(name):
    report = report_of(name)
    assert ids(report) == ["balance-layer-split-takes-turns"]
    finding = report.diagnoses[0]
    assert finding.severity is Severity.INFO and finding.subject == "gpu:0-gpu:1"
    assert finding.evidence["processes_on_every_gpu"] == [4444]
    assert finding.evidence["expected_share_per_gpu_percent"] == 50.0
    assert "expected for Ollama and llama.cpp" in finding.message
    assert "vllm serve MODEL --tensor-parallel-size 2" in finding.fix.commands
    assert "llama-server -m MODEL.gguf --split-mode row" in finding.fix.commands


def test_throttling_and_memory_imbalance():
    report = report_of("throttled")
    assert ids(report) == ["balance-gpu-throttled", "balance-memory-imbalance"]
    throttled, memory = report.diagnoses
    assert throttled.subject == "gpu:1" and throttled.severity is Severity.WARNING
    assert throttled.evidence["clock_event_share.hw_thermal_slowdown"] == 0.4
    assert throttled.fix.commands == ("nvidia-smi -i 1 -q -d PERFORMANCE,TEMPERATURE,POWER",)
    assert memory.subject == "gpu:0-gpu:1" and memory.severity is Severity.WARNING
    assert memory.evidence["gpu:0.memory_used_peak_share"] > 0.9


# --- Ctrl-C, replay length, recording ----------------------------------------------------------------------


def test_ctrl_c_ends_sampling_early_and_still_reports():
    clock = VirtualClock()
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 7:
            raise KeyboardInterrupt
        clock.sleep(seconds)

    recording = replay_balance("one-busy", clock=clock, sleep=sleep)
    assert recording.interrupted and len(recording.samples) == 7
    report = analyze(recording)
    assert report.interrupted and report.sample_count == 7
    assert ids(report) == ["balance-one-gpu-busy"]


def test_ctrl_c_inside_a_sample_drops_only_that_sample():
    adapter = ReplayAdapter.from_file(str(FIXTURES / "balance" / "both-busy.json"))
    asked = {"n": 0}
    real_device = adapter.device

    def device(index, query, arg=None):
        if query == "utilization_rates":
            asked["n"] += 1
            if asked["n"] == 9:  # GPU 0 of the fifth sample
                raise KeyboardInterrupt
        return real_device(index, query, arg)

    adapter.device = device
    clock = VirtualClock()
    recording = Sampler(adapter, HostFiles(str(FIXTURES / "balance" / "root")), lambda u, t: None,
                        Known("http://x", "test"), clock=clock, sleep=clock.sleep).run(10, 0.2)
    assert recording.interrupted and len(recording.samples) == 4


def test_cli_ctrl_c_prints_the_report_and_says_so(monkeypatch):
    calls = {"n": 0}
    real_sleep = VirtualClock.sleep

    def sleep(self, seconds):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real_sleep(self, seconds)

    monkeypatch.setattr(sampler_module.VirtualClock, "sleep", sleep)
    result = RUNNER.invoke(app, balance_args("one-busy") + ["--format", "json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["interrupted"] is True and document["sample_count"] == 3


def test_replay_stops_when_its_samples_run_out():
    recording = replay_balance("one-busy", seconds=100)
    assert len(recording.samples) == 50


def test_a_recorded_series_replays_to_the_same_report(tmp_path):
    recorder = RecordingAdapter(ReplayAdapter.from_file(str(FIXTURES / "balance" / "alternating.json")))
    recorder.sample_interval_s = 0.2
    clock = VirtualClock()
    files = HostFiles(str(FIXTURES / "balance" / "root"))
    original = analyze(Sampler(recorder, files, lambda u, t: None, Known("http://x", "test"),
                               clock=clock, sleep=clock.sleep).run(10, 0.2))
    profile = recorder.profile("re-recorded")
    assert len(profile["samples"]) == 50 and profile["sample_interval_s"] == 0.2
    assert "utilization_rates" in profile["samples"][0][0] and "memory_info" in profile["samples"][0][0]
    assert "utilization_rates" not in profile["devices"][0]  # time-varying answers live in samples only
    clock = VirtualClock()
    replayed = analyze(Sampler(ReplayAdapter(json.loads(json.dumps(profile))), files, lambda u, t: None,
                               Known("http://x", "test"), clock=clock, sleep=clock.sleep).run(10, 0.2))
    assert replayed.imbalance == original.imbalance
    assert replayed.utilization_series == original.utilization_series
    assert ids(replayed) == ids(original)


# --- the NVML readers behind the sample queries ---------------------------------------------------------


def _fake_nvml(**functions):
    import pynvml

    return types.SimpleNamespace(NVMLError=pynvml.NVMLError, **functions)


def _field(field_id, scope, value, ret=0):
    return types.SimpleNamespace(fieldId=field_id, scopeId=scope, nvmlReturn=ret, valueType=3,
                                 value=types.SimpleNamespace(ullVal=value))


def test_throughput_counters_are_one_field_values_call_summed_over_links():
    calls = []

    def field_values(handle, fields):
        calls.append(fields)
        return [_field(197, 0, 1000), _field(198, 0, 2000), _field(138, 0, 10), _field(138, 1, 5),
                _field(139, 0, 7), _field(139, 2, 99, ret=3)]  # a link NVML does not support: left out

    adapter = PynvmlAdapter()
    adapter._nvml = _fake_nvml(nvmlDeviceGetHandleByIndex=lambda index: "h", nvmlDeviceGetFieldValues=field_values)
    answer = adapter.device(0, "throughput_counters")
    assert answer == {"pcie_tx_bytes": 1000, "pcie_rx_bytes": 2000, "nvlink_tx_kib": 15, "nvlink_rx_kib": 7}
    assert calls == [[(197, 0), (198, 0), (138, 0xFFFFFFFF), (139, 0xFFFFFFFF)]]  # NVLink summed by NVML


def test_throughput_counters_none_supported_is_not_supported():
    adapter = PynvmlAdapter()
    adapter._nvml = _fake_nvml(nvmlDeviceGetHandleByIndex=lambda index: "h",
                               nvmlDeviceGetFieldValues=lambda h, f: [_field(197, 0, 0, ret=3)])
    assert adapter.device(0, "throughput_counters").reason is Reason.NOT_SUPPORTED


def test_compute_processes_fall_back_and_keep_unknown_memory_out():
    import pynvml

    def missing(*_args):
        raise pynvml.NVMLError(13)

    processes = [types.SimpleNamespace(pid=7, usedGpuMemory=1 << 30), types.SimpleNamespace(pid=8, usedGpuMemory=None)]
    adapter = PynvmlAdapter()
    adapter._nvml = _fake_nvml(nvmlDeviceGetHandleByIndex=lambda index: "h",
                               nvmlDeviceGetComputeRunningProcesses_v3=missing,
                               nvmlDeviceGetComputeRunningProcesses_v2=lambda h: processes)
    assert adapter.device(0, "compute_processes") == [{"pid": 7, "used_bytes": 1 << 30}, {"pid": 8}]


def test_utilization_power_and_clock_readers():
    adapter = PynvmlAdapter()
    adapter._nvml = _fake_nvml(
        nvmlDeviceGetHandleByIndex=lambda index: "h",
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=87, memory=40),
        nvmlDeviceGetPowerUsage=lambda h: 512345,
        nvmlDeviceGetClockInfo=lambda h, clock_type: {1: 1980}[clock_type])
    assert adapter.device(0, "utilization_rates") == {"gpu": 87, "memory": 40}
    assert adapter.device(0, "power_usage") == 512345
    assert adapter.device(0, "clock_info", 1) == 1980


# --- formats, Prometheus, exit codes -----------------------------------------------------------------------


def test_json_report_carries_statistics_and_diagnoses():
    document = json.loads(render_balance_json(report_of("one-busy")))
    assert document["kind"] == "balance"
    assert document["imbalance"]["stddev_points"] == pytest.approx(49.25)
    assert document["imbalance"]["idle_gpus"] == [1]
    assert document["gpus"][0]["uuid"] == "GPU-07f4a309-9680-b6ff-3e0f-c7623199c4cc"
    assert document["diagnoses"][0]["rule_id"] == "balance-one-gpu-busy"
    assert document["processes"][0]["name"] == "ollama"
    assert document["sampler_cpu_share_of_one_core"] < 0.01


def test_markdown_and_html_reports():
    report = report_of("alternating")
    markdown = render_balance_markdown(report)
    assert "| GPU | util mean % |" in markdown and "`balance-layer-split-takes-turns`" in markdown
    assert "```sh\ngpubal topo --group-size 1" in markdown
    page = render_balance_html(report)
    assert page.startswith("<!DOCTYPE html>") and "balance-layer-split-takes-turns" in page
    assert "<script" not in page and 'src="http' not in page  # one self-contained file


def test_prometheus_textfile_has_per_gpu_gauges_and_the_imbalance():
    text = render_balance_prometheus(report_of("one-busy"))
    lines = text.splitlines()
    assert "# TYPE gpubal_gpu_utilization_mean_ratio gauge" in lines
    assert 'gpubal_gpu_utilization_mean_ratio{gpu="0",uuid="GPU-07f4a309-9680-b6ff-3e0f-c7623199c4cc"} 0.985' in lines
    assert "gpubal_gpu_imbalance_stddev_ratio 0.4925" in lines
    assert 'gpubal_gpu_idle{gpu="1",uuid="GPU-ef0d3f05-6806-164c-47f3-28be3d1fcbc3"} 1' in lines
    assert 'gpubal_balance_diagnoses{id="balance-one-gpu-busy"} 1' in lines
    assert text.endswith("\n")


def test_cli_writes_prometheus_file_and_fails_above_max_imbalance(tmp_path):
    prom = tmp_path / "gpubal.prom"
    result = RUNNER.invoke(app, balance_args("one-busy") + ["--prometheus", str(prom), "--max-imbalance", "20"])
    assert result.exit_code == 1, result.stderr
    assert "gpubal_gpu_imbalance_stddev_ratio 0.4925" in prom.read_text()
    assert "balance-one-gpu-busy" in result.stdout
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_passes_below_max_imbalance():
    result = RUNNER.invoke(app, balance_args("both-busy") + ["--max-imbalance", "20", "--format", "markdown"])
    assert result.exit_code == 0, result.stderr
    assert "No balance problem found." in result.stdout


def test_cli_unknown_imbalance_cannot_pass_a_policy():
    result = RUNNER.invoke(app, ["balance", "--nvml-profile", str(FIXTURES / "nvml" / "h200x1.json"),
                                 "--root", str(FIXTURES / "roots" / "h200x1"), "--seconds", "1",
                                 "--max-imbalance", "20"])
    assert result.exit_code == 1
    assert "could not be measured" in result.stderr


def test_cli_html_output_file(tmp_path):
    page = tmp_path / "balance.html"
    result = RUNNER.invoke(app, balance_args("throttled") + ["--format", "html", "-o", str(page)])
    assert result.exit_code == 0, result.stderr
    assert "balance-gpu-throttled" in page.read_text()


def test_cli_rejects_a_non_positive_interval():
    result = RUNNER.invoke(app, balance_args("one-busy") + ["--interval", "0"])
    assert result.exit_code == 2 and "must be positive" in result.stderr


def test_cli_without_nvml_says_nothing_was_sampled_and_exits_1(tmp_path):
    profile = tmp_path / "no-driver.json"
    profile.write_text(json.dumps({"format": "gpubal-nvml-profile", "version": 1, "init": {
        "error": "not_found", "source": "nvmlInit", "detail": "NVML Shared Library Not Found"}}))
    result = RUNNER.invoke(app, ["balance", "--nvml-profile", str(profile), "--format", "markdown"])
    assert result.exit_code == 1
    assert "Nothing was sampled." in result.stdout
    assert "NVML did not start" in result.stderr


def test_balance_series_are_committed_as_generated():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_balance_series", FIXTURES / "make_balance_series.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in module.NAMES:
        recorded = json.loads((FIXTURES / "balance" / f"{name}.json").read_text())
        assert recorded["samples"] == module.series(name), name


# --- real recordings from the lent 1x H200 (gpubal debug record-balance, 2026-11-29) ---------------------


def test_the_real_h200_under_matrix_products_is_fully_busy_at_its_power_limit():
    report = analyze(replay_balance("h200x1-matmul", seconds=5))
    (gpu,) = report.gpus
    assert gpu.utilization_mean_percent.value == 100.0
    assert report.imbalance.stddev_points.value == 0.0  # one GPU: nothing to be uneven with
    throttled = [f for f in report.diagnoses if f.rule_id == "balance-gpu-throttled"]
    assert throttled and throttled[0].severity is Severity.INFO
    assert throttled[0].evidence["power_mean_watts"] > 650  # the H200's limit is 700 W


def test_the_real_idle_h200_is_idle_and_raises_no_warning():
    report = analyze(replay_balance("h200x1-idle", seconds=3))
    (gpu,) = report.gpus
    assert gpu.utilization_mean_percent.value == 0.0
    assert [f.rule_id for f in report.diagnoses if f.severity is not Severity.INFO] == []


def test_costly_counters_are_read_once_a_second_and_on_the_last_sample():
    """On an NVSwitch host each counter read costs ~1.3 ms of CPU per GPU: not at every 200 ms sample."""
    asked = []

    class Counting(ReplayAdapter):
        def device(self, index, query, arg=None):
            if query == "throughput_counters":
                asked.append(self.sample_cursor)
            return super().device(index, query, arg)

    adapter = Counting(json.loads((FIXTURES / "balance" / "one-busy.json").read_text()), "one-busy")
    clock = VirtualClock()
    recording = Sampler(adapter, HostFiles(str(FIXTURES / "balance" / "root")), lambda u, t: None,
                        Known("http://127.0.0.1:11434", "test"), clock=clock, sleep=clock.sleep).run(2.4, 0.2)
    per_gpu = sorted(set(asked))
    assert per_gpu == [0, 5, 10, 11] and len(recording.samples) == 12  # t = 0, 1.0, 2.0 s and the last
    readings = [sample.gpus[0].nvlink_tx_bytes_total for sample in recording.samples]
    assert readings[1].reason is Reason.NOT_ASKED
    report = analyze(recording)
    assert isinstance(report.gpus[0].pcie_tx_bytes_per_s, Known)  # the rate still spans the whole run


def test_the_first_samples_one_off_cost_is_reported_apart_from_the_running_cost():
    ticks = iter([0.0, 0.010] + [0.010 + 0.001 * n for n in range(1, 40)])  # 10 ms once, then 1 ms a sample

    def cpu_clock():
        return next(ticks)

    clock = VirtualClock()
    adapter = ReplayAdapter(json.loads((FIXTURES / "balance" / "one-busy.json").read_text()), "one-busy")
    recording = Sampler(adapter, HostFiles(str(FIXTURES / "balance" / "root")), lambda u, t: None,
                        Known("http://127.0.0.1:11434", "test"), clock=clock, sleep=clock.sleep,
                        cpu_clock=cpu_clock).run(1.0, 0.2)
    report = analyze(recording)
    assert report.sampler_cpu_ms_first_sample == 10.0
    assert report.sampler_cpu_ms_per_sample == pytest.approx(1.0)
    assert report.sampler_cpu_share_of_one_core == pytest.approx(0.005)


def test_under_a_deadline_a_sample_of_every_gpu_is_one_hand_off_to_the_nvml_worker():
    """Each hand-off to the deadline's worker thread costs CPU (~80 us on a 2 x H200 host): one a sample."""
    from gpubal.doctor.probes.deadline import DeadlineAdapter

    adapter = DeadlineAdapter(ReplayAdapter(json.loads((FIXTURES / "balance" / "one-busy.json").read_text()),
                                            "one-busy"))
    handed = []

    class CountingQueue:
        def __init__(self, inner):
            self.inner = inner

        def put(self, request):
            handed.append(request)
            self.inner.put(request)

        def get(self):
            return self.inner.get()

    adapter._requests = CountingQueue(adapter._requests)
    clock = VirtualClock()
    recording = Sampler(adapter, HostFiles(str(FIXTURES / "balance" / "root")), lambda u, t: None,
                        Known("http://127.0.0.1:11434", "test"), clock=clock, sleep=clock.sleep).run(2.0, 0.2)
    samples = len(recording.samples)
    assert samples == 10 and len(recording.gpus) == 2
    setup = 1 + 1 + 3 * len(recording.gpus) + 1 + 1  # start, device count, 3 per GPU, stop, the worker's end
    assert len(handed) == setup + samples
    assert all(isinstance(reading.utilization_percent, Known) for s in recording.samples for reading in s.gpus)
