"""Facts about Ollama: its binary, the server's API, its systemd unit, the running server's environment
and its log. Every program and request has a timeout, and they run side by side, so a hung server or
binary costs at most the longest timeout."""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, Union

from ...common.background import Background, all_results
from ...model import Fact, Known, Ollama, OllamaModel, Reason, Unavailable
from ..probes.commands import CommandRunner
from ..probes.files import HostFiles
from ..probes.http import HttpGetter
from ...common.secret_values import looks_secret
from .ollama_host import DEFAULT_URL, api_url, client_url, server_url

if TYPE_CHECKING:
    from ..ingest.ollama_log import OllamaLog

# systemd's system unit directories, the one that wins first (systemd.unit(5): files in /etc take
# precedence over those in /run which in turn take precedence over those in /usr/lib; /usr/local/lib sits
# between /run and /usr/lib in its unit search path, and /lib is where Debian's systemd installs units).
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
             "/usr/lib/systemd/system", "/lib/systemd/system")
UNIT_PATHS = tuple(f"{directory}/ollama.service" for directory in UNIT_DIRS)
BINARY_DIRS = ("/usr/local/bin", "/usr/bin", "/bin", "/opt/ollama/bin", "/snap/bin")
STEERING = ("OLLAMA_", "CUDA_", "GPU_DEVICE_ORDINAL", "HIP_", "ROCR_", "NVIDIA_", "LD_LIBRARY_PATH", "GGML_")
TIMEOUT_S = 2.0
JOURNAL_LINES = 20000


def collect_ollama(files: HostFiles, environment: Mapping[str, str], processes: Fact[Dict[int, str]],
                   run: CommandRunner, get: HttpGetter, log_file: Optional[str] = None) -> Ollama:
    binary = _binary(files, environment)
    unit_path, unit_environment, exec_start, by_file = _unit(files)
    url = _server_url(environment, unit_environment)
    ((log_source, log), binary_version, api_version, api_ps) = all_results([
        Background(_log, files, run, log_file, unit_path, binary, name="gpubal-ollama-log"),
        Background(_binary_version, binary, run, name="gpubal-ollama-version"),
        Background(_api, get, url, "/api/version", name="gpubal-ollama-api"),
        Background(_api, get, url, "/api/ps", name="gpubal-ollama-api"),
    ])
    return Ollama(
        binary_path=binary,
        binary_version=binary_version,
        server_url=url,
        server_version=_server_version(api_version, url),
        running_models=_running_models(api_ps, url),
        service_environment=unit_environment,
        service_exec_start=exec_start,
        process_environment=_process_environment(files, processes),
        log_source=log_source,
        log_server_config=_from_log(log_source, log, lambda l: l.server_config, "no `server config` line"),
        log_gpus=_from_log(log_source, log, lambda l: l.gpus or None, "no `inference compute` line"),
        log_offloads=_from_log(log_source, log, lambda l: l.offloads or None, "no model load (offload) line"),
        log_events=_from_log(log_source, log, lambda l: l.events, ""),
        log_cuda_libraries=_from_log(log_source, log, lambda l: l.cuda_libraries or None,
                                     "no `discovered GPU libraries` line (OLLAMA_DEBUG=1 logs it)"),
        service_environment_by_file=by_file,
    )


def _binary(files: HostFiles, environment: Mapping[str, str]) -> Fact[str]:
    directories = [d for d in environment.get("PATH", "").split(":") if d] + list(BINARY_DIRS)
    for directory in directories:
        path = f"{directory.rstrip('/')}/ollama"
        if files.exists(path):
            return Known(path, "PATH")
    return Unavailable(Reason.NOT_FOUND, "PATH", "no ollama program on PATH or in " + ", ".join(BINARY_DIRS))


def _binary_version(binary: Fact[str], run: CommandRunner) -> Fact[str]:
    if isinstance(binary, Unavailable):
        return binary
    output = run([binary.value, "-v"], TIMEOUT_S)
    if isinstance(output, Unavailable):
        return output
    match = re.search(r"version is (\S+)", output)  # "ollama version is 0.12.6"
    if not match:
        return Unavailable(Reason.ERROR, f"{binary.value} -v", f"no version in {output.strip()[:200]!r}")
    return Known(match.group(1), f"{binary.value} -v")


def _server_url(environment: Mapping[str, str], unit_environment: Fact[Dict[str, str]]) -> Fact[str]:
    """Where to reach the server: OLLAMA_HOST as Ollama's client reads it, else where the unit's server
    listens, else the default."""
    if environment.get("OLLAMA_HOST", "").strip().strip("\"'").strip():
        return client_url(environment["OLLAMA_HOST"], "OLLAMA_HOST")
    unit_value = unit_environment.value.get("OLLAMA_HOST") if isinstance(unit_environment, Known) else None
    if unit_value and unit_value.strip().strip("\"'").strip():
        return server_url(unit_value, "OLLAMA_HOST in the ollama unit")
    return Known(DEFAULT_URL, "Ollama's default (OLLAMA_HOST unset)")


def _api(get: HttpGetter, url: Fact[str], path: str) -> Any:
    return get(api_url(url.value, path), TIMEOUT_S) if isinstance(url, Known) else url


def _server_version(answer: Any, url: Fact[str]) -> Fact[str]:
    if isinstance(answer, Unavailable):
        return answer
    if isinstance(answer, dict) and isinstance(answer.get("version"), str):
        return Known(answer["version"], f"GET {api_url(url.value, '/api/version')}")
    return Unavailable(Reason.ERROR, f"GET {api_url(url.value, '/api/version')}", f"unexpected answer {str(answer)[:200]}")


def _running_models(answer: Any, url: Fact[str]) -> Fact[List[OllamaModel]]:
    if isinstance(answer, Unavailable):
        return answer
    source = f"GET {api_url(url.value, '/api/ps')}"
    if not isinstance(answer, dict) or not isinstance(answer.get("models"), list):
        return Unavailable(Reason.ERROR, source, f"unexpected answer {str(answer)[:200]}")
    models = []
    for entry in answer["models"]:
        if not isinstance(entry, dict):
            return Unavailable(Reason.ERROR, source, f"unexpected model entry {str(entry)[:200]}")
        name = entry.get("name") or entry.get("model")
        size = entry.get("size")
        # Ollama leaves size_vram out when a model is entirely in system memory (docs/api.md, 2024)
        size_vram = entry.get("size_vram", 0)
        if not isinstance(name, str) or type(size) is not int or type(size_vram) is not int:
            return Unavailable(Reason.ERROR, source, f"unexpected model entry {str(entry)[:200]}")
        models.append(OllamaModel(name=name, size_bytes=size, size_vram_bytes=size_vram))
    return Known(models, source)


def unit_files(files: HostFiles) -> Tuple[Optional[str], List[str]]:
    """The Ollama unit file systemd loads and its drop-ins in the order systemd applies them: of
    same-named drop-ins the one in the directory that wins first; all of them sorted by file name,
    whichever directory they are in (systemd.unit(5)). A drop-in linked to /dev/null masks its name."""
    directories: List[str] = []
    for directory in UNIT_DIRS:  # /lib is /usr/lib on merged-/usr systems: read each directory once
        if files.exists(directory) and files.real_path(directory) not in {files.real_path(d) for d in directories}:
            directories.append(directory)
    unit_path = next((f"{directory}/ollama.service" for directory in directories
                      if files.exists(f"{directory}/ollama.service")), None)
    chosen: Dict[str, str] = {}
    for directory in directories:
        names = files.list_dir(f"{directory}/ollama.service.d")
        for name in names if isinstance(names, list) else []:
            if name.endswith(".conf") and name not in chosen:
                chosen[name] = f"{directory}/ollama.service.d/{name}"
    drop_ins = [chosen[name] for name in sorted(chosen) if files.link_target(chosen[name]) != "/dev/null"]
    return unit_path, drop_ins


def _unit(files: HostFiles) -> Tuple[Optional[str], Fact[Dict[str, str]], Fact[str], Fact[Dict[str, Dict[str, str]]]]:
    unit_path, drop_ins = unit_files(files)
    if unit_path is None:
        missing = Unavailable(Reason.NOT_FOUND, UNIT_PATHS[0], "no ollama systemd unit")
        return None, missing, missing, missing
    if files.link_target(unit_path) == "/dev/null":
        masked = Unavailable(Reason.NOT_FOUND, unit_path, "the ollama unit is masked (a link to /dev/null)")
        return None, masked, masked, masked
    texts = [(unit_path, files.read_text(unit_path))] + [(path, files.read_text(path)) for path in drop_ins]
    environment: Dict[str, str] = {}
    # EnvironmentFile= settings "override settings made with Environment=" (systemd.exec), whatever the order
    from_files: Dict[str, str] = {}
    unreadable: Optional[Unavailable] = None
    by_file: Dict[str, Dict[str, str]] = {}
    exec_start = ""
    for path, text in texts:
        if isinstance(text, Unavailable):
            return unit_path, text, text, text
        for key, value in _unit_assignments(text):
            if key == "Environment":
                if not value.strip():
                    environment.clear()  # an empty assignment resets the list (systemd.exec)
                for word in _split_quoted(value):
                    if "=" in word:
                        name, _, setting = word.partition("=")
                        environment[name] = setting
                        if not looks_secret(name):
                            by_file.setdefault(path, {})[name] = setting
            elif key == "EnvironmentFile":
                if not value.strip():
                    from_files.clear()  # an empty assignment resets the list of files
                    continue
                read = _environment_file(files, value)
                if isinstance(read, Unavailable):
                    unreadable = unreadable or read
                else:
                    from_files.update(read)
            elif key == "ExecStart":
                exec_start = value.strip()
    environment.update(from_files)
    sources = ", ".join(path for path, _ in texts)
    steering = {name: value for name, value in environment.items() if not looks_secret(name)}
    # a file systemd reads (as root) and gpubal may not: the environment Ollama gets is not known
    return unit_path, unreadable or Known(steering, sources), Known(exec_start, sources) if exec_start else Unavailable(
        Reason.NOT_FOUND, sources, "no ExecStart= line"), Known(by_file, sources)


def _unit_assignments(text: str) -> List[Tuple[str, str]]:
    assignments = []
    section = ""
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        if line.endswith("\\"):  # a continued line
            pending = line[:-1] + " "
            continue
        pending = ""
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        if section == "Service" and "=" in line:
            key, _, value = line.partition("=")
            assignments.append((key.strip(), value.strip()))
    return assignments


def _split_quoted(value: str) -> List[str]:
    try:
        return shlex.split(value)
    except ValueError:  # unbalanced quotes: systemd would reject it too; take the words as they are
        return value.split()


def _environment_file(files: HostFiles, value: str) -> Union[Dict[str, str], Unavailable]:
    optional = value.strip().startswith("-")  # "-" means: ignore a missing file
    path = value.strip().lstrip("-").strip()
    text = files.read_text(path)
    if isinstance(text, Unavailable):
        if optional and text.reason is Reason.NOT_FOUND:
            return {}
        return Unavailable(text.reason, path, f"the ollama unit's EnvironmentFile=: {text.detail or text.reason.value}")
    result = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, _, setting = line.partition("=")
            result[name.strip()] = setting.strip().strip('"\'')
    return result


def _process_environment(files: HostFiles, processes: Fact[Dict[int, str]]) -> Fact[Dict[str, str]]:
    if isinstance(processes, Unavailable):
        return processes
    for pid, comm in sorted(processes.value.items()):
        if comm != "ollama":
            continue
        cmdline = files.read_text(f"/proc/{pid}/cmdline")
        if isinstance(cmdline, Unavailable) or "serve" not in cmdline.split("\0"):
            continue
        environ = files.read_text(f"/proc/{pid}/environ")
        if isinstance(environ, Unavailable):
            return environ  # usually no_permission: another user's process
        pairs = (entry.partition("=") for entry in environ.split("\0") if "=" in entry)
        return Known({name: value for name, _, value in pairs
                      if name.startswith(STEERING) and not looks_secret(name)}, f"/proc/{pid}/environ")
    return Unavailable(Reason.NOT_FOUND, "/proc/*/cmdline", "no `ollama serve` process visible")


def _log(files: HostFiles, run: CommandRunner, log_file: Optional[str], unit_path: Optional[str],
         binary: Fact[str]) -> Tuple[Fact[str], Optional[OllamaLog]]:
    if log_file is not None:
        from ..ingest.ollama_log import parse_ollama_log  # imported for a log only: most hosts have none

        try:
            with open(log_file, encoding="utf-8", errors="replace") as handle:
                return Known(log_file, "--ollama-log"), parse_ollama_log(handle)
        except OSError as error:
            return Unavailable(Reason.NOT_FOUND if isinstance(error, FileNotFoundError) else Reason.ERROR,
                               log_file, error.strerror or str(error)), None
    if unit_path is None:
        return Unavailable(Reason.NOT_FOUND, "journalctl -u ollama",
                           "no ollama systemd unit; give the server's log with --ollama-log FILE"), None
    argv = ["journalctl", "-u", "ollama", "--no-pager", "-o", "cat", "-n", str(JOURNAL_LINES)]
    output = run(argv, TIMEOUT_S)
    if isinstance(output, Unavailable):
        return output, None
    from ..ingest.ollama_log import parse_ollama_log

    return Known(" ".join(argv), " ".join(argv)), parse_ollama_log(output.splitlines())


def _from_log(source: Fact[str], log: Optional[OllamaLog], pick, missing: str) -> Fact[Any]:
    if isinstance(source, Unavailable) or log is None:
        return source
    value = pick(log)
    if value is None:
        return Unavailable(Reason.NOT_FOUND, source.value, f"{missing} in {log.lines_read} lines")
    return Known(value, source.value)
