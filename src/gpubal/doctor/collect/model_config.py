"""The model a vLLM or SGLang server was started with, and what its config.json says about attention heads:
what tensor parallelism can split. Read from the server's command line and files, never from the network.

The model is a local directory, or a Hugging Face id whose files sit in the server user's Hub cache
($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub; the snapshot refs/main names)."""

from __future__ import annotations

import json
import re
from typing import Dict, List, Optional, Union

from ...model import Fact, Known, Reason, Unavailable
from ...common.engines import option_value
from ..probes.files import HostFiles

# the options that name the model: vLLM `vllm serve MODEL` or --model; SGLang --model-path (or --model)
MODEL_OPTIONS = {"vllm": ("--model",), "sglang": ("--model-path", "--model")}
HEAD_KEYS = ("num_attention_heads", "num_key_value_heads")


def model_argument(program: str, argv: List[str]) -> Optional[str]:
    value = option_value(argv, MODEL_OPTIONS.get(program, ()))
    if value is None and program == "vllm" and "serve" in argv:
        after = argv[argv.index("serve") + 1:]
        if after and not after[0].startswith("-"):
            value = after[0]
    return value


def collect_model_config(files: HostFiles, pid: int, program: str, argv: Optional[List[str]],
                         environ: Union[str, Unavailable], home: Optional[str]) -> Fact[Dict[str, int]]:
    """num_attention_heads and num_key_value_heads from the model's config.json (a multimodal model's
    text_config when the top level has none)."""
    source = f"/proc/{pid}/cmdline"
    if argv is None:
        return Unavailable(Reason.NOT_FOUND, source, "no command line to find the model in")
    model = model_argument(program, argv)
    if model is None:
        return Unavailable(Reason.NOT_FOUND, source, f"no model option in the {program} command line")
    path = _config_path(files, pid, model, environ, home)
    if isinstance(path, Unavailable):
        return path
    text = files.read_text(path)
    if isinstance(text, Unavailable):
        return text
    try:
        config = json.loads(text)
    except ValueError as error:
        return Unavailable(Reason.ERROR, path, f"not JSON: {error}")
    for part in (config, config.get("text_config") if isinstance(config, dict) else None):
        if isinstance(part, dict) and isinstance(part.get("num_attention_heads"), int):
            return Known({key: part[key] for key in HEAD_KEYS if type(part.get(key)) is int}, path)
    return Unavailable(Reason.NOT_FOUND, path, "no num_attention_heads in it")


def _config_path(files: HostFiles, pid: int, model: str, environ: Union[str, Unavailable],
                 home: Optional[str]) -> Union[str, Unavailable]:
    if model.startswith("/") or model.startswith("."):
        if not model.startswith("/"):  # relative to the server's working directory
            cwd = files.link_target(f"/proc/{pid}/cwd")
            if cwd is None:
                return Unavailable(Reason.NO_PERMISSION, f"/proc/{pid}/cwd", "cannot resolve a relative model path")
            model = f"{cwd.rstrip('/')}/{model}"
        return f"{model.rstrip('/')}/config.json"
    if not re.fullmatch(r"(?<![\w.-])[\w.-]+/[\w.-]+", model):
        return Unavailable(Reason.NOT_FOUND, f"/proc/{pid}/cmdline", f"model {model!r} is neither a path nor a Hub id")
    variables = dict(entry.partition("=")[::2] for entry in environ.split("\0") if "=" in entry) \
        if isinstance(environ, str) else {}
    if "HF_HUB_CACHE" in variables:
        cache = variables["HF_HUB_CACHE"]
    elif "HF_HOME" in variables:
        cache = variables["HF_HOME"].rstrip("/") + "/hub"
    elif home:
        cache = home.rstrip("/") + "/.cache/huggingface/hub"
    else:
        return Unavailable(Reason.NOT_FOUND, f"/proc/{pid}/environ", "no Hugging Face cache to look in")
    repo = f"{cache.rstrip('/')}/models--{model.replace('/', '--')}"
    ref = files.read_line(f"{repo}/refs/main")
    if isinstance(ref, Unavailable):
        return ref
    return f"{repo}/snapshots/{ref}/config.json"
