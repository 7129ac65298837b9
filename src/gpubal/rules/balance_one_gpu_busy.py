from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict

from ..model import Fix, Known, Severity
from . import finding, rule
from ..common import links as _links
from ._balance import BUSY_PERCENT, IDLE_PERCENT, ollama_involved, text, utilization_means

if TYPE_CHECKING:  # an annotation only: `gpubal doctor` loads these rules without the balance model
    from ..model.balance import BalanceReport


@rule("balance-one-gpu-busy", scope="balance", area="balance",
      summary="The work is spread over the GPUs, not all on one while the others idle")
def balance_one_gpu_busy(observation: BalanceReport):
    """
    What it checks
        Over a `gpubal balance` sampling run on a host with two or more GPUs: whether exactly one GPU
        was busy (mean utilization of 30 % or more) while every other GPU stayed idle (below 5 %). The
        finding names the processes on the busy GPU and says why when it can tell: a process started
        with a CUDA_VISIBLE_DEVICES of one GPU, or Ollama keeping a model that fits one GPU on one GPU.

    Why it matters
        The host was bought for all its GPUs; a workload on one of them leaves the others' compute
        unused, and a server that sees one GPU cannot grow onto the others under load.

    How to fix
        Let the process see the GPUs it should use (its CUDA_VISIBLE_DEVICES), or run one replica per
        GPU behind a load balancer (`gpubal topo --group-size 1` prints the settings). For Ollama: one
        server per GPU, each with its own OLLAMA_HOST port and CUDA_VISIBLE_DEVICES; OLLAMA_SCHED_SPREAD=1
        spreads one model over every GPU (more memory, not more speed). For one model over several GPUs
        use a tensor-parallel engine (vLLM, SGLang) over an NVLink group.

    References
        links.OLLAMA_FAQ
        links.VLLM_PARALLELISM
    """
    means = utilization_means(observation)
    if len(means) < 2:
        return []
    busy = [index for index, mean in means.items() if mean >= BUSY_PERCENT]
    idle = [index for index, mean in means.items() if mean < IDLE_PERCENT]
    if len(busy) != 1 or len(idle) != len(means) - 1:
        return []
    gpu = busy[0]
    holders = [p for p in observation.processes if p.gpu == gpu]
    evidence: Dict[str, Any] = {f"gpu:{index}.utilization_mean_percent": mean for index, mean in means.items()}
    evidence["imbalance_stddev_points"] = observation.imbalance.stddev_points.value
    for process in holders:
        evidence[f"pid:{process.pid}.name"] = text(process.name)
        if isinstance(process.cuda_visible_devices, Known):
            evidence[f"pid:{process.pid}.CUDA_VISIBLE_DEVICES"] = process.cuda_visible_devices.value
    restricted = [p for p in holders if isinstance(p.cuda_visible_devices, Known)
                  and len([d for d in p.cuda_visible_devices.value.split(",") if d.strip()]) == 1]
    message = (f"GPU {gpu} did the work (mean {means[gpu]:.0f} %) while GPU "
               f"{', '.join(map(str, idle))} stayed idle: imbalance {observation.imbalance.stddev_points.value:.0f} points.")
    if restricted:
        process = restricted[0]
        message += (f" Process {process.pid} ({text(process.name)}) was started with "
                    f"CUDA_VISIBLE_DEVICES={process.cuda_visible_devices.value}: it can see one GPU only.")
        fix = Fix("Let the process see the GPUs it should use, or run one copy per GPU and balance requests "
                  "across them.",
                  (f"grep -z CUDA_VISIBLE_DEVICES /proc/{process.pid}/environ",
                   "gpubal topo --group-size 1   # one server per GPU, with its CUDA_VISIBLE_DEVICES",
                   "systemctl show ollama -p Environment"),
                  _links.CUDA_C_ENVIRONMENT_VARIABLES)
    elif ollama_involved(observation, [gpu]):
        message += (" Ollama puts a model that fits in one GPU on one GPU: that is its default, so one model "
                    "never uses the other GPUs.")
        fix = Fix("For throughput, run one Ollama server per GPU (each on its own OLLAMA_HOST port and "
                  "CUDA_VISIBLE_DEVICES) behind a load balancer; to spread one model over every GPU (more "
                  "memory, not more speed) set OLLAMA_SCHED_SPREAD=1.",
                  ("gpubal topo --group-size 1",
                   "sudo systemctl edit ollama   # [Service] Environment=\"OLLAMA_SCHED_SPREAD=1\"",
                   "sudo systemctl restart ollama"),
                  _links.OLLAMA_FAQ)
    else:
        message += " The workload runs on one GPU."
        fix = Fix("Give the other GPUs work: run one replica per GPU behind a load balancer, or a "
                  "tensor-parallel engine over an NVLink group.",
                  ("gpubal topo",
                   "vllm serve MODEL --tensor-parallel-size 2",
                   "python -m sglang.launch_server --model-path MODEL --tp-size 2"),
                  _links.VLLM_PARALLELISM)
    return [finding(Severity.WARNING, f"gpu:{gpu}", message, evidence, fix)]
