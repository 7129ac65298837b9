"""Pass/fail cases for the rules that read Ollama's log: CUDA initialization failed, no GPU found (CPU only),
GPU memory held by other processes, several libcuda versions. The event lines are quoted from real logs
(the corpus under tests/fixtures/dumps/ollama-log holds them with their issue URLs)."""

from helpers import assert_actionable, known, ollama_running, only_result, single_finding, with_ollama

from gpubal.doctor.engine import evaluate
from gpubal.model import OllamaLogEvent, OllamaLogGpu, Outcome, Severity

from gpubal.rules.ollama_several_libcuda_versions import ollama_several_libcuda_versions as several_libcuda
from gpubal.rules.ollama_cuda_init_failed import ollama_cuda_init_failed as cuda_init_failed
from gpubal.rules.ollama_gpu_memory_in_use import ollama_gpu_memory_in_use as memory_in_use
from gpubal.rules.ollama_runs_on_cpu import ollama_runs_on_cpu as runs_on_cpu

INIT_802 = OllamaLogEvent("cuda_init_failed", "802", "cuInit err: 802")
NO_GPUS = OllamaLogEvent("no_compatible_gpus", "", 'time=2025-04-14T07:08:45.375Z level=INFO source=gpu.go:377 '
                         'msg="no compatible GPUs were discovered"')
H100 = OllamaLogGpu("GPU-cdf3c132-675f-077e-3bf7-99d79213d062", "CUDA", "NVIDIA H100 80GB HBM3", "9.0",
                    int(79.6 * 2**30), int(79.2 * 2**30))


def from_log(snapshot, **facts):
    return ollama_running(snapshot, log_source=known("ollama.log"), **facts)


def test_cuinit_802_names_fabric_manager(h200x2_snapshot):
    found = single_finding(evaluate(from_log(h200x2_snapshot, log_events=known([INIT_802])), [cuda_init_failed]), "host")
    assert found.severity is Severity.ERROR and found.evidence["error"] == "802"
    assert "Fabric Manager" in found.evidence["meaning"]
    assert "sudo systemctl enable --now nvidia-fabricmanager" in found.fix.commands
    assert_actionable(found.fix)


def test_a_log_without_failures_passes(h200x2_snapshot):
    report = evaluate(from_log(h200x2_snapshot, log_events=known([])), [cuda_init_failed, runs_on_cpu])
    assert all(result.outcome is Outcome.PASSED for result in report.results)


def test_no_log_leaves_the_log_rules_not_evaluated(h200x2_snapshot):
    report = evaluate(ollama_running(h200x2_snapshot), [cuda_init_failed, runs_on_cpu, memory_in_use, several_libcuda])
    assert {result.outcome for result in report.results} == {Outcome.NOT_EVALUATED}


def test_no_compatible_gpus_is_cpu_only(h200x2_snapshot):
    found = single_finding(evaluate(from_log(h200x2_snapshot, log_events=known([NO_GPUS])), [runs_on_cpu]), "host")
    assert found.severity is Severity.ERROR and found.evidence["ollama.log_events"] == [NO_GPUS.line]
    assert_actionable(found.fix)


def test_cpu_fallback_at_one_start_is_not_reported_when_a_later_start_lists_gpus(h200x2_snapshot):
    snapshot = from_log(h200x2_snapshot, log_events=known([NO_GPUS]), log_gpus=known([H100]))
    assert only_result(evaluate(snapshot, [runs_on_cpu]), "host").outcome is Outcome.PASSED


def test_memory_held_by_others_at_start_is_a_warning(h200x2_snapshot):
    # the RTX A2000 12GB of ollama/ollama#8532: 11.6 GiB total, 8.0 GiB free when Ollama looked
    busy = OllamaLogGpu("GPU-d1756887-9770-5b36-7763-1b6bc048de4d", "cuda", "NVIDIA RTX A2000 12GB", "8.6",
                        int(11.6 * 2**30), int(8.0 * 2**30))
    found = single_finding(evaluate(from_log(h200x2_snapshot, log_gpus=known([busy])), [memory_in_use]), "host")
    assert found.severity is Severity.WARNING
    assert found.evidence == {"gpu": busy.gpu_id, "name": "NVIDIA RTX A2000 12GB", "total": "11.6 GiB",
                              "available": "8.0 GiB"}
    assert_actionable(found.fix)


def test_a_gpu_nearly_free_at_start_passes(h200x2_snapshot):
    assert only_result(evaluate(from_log(h200x2_snapshot, log_gpus=known([H100])), [memory_in_use]),
                       "host").outcome is Outcome.PASSED


def test_two_libcuda_versions_on_the_path(h200x2_snapshot):
    # ollama/ollama#9031: libcuda.so.570.86.15 beside libcuda.so.570.86.16, then cuInit err: 802
    paths = ["/usr/lib/x86_64-linux-gnu/libcuda.so.570.86.15", "/usr/lib/x86_64-linux-gnu/libcuda.so.570.86.16"]
    found = single_finding(evaluate(from_log(h200x2_snapshot, log_cuda_libraries=known(paths)), [several_libcuda]), "host")
    assert found.evidence["driver versions"] == ["570.86.15", "570.86.16"]
    assert_actionable(found.fix)


def test_one_libcuda_version_passes(h200x2_snapshot):
    paths = ["/usr/lib/x86_64-linux-gnu/libcuda.so.470.239.06"]
    assert only_result(evaluate(from_log(h200x2_snapshot, log_cuda_libraries=known(paths)), [several_libcuda]),
                       "host").outcome is Outcome.PASSED


def test_a_failed_cuinit_without_gpus_is_cpu_only(h200x2_snapshot):
    found = single_finding(evaluate(from_log(h200x2_snapshot, log_events=known([INIT_802])), [runs_on_cpu]), "host")
    assert found.evidence["ollama.log_events"] == ["cuInit err: 802"]
