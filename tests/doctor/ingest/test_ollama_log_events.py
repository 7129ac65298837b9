"""Error signatures in Ollama logs become facts (ollama.log_events), one per kind and code. The lines are
built from the format strings in Ollama's and ggml's source (quoted in each test), with values filled in;
the corpus under tests/fixtures/dumps/ollama-log holds the real pastes."""

from gpubal.doctor.ingest.ollama_log import parse_ollama_log
from gpubal.model import UNKNOWN_BYTES


def events(*lines):
    return [(event.kind, event.code) for event in parse_ollama_log([line + "\n" for line in lines]).events]


def test_ggml_cuda_init_failure_names_802_from_its_text():
    # ml/backend/ggml/ggml/src/ggml-cuda/ggml-cuda.cu: GGML_LOG_ERROR("%s: failed to initialize " GGML_CUDA_NAME ": %s\n", __func__, cudaGetErrorString(err))
    assert events("ggml_cuda_init: failed to initialize CUDA: system not yet initialized") == [("cuda_init_failed", "802")]


def test_the_native_probe_error_of_0_12():
    # discover/native_probe_linux.go: fmt.Errorf("cuInit failed: %d", int(ret)), logged by discover/runner.go as
    # slog.Info("failure during llama-server GPU discovery", ..., "error", err, ...)
    line = ('time=2026-08-01T10:00:00.000Z level=INFO source=runner.go:522 msg="failure during llama-server GPU '
            'discovery" OLLAMA_LIBRARY_PATH=[/usr/lib/ollama] extra_envs=map[] error="cuInit failed: 802"')
    assert events(line) == [("cuda_init_failed", "802")]


def test_out_of_memory_from_ggml_is_one_event():
    # ml/backend/ggml/ggml/src/ggml-cuda/ggml-cuda.cu: GGML_LOG_ERROR("%s: allocating %.2f MiB on device %d: cudaMalloc failed: %s\n", ...)
    line = "ggml_backend_cuda_buffer_type_alloc_buffer: allocating 1024.00 MiB on device 0: cudaMalloc failed: out of memory"
    assert events(line, line) == [("out_of_memory", "")]


def test_a_healthy_discovery_has_no_event():
    line = ('time=2025-02-26T21:01:23.251Z level=INFO source=types.go:131 msg="inference compute" '
            'id=GPU-dd1f9e61-27e0-16ad-dd71-766641270fd6 library=cuda variant=v12 compute=8.6 driver=12.2 '
            'name="NVIDIA A10G" total="22.0 GiB" available="21.7 GiB"')
    assert events(line) == []


MX130 = ["[0] CUDA device name: NVIDIA GeForce MX130", "[0] CUDA totalMem 2147483648", "[0] CUDA usedMem 2098724864"]
CHECK_VRAM = ('time=2024-02-02T03:48:00.390-05:00 level=DEBUG source=gpu.go:231 '
              'msg="cuda detected 1 devices with 977M available memory"')


def log_gpu(*lines):
    return parse_ollama_log(iter(lines)).gpus[0]


def test_used_mem_is_free_memory_when_the_check_vram_line_agrees():
    # 0.1.21-0.1.27 printed memInfo.free as usedMem; 2098724864 - 1 GiB reserve = 977 MiB, as the log says
    assert log_gpu(*MX130, CHECK_VRAM).available_bytes == 2098724864


def test_used_mem_is_used_memory_from_0_1_28():
    # ollama/ollama fa2f2b3 (0.1.28) printed the used memory under the same label
    asset = ('time=2024-03-05T10:00:00.000Z level=INFO source=dyn_ext_server.go:90 msg="Loading Dynamic llm server: '
             '/tmp/ollama1/runners/cuda_v11/libext_server.so"')
    version = 'time=2024-03-05T10:00:00.000Z level=INFO source=routes.go:1042 msg="Listening on 127.0.0.1:11434 (version 0.1.28)"'
    assert log_gpu(version, asset, *MX130).available_bytes == 2147483648 - 2098724864


def test_used_mem_of_unknown_meaning_leaves_free_memory_unknown():
    assert log_gpu(*MX130).available_bytes == UNKNOWN_BYTES
