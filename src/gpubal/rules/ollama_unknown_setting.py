import shlex

from ..model import Fix, Known, Severity, Snapshot, value_or
from . import finding, rule
from ..common import links as _links
from ..matrix import Matrix, ollama_nonexistent, ollama_setting
from ._ollama import require_ollama
from ._stack import version_key

TENSOR_PARALLEL = ("Ollama splits a model's layers across GPUs; it does not do tensor parallelism. For that, "
                   "use vLLM (`vllm serve MODEL --tensor-parallel-size N`) or SGLang (`python -m "
                   "sglang.launch_server --model-path MODEL --tp-size N`)")


@rule("ollama-unknown-setting", scope="host", area="ollama",
      summary="Every OLLAMA_* variable and `ollama serve` flag in the unit or environment exists",
      inputs=("matrix",))
def ollama_unknown_setting(snapshot: Snapshot, matrix: Matrix):
    """
    What it checks
        The OLLAMA_* variables in the Ollama unit (Environment= lines, drop-ins) and in the running
        server's environment, and the flags in the unit's ExecStart. A variable is unknown when Ollama
        has no such setting (OLLAMA_SCHEDULER, OLLAMA_GPUS), when this server's `server config` log line
        does not list it, or when the server's version no longer prints it. `ollama serve` takes no
        flags but --help: --tensor-parallel, --pipeline-parallel, --gpus or --memory-reserve do not
        exist.

    Why it matters
        An unknown setting does nothing, silently: the operator believes the server is tuned (or
        spread over GPUs) while it runs with defaults. A flag `ollama serve` does not have makes the
        service fail to start.

    How to fix
        Use what exists: OLLAMA_SCHED_SPREAD, OLLAMA_NUM_PARALLEL, OLLAMA_MAX_LOADED_MODELS and
        OLLAMA_MAX_QUEUE for scheduling, CUDA_VISIBLE_DEVICES for GPU choice, OLLAMA_GPU_OVERHEAD to
        hold VRAM back. `ollama serve --help` lists the variables a version reads. Ollama splits layers
        across GPUs and does not do tensor parallelism; engines that do are vLLM and SGLang
        (`--tensor-parallel-size`).

    References
        links.OLLAMA_FAQ
        https://github.com/ollama/ollama/blob/main/envconfig/config.go
    """
    ollama = require_ollama(snapshot)
    names = {}
    for label, fact in (("the ollama systemd unit", ollama.service_environment),
                        ("the running server's environment", ollama.process_environment)):
        for name in value_or(fact, {}):
            if name.startswith("OLLAMA_"):
                names.setdefault(name, label)
    if not names and isinstance(ollama.service_exec_start, Known) is False:
        ollama.need("service_environment")
    logged = ollama.log_server_config.value if isinstance(ollama.log_server_config, Known) else None
    version = value_or(ollama.server_version, value_or(ollama.binary_version, ""))
    for name, where in sorted(names.items()):
        missing = ollama_nonexistent(matrix, name)
        known = ollama_setting(matrix, name)
        if missing is not None:
            instead = ", ".join(missing.exists_instead)
            yield _finding(Severity.WARNING, f"{name} ({where}) is not an Ollama setting and does nothing: "
                                             f"{missing.explanation}", name, where, f"Use {instead} instead",
                           missing.source)
        elif logged is not None and name not in logged:
            yield _finding(Severity.WARNING, f"{name} ({where}) is not among the settings this Ollama "
                                             f"{version or ''} reads (its `server config` log line does not list it)",
                           name, where, "Remove it, or use a setting `ollama serve --help` lists", _links.OLLAMA_FAQ)
        elif known is not None and known.absent_in_version and version and \
                version_key(version) >= version_key(known.absent_in_version):
            yield _finding(Severity.WARNING, f"{name} ({where}) is no longer read: Ollama "
                                             f"{known.absent_in_version} and later do not list it", name, where,
                           "Remove it", known.source)
        elif known is None and logged is None:
            yield _finding(Severity.INFO, f"{name} ({where}) is not an Ollama setting gpubal knows; check "
                                          f"`ollama serve --help` of this version", name, where,
                           "Check the name against `ollama serve --help`", _links.OLLAMA_FAQ)
    exec_start = value_or(ollama.service_exec_start, "")
    try:
        words = shlex.split(exec_start)
    except ValueError:
        words = exec_start.split()
    after_serve = words[words.index("serve") + 1:] if "serve" in words else []
    for word in after_serve:
        flag = word.split("=", 1)[0]
        if not flag.startswith("-") or flag in ("-h", "--help"):
            continue
        missing = ollama_nonexistent(matrix, flag)
        instead = ", ".join(missing.exists_instead) if missing else "environment variables (OLLAMA_*)"
        parallel = " " + TENSOR_PARALLEL if "parallel" in flag else ""
        yield finding(
            Severity.WARNING, "ollama",
            f"`ollama serve` has no flag {flag} (ExecStart of the ollama unit): it takes no flags but --help"
            + (f"; what exists: {instead}" if missing else "") + "." + parallel,
            {"ollama.service_exec_start": exec_start, "flag": flag},
            Fix(summary=f"Remove {flag} from ExecStart and use {instead}",
                commands=("sudo systemctl edit --full ollama", "ollama serve --help", "sudo systemctl restart ollama"),
                url=missing.source if missing else _links.OLLAMA_FAQ),
        )


def _finding(severity, message, name, where, summary, url):
    return finding(severity, "ollama", message, {"setting": name, "where": where},
                   Fix(summary=summary, commands=("ollama serve --help", "sudo systemctl edit ollama"), url=url))
