"""Error signatures in Ollama logs become facts (ollama.log_events), one per kind and code. The lines are
built from the format strings in Ollama's and ggml's source (quoted in each test), with values filled in;
the corpus under tests/fixtures/dumps/ollama-log holds the real pastes."""

from gpubal.doctor.ingest.ollama_log import parse_ollama_log


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
