from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict

from ..model import Fix, Known, Severity
from . import finding, rule
from ..common import links as _links
from ._balance import PARTICIPATING_PERCENT, TURN_TAKING_MAX_CONCURRENCY, ollama_involved, utilization_means

if TYPE_CHECKING:  # an annotation only: `gpubal doctor` loads these rules without the balance model
    from ..model.balance import BalanceReport


@rule("balance-layer-split-takes-turns", scope="balance", area="balance",
      summary="GPUs that share a model work at once, not in turns as a layer split makes them (advice)")
def balance_layer_split_takes_turns(observation: BalanceReport):
    """
    What it checks
        Over a `gpubal balance` sampling run: whether the GPUs that take part in the work (mean
        utilization of 10 % or more, at least two of them) together do no more than about one GPU's
        worth (the sum of their utilization in the samples where they worked averages at most 1.3
        GPUs). That is the mark of a model split by layers: each GPU computes its layers in turn.
        This is advice: for Ollama and llama.cpp, which split layers, it is expected.

    Why it matters
        A layer split gives a model more memory, not more speed: k GPUs in turn serve about as fast as
        one. Operators who expect k times the throughput from k GPUs find the others waiting.

    How to fix
        If the model fits one GPU, run one server per GPU behind a load balancer. If it does not, use
        tensor parallelism over an NVLink group (vLLM `--tensor-parallel-size`, SGLang `--tp-size`,
        llama.cpp `--split-mode row`), or send more requests at once (OLLAMA_NUM_PARALLEL) so each turn
        carries more work.

    References
        links.VLLM_PARALLELISM
        links.OLLAMA_FAQ
    """
    means = utilization_means(observation)
    taking_part = [index for index, mean in means.items() if mean >= PARTICIPATING_PERCENT]
    concurrency, overlap = observation.imbalance.concurrency, observation.imbalance.overlap_share
    if len(taking_part) < 2 or not isinstance(concurrency, Known) or not isinstance(overlap, Known):
        return []
    if concurrency.value > TURN_TAKING_MAX_CONCURRENCY:
        return []
    k = len(taking_part)
    shared = sorted({p.pid for p in observation.processes if p.gpu in taking_part and all(
        any(q.pid == p.pid and q.gpu == g for q in observation.processes) for g in taking_part)})
    evidence: Dict[str, Any] = {f"gpu:{index}.utilization_mean_percent": means[index] for index in taking_part}
    evidence.update({"concurrency": concurrency.value, "overlap_share": overlap.value,
                     "expected_share_per_gpu_percent": round(100 / k, 1)})
    if shared:
        evidence["processes_on_every_gpu"] = shared
    ollama = ollama_involved(observation, taking_part)
    message = (f"GPUs {', '.join(map(str, taking_part))} take turns: together they do about "
               f"{concurrency.value:.1f} GPU's worth of work (each about 1/{k} of the time; two or more busy in "
               f"{overlap.value:.0%} of samples). A model split by layers runs its layers in order, so one GPU "
               "waits while another computes.")
    message += (" This is expected for Ollama and llama.cpp, which split layers, not tensors." if ollama or shared
                else "")
    fix = Fix("Expected for a layer split; for throughput, if the model fits one GPU run one server per GPU "
              "behind a load balancer; if it does not, use tensor parallelism over an NVLink group "
              "(vLLM, SGLang, or llama.cpp --split-mode row), or send more requests at once "
              "(OLLAMA_NUM_PARALLEL) so each turn carries more work.",
              ("gpubal topo --group-size 1",
               f"vllm serve MODEL --tensor-parallel-size {k}",
               f"python -m sglang.launch_server --model-path MODEL --tp-size {k}",
               "llama-server -m MODEL.gguf --split-mode row"),
              _links.VLLM_PARALLELISM)
    subject = "-".join(f"gpu:{index}" for index in taking_part)
    return [finding(Severity.INFO, subject, message, evidence, fix)]
