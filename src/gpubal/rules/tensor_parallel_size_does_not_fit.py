from typing import List, Optional

from ..common.engines import option_value
from ..model import FactMissing, Fix, GpuProcess, Known, Severity, Snapshot, Unavailable, need
from . import finding, rule
from ..common import links as _links

# How each engine is told its parallelism (vLLM's engine arguments; SGLang's server arguments)
TENSOR = {"vllm": ("--tensor-parallel-size", "--tensor_parallel_size", "-tp"),
          "sglang": ("--tp-size", "--tensor-parallel-size", "--tp")}
PIPELINE = {"vllm": ("--pipeline-parallel-size", "--pipeline_parallel_size", "-pp"), "sglang": ("--pp-size",)}
START = {"vllm": "vllm serve MODEL", "sglang": "python -m sglang.launch_server --model-path MODEL"}
DATA = {"vllm": ("--data-parallel-size", "--data_parallel_size", "-dp"), "sglang": ("--dp-size", "--dp")}


@rule("tensor-parallel-size-does-not-fit", scope="host", area="stack",
      summary="A running vLLM or SGLang server's parallel sizes fit the GPUs it sees and its model's heads")
def tensor_parallel_size_does_not_fit(snapshot: Snapshot):
    """
    What it checks
        For each vLLM or SGLang server in the process table: its tensor-, pipeline- and data-parallel
        sizes (from its command line) against the GPUs its CUDA sees, and, for vLLM, the tensor-parallel
        size against the attention heads in the model's config.json when gpubal can read it.

    Why it matters
        vLLM splits attention heads across tensor-parallel ranks and refuses a size that does not divide
        them ("Total number of attention heads (28) must be divisible by tensor parallel size (3)"). A
        server that needs more GPUs than it sees cannot start on this host alone: it waits for workers
        or fails at start. GPUs it sees but does not use stay idle while other work could run there.

    How to fix
        Choose a tensor-parallel size that divides the model's attention heads and is at most the GPUs
        visible (usually 1, 2, 4 or 8); give the server exactly the GPUs it uses with
        CUDA_VISIBLE_DEVICES, or start one server per group of GPUs.

    References
        links.VLLM_PARALLELISM
        links.SGLANG_SERVER_ARGUMENTS
    """
    missing: Optional[FactMissing] = None
    for process in need(snapshot.processes, "processes"):
        program = process.program.value if isinstance(process.program, Known) else ""
        if program not in TENSOR or isinstance(process.command_line, Unavailable):
            continue
        argv = process.command_line.value.split()
        if option_value(argv, ("--nnodes",)) not in (None, "1"):
            continue  # spread over several hosts: this host's GPUs are only a part
        sizes = [_size(argv, names[program]) for names in (TENSOR, PIPELINE, DATA)]
        if None in sizes:
            continue  # a size gpubal cannot read as a number: leave it to the engine
        tensor, pipeline, data = sizes
        heads = process.model_config.value.get("num_attention_heads") \
            if isinstance(process.model_config, Known) else None
        if program == "vllm" and heads and heads % tensor:
            yield _heads(process, tensor, heads)
        from ..common.visibility import process_visibility  # here: only a running vLLM or SGLang gets this far

        seen = process_visibility(snapshot, process)
        if isinstance(seen, Unavailable):
            missing = missing or FactMissing(f"{process.subject()}.gpu_environment", seen)
            continue
        yield from _gpus(process, program, tensor, pipeline, data, list(seen.gpus), heads)
    if missing is not None:
        raise missing


def _size(argv: List[str], names) -> Optional[int]:
    value = option_value(argv, names)
    if value is None:
        return 1
    return int(value) if value.isdigit() and int(value) > 0 else None


def _divisors_up_to(heads: Optional[int], limit: int) -> List[int]:
    return [size for size in range(1, limit + 1) if heads is None or heads % size == 0]


def _heads(process: GpuProcess, tensor: int, heads: int):
    subject = process.subject()
    fits = ", ".join(map(str, _divisors_up_to(heads, 8)))
    return finding(
        Severity.ERROR, subject,
        f"PID {process.pid} (vllm) has tensor-parallel size {tensor}, which does not divide its model's {heads} "
        "attention heads: vLLM refuses to start with it",
        {f"{subject}.tensor_parallel_size": tensor, f"{subject}.model_config.num_attention_heads": heads,
         f"{subject}.model_config.source": process.model_config.source},
        Fix(summary=f"Use a tensor-parallel size that divides {heads} (up to 8: {fits})",
            commands=(f"{START['vllm']} --tensor-parallel-size {max(_divisors_up_to(heads, tensor))}",),
            url=_links.VLLM_PARALLELISM),
    )


def _gpus(process: GpuProcess, program: str, tensor: int, pipeline: int, data: int, visible: List[int],
          heads: Optional[int]):
    needed = tensor * pipeline * data
    subject = process.subject()
    evidence = {f"{subject}.tensor_parallel_size": tensor, f"{subject}.pipeline_parallel_size": pipeline,
                f"{subject}.data_parallel_size": data, f"{subject}.cuda_sees": visible}
    url = _links.VLLM_PARALLELISM if program == "vllm" else _links.SGLANG_SERVER_ARGUMENTS
    option = TENSOR[program][0]
    if needed > len(visible):
        fits = [size for size in _divisors_up_to(heads, len(visible)) if len(visible) % size == 0]
        yield finding(
            Severity.WARNING, subject,
            f"PID {process.pid} ({program}) needs {needed} GPUs (tensor {tensor} × pipeline {pipeline} × data "
            f"{data}) but its CUDA sees {len(visible)}: it cannot run on this host alone",
            evidence,
            Fix(summary=f"Make {needed} GPUs visible to it, or lower its parallel sizes to fit {len(visible)}",
                commands=("nvidia-smi -L", f"CUDA_VISIBLE_DEVICES=GPU-...,GPU-...  # {needed} UUIDs from nvidia-smi -L",
                          f"{START[program]} {option} {max(fits) if fits else 1}"),
                url=url),
        )
    elif needed < len(visible):
        idle = len(visible) - needed
        yield finding(
            Severity.INFO, subject,
            f"PID {process.pid} ({program}) uses {needed} of the {len(visible)} GPUs its CUDA sees "
            f"(tensor {tensor} × pipeline {pipeline} × data {data}): {idle} stay idle for it",
            evidence,
            Fix(summary="Give it only the GPUs it uses, so the others are free for other work",
                commands=("nvidia-smi -L", f"CUDA_VISIBLE_DEVICES=GPU-...,GPU-...  # the {needed} GPUs it uses, "
                                           "UUIDs from nvidia-smi -L"),
                url=url),
        )
