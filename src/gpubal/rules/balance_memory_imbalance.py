from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import Fix, Known, Severity
from . import finding, rule
from ..common import links as _links
from ._balance import MEMORY_SPREAD_SHARE

if TYPE_CHECKING:  # an annotation only: `gpubal doctor` loads these rules without the balance model
    from ..model.balance import BalanceReport


@rule("balance-memory-imbalance", scope="balance", area="balance",
      summary="The GPUs hold similar shares of their memory")
def balance_memory_imbalance(observation: BalanceReport):
    """
    What it checks
        Over a `gpubal balance` sampling run: each GPU's peak memory use as a share of its memory.
        When the fullest and the emptiest GPU differ by a quarter of their memory or more, the memory is
        unevenly used; a warning when the fullest GPU is at 90 % or more, advice otherwise.

    Why it matters
        The fullest GPU runs out first: a longer context, more parallel requests or a second model fail
        there while the other GPUs still have room, and a split model's layers sit where the memory
        was free, not where it balances the work.

    How to fix
        Spread the model: Ollama places layers by free memory and OLLAMA_SCHED_SPREAD=1 spreads one
        model over all GPUs; llama.cpp takes `--tensor-split`; or run one server per GPU so that each
        holds its own copy.

    References
        links.OLLAMA_FAQ
    """
    shares = {}
    for gpu in observation.gpus:
        if isinstance(gpu.memory_used_peak_bytes, Known) and isinstance(gpu.memory_total_bytes, Known) \
                and gpu.memory_total_bytes.value > 0:
            shares[gpu.index] = gpu.memory_used_peak_bytes.value / gpu.memory_total_bytes.value
    if len(shares) < 2:
        return []
    fullest, emptiest = max(shares, key=shares.get), min(shares, key=shares.get)
    if shares[fullest] - shares[emptiest] < MEMORY_SPREAD_SHARE:
        return []
    evidence = {f"gpu:{index}.memory_used_peak_share": round(share, 3) for index, share in shares.items()}
    severity = Severity.WARNING if shares[fullest] >= 0.9 else Severity.INFO
    message = (f"GPU {fullest} holds {shares[fullest]:.0%} of its memory, GPU {emptiest} {shares[emptiest]:.0%}: "
               "the memory is unevenly used" + (", and the fullest GPU is close to running out." if
                                                 severity is Severity.WARNING else "."))
    fix = Fix("Spread the model: Ollama places layers by free memory (OLLAMA_SCHED_SPREAD=1 spreads one model "
              "over all GPUs); llama.cpp takes --tensor-split; or run one server per GPU so each holds its own copy.",
              ("sudo systemctl edit ollama   # [Service] Environment=\"OLLAMA_SCHED_SPREAD=1\"",
               "llama-server -m MODEL.gguf --tensor-split 1,1",
               "gpubal topo --group-size 1"),
              _links.OLLAMA_FAQ)
    return [finding(severity, f"gpu:{fullest}-gpu:{emptiest}", message, evidence, fix)]
