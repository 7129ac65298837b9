from ..model import Fix, Known, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ._ollama import require_ollama


@rule("ollama-runs-on-cpu", scope="host", area="ollama",
      summary="Ollama's GPU discovery found a GPU (it does not run on the CPU only)")
def ollama_runs_on_cpu(snapshot: Snapshot):
    """
    What it checks
        Whether Ollama's log says it found no GPU: `no compatible GPUs were discovered`, an
        `inference compute` line for the CPU (`library=cpu`, or `id=cpu` from 0.12 on), or a failed
        CUDA initialization (ollama-cuda-init-failed says why) with no GPU listed after it.

    Why it matters
        Every model then runs on the CPU, one or two orders of magnitude slower, while nvidia-smi may
        show idle GPUs. The cause is usually visible on the same host: a driver or libcuda Ollama
        cannot load, a container without the GPUs passed in, CUDA_VISIBLE_DEVICES hiding them, or a
        GPU below the compute capability Ollama supports.

    How to fix
        Start Ollama with OLLAMA_DEBUG=1 and read its discovery lines; check `nvidia-smi` where Ollama
        runs (inside the container: `docker run --gpus all`); after a suspend/resume, reload
        nvidia_uvm as Ollama's GPU documentation describes.

    References
        links.OLLAMA_GPU
        links.OLLAMA_FAQ
    """
    ollama = require_ollama(snapshot)
    # a failed cuInit leaves Ollama without GPUs as surely as "no compatible GPUs" does
    events = [event for event in ollama.need("log_events")
              if event.kind in ("no_compatible_gpus", "cpu_only", "cuda_init_failed")]
    if not events or (isinstance(ollama.log_gpus, Known) and ollama.log_gpus.value):
        return  # a log where a later start found GPUs is not a host that runs on the CPU
    yield finding(
        Severity.ERROR, "ollama",
        "Ollama found no usable GPU and runs models on the CPU",
        {"ollama.log_events": [event.line for event in events]},
        Fix(summary="Find why discovery failed: restart Ollama with OLLAMA_DEBUG=1 and check nvidia-smi where it runs",
            commands=("nvidia-smi", "sudo systemctl edit ollama   # under [Service]: Environment=\"OLLAMA_DEBUG=1\"",
                      "sudo systemctl restart ollama", "journalctl -u ollama --no-pager | grep -i -E 'cuda|gpu'"),
            url=_links.OLLAMA_GPU),
    )
