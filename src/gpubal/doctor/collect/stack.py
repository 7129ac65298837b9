"""Facts about the GPU software stack: every CUDA toolkit, every copy of libcudart, libcudnn and libnccl
that a process could load (and who loads which), Python packages built for CUDA, the environment
variables that steer them, /dev/shm, and Fabric Manager.

Versions come from files only: library file names (libcudnn.so.9.14.0), symlink targets, headers,
version.json, wheel metadata. gpubal never loads these libraries and never imports a framework.
"""

from __future__ import annotations

import glob
import os
import re
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ...model import CudaToolkit, Fact, Known, LibraryCopy, PythonPackage, Reason, Stack, Unavailable
from ..probes.files import HostFiles
from ...common.secret_values import looks_secret
from .processes import program_running
from ...common.lazy import lazy

LIBRARIES = {"cudart": "libcudart.so", "cudnn": "libcudnn.so", "nccl": "libnccl.so"}
# Where the dynamic loader looks when ld.so.conf says nothing more (glibc's trusted directories,
# plus the multiarch directories that Debian and Ubuntu list in ld.so.conf.d).
DEFAULT_LIBRARY_DIRS = ("/lib", "/usr/lib", "/lib64", "/usr/lib64", "/lib/x86_64-linux-gnu",
                        "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu")
SITE_PACKAGES_GLOBS = (
    "/usr/lib/python3*/dist-packages", "/usr/local/lib/python3*/dist-packages",
    "/usr/local/lib/python3*/site-packages", "/opt/*/.venv/lib/python3*/site-packages",
    "/opt/*/lib/python3*/site-packages", "/opt/conda/lib/python3*/site-packages",
)
OLLAMA_LIB_DIRS = ("/usr/local/lib/ollama", "/usr/lib/ollama")
ENVIRONMENT_PREFIXES = ("CUDA_", "NCCL_", "OLLAMA_", "NVIDIA_", "TORCH_", "PYTORCH_", "HIP_", "ROCR_",
                        "GPU_DEVICE_ORDINAL", "LD_LIBRARY_PATH", "CUDNN_")
_VERSIONED = re.compile(r"^(lib(?:cudart|cudnn|nccl)\.so)\.(\d+(?:\.\d+)*)$")
_VERSIONED_PREFIXES = tuple(f"{soname}." for soname in LIBRARIES.values())  # how every _VERSIONED name starts
_TORCH_CUDA = lazy(lambda: re.compile(r"\+cu(\d+)(\d)$"))  # 2.11.0+cu130 -> CUDA 13.0, +cu128 -> 12.8


def collect_stack(files: HostFiles, environment: Mapping[str, str], site_dirs: Sequence[str],
                  processes: Fact[Dict[int, str]], container: Fact[str]) -> Stack:
    packages = _python_packages(files, site_dirs)
    toolkits = _toolkits(files)
    return Stack(
        cuda_toolkits=toolkits,
        libraries=_libraries(files, environment, packages, value_or_empty(toolkits)),
        python_packages=packages,
        environment=Known(steering_environment(environment), "the environment gpubal runs in"),
        dev_shm_bytes=_dev_shm_bytes(files),
        fabric_manager_installed=_fabric_manager_installed(files),
        fabric_manager_version=_fabric_manager_version(files),
        fabric_manager_running=program_running(processes, "nv-fabricmanager", container),
    )


def steering_environment(environment: Mapping[str, str]) -> Dict[str, str]:
    """The variables that change how CUDA, NCCL and Ollama behave; a secret-looking name never passes."""
    return {name: value for name, value in sorted(environment.items())
            if name.startswith(ENVIRONMENT_PREFIXES) and not looks_secret(name)}


# --- toolkits ----------------------------------------------------------------------------------------


def _toolkits(files: HostFiles) -> Fact[List[CudaToolkit]]:
    entries = files.list_dir("/usr/local")
    if isinstance(entries, Unavailable):
        return entries
    toolkits = []
    seen = set()
    # real directories before links to them: /usr/local/cuda-13 -> /etc/alternatives/cuda-13 -> cuda-13.0
    for entry in sorted(entries, key=lambda e: files.link_target(f"/usr/local/{e}") is not None):
        if not re.fullmatch(r"cuda-\d+(\.\d+)*", entry):
            continue
        path = f"/usr/local/{entry}"
        if files.real_path(path) in seen:
            continue
        seen.add(files.real_path(path))
        version = _toolkit_version(files, path)
        if version is None:
            continue
        toolkits.append(CudaToolkit(path=path, version=version, has_nvcc=files.exists(f"{path}/bin/nvcc")))
    return Known(toolkits, "/usr/local/cuda-*/version.json")


def _toolkit_version(files: HostFiles, path: str) -> Optional[str]:
    text = files.read_text(f"{path}/version.json")
    if isinstance(text, str):
        match = re.search(r'"cuda"\s*:\s*\{[^{}]*"version"\s*:\s*"([\d.]+)"', text)
        if match:
            return match.group(1)
    text = files.read_text(f"{path}/version.txt")  # CUDA 10 and early 11
    if isinstance(text, str):
        match = re.search(r"CUDA Version ([\d.]+)", text)
        if match:
            return match.group(1)
    entries = files.list_dir(f"{path}/dist-info")  # toolkits assembled from NVIDIA's wheels
    if isinstance(entries, list):
        for entry in entries:
            match = re.fullmatch(r"nvidia_cuda_runtime-(\d+\.\d+\.\d+)\.dist-info", entry)
            if match:
                return match.group(1)
    text = files.read_text(f"{path}/include/cuda_runtime_api.h")
    if isinstance(text, str):
        match = re.search(r"^#define CUDART_VERSION\s+(\d+)", text, re.MULTILINE)
        if match:
            number = int(match.group(1))  # 13000 -> 13.0
            return f"{number // 1000}.{number % 1000 // 10}"
    return None


# --- libraries ---------------------------------------------------------------------------------------


def loader_directories(files: HostFiles, environment: Mapping[str, str]) -> List[Tuple[str, str]]:
    """The directories the dynamic loader searches, in its order, each with why it is searched."""
    directories: List[Tuple[str, str]] = []
    for directory in environment.get("LD_LIBRARY_PATH", "").split(":"):
        if directory:
            directories.append((directory, "LD_LIBRARY_PATH"))
    for directory in _ld_so_conf(files, "/etc/ld.so.conf", depth=0):
        directories.append((directory, "system"))
    directories.extend((directory, "system") for directory in DEFAULT_LIBRARY_DIRS)
    return directories


def _ld_so_conf(files: HostFiles, path: str, depth: int) -> List[str]:
    text = files.read_text(path)
    if isinstance(text, Unavailable) or depth > 4:
        return []
    directories = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("include "):
            pattern = line.split(None, 1)[1]
            if not pattern.startswith("/"):
                pattern = os.path.join(os.path.dirname(path), pattern)
            for included in sorted(glob.glob(files.path(pattern))):
                directories.extend(_ld_so_conf(files, "/" + os.path.relpath(included, files.root), depth + 1))
        else:
            directories.append(line)
    return directories


def _libraries(files: HostFiles, environment: Mapping[str, str], packages: Fact[List[PythonPackage]],
               toolkits: List[CudaToolkit]) -> Fact[List[LibraryCopy]]:
    copies: List[LibraryCopy] = []
    seen = set()
    for directory, origin in loader_directories(files, environment):
        real_directory = files.real_path(directory)
        if real_directory in seen:
            continue  # /lib -> /usr/lib on merged-/usr systems: one directory, two names
        seen.add(real_directory)
        consumer = "the system loader" if origin == "system" else "processes started with this LD_LIBRARY_PATH"
        copies.extend(_copies_in(files, directory, origin, consumer))
    for toolkit in toolkits:
        for directory in (f"{toolkit.path}/lib64", f"{toolkit.path}/targets/x86_64-linux/lib"):
            if files.real_path(directory) not in seen:
                seen.add(files.real_path(directory))
                copies.extend(_copies_in(files, directory, "toolkit", f"programs built with CUDA {toolkit.version}"))
    for ollama_dir in OLLAMA_LIB_DIRS:
        entries = files.list_dir(ollama_dir)
        if isinstance(entries, Unavailable):
            continue
        for entry in [""] + [e for e in entries if e.startswith("cuda")]:
            directory = f"{ollama_dir}/{entry}".rstrip("/")
            copies.extend(_copies_in(files, directory, "ollama", f"ollama ({entry or 'lib'})"))
    copies.extend(_wheel_copies(files, value_or_empty(packages)))
    copies = [_with_toolkit_version(files, copy, toolkits) for copy in copies]
    return Known(_one_per_file(copies), "loader directories, CUDA toolkits, Ollama's lib folder, wheels")


def _with_toolkit_version(files: HostFiles, copy: LibraryCopy, toolkits: List[CudaToolkit]) -> LibraryCopy:
    """libcudart.so.13 says only its major; inside a toolkit, the toolkit's version is the runtime's."""
    if copy.name != "cudart" or "." in copy.version:
        return copy
    real = files.real_path(copy.path)
    for toolkit in toolkits:
        if real.startswith(files.real_path(toolkit.path) + "/") and toolkit.version.split(".")[0] == copy.version:
            return LibraryCopy(copy.name, toolkit.version, copy.path, copy.origin, copy.consumer,
                               f"version of the toolkit in {toolkit.path}")
    return copy


def _copies_in(files: HostFiles, directory: str, origin: str, consumer: str) -> List[LibraryCopy]:
    entries = files.list_dir(directory, starting_with=_VERSIONED_PREFIXES)
    if isinstance(entries, Unavailable):
        return []
    found: Dict[str, LibraryCopy] = {}
    for entry in entries:
        match = _VERSIONED.match(entry)
        if not match:
            continue
        library = next(name for name, soname in LIBRARIES.items() if soname == match.group(1))
        version, source = match.group(2), "file name"
        if version.count(".") < 2:  # libcudnn.so.9 -> follow the link to libcudnn.so.9.14.0
            target = files.link_target(f"{directory}/{entry}")
            target_match = _VERSIONED.match(os.path.basename(target)) if target else None
            if target_match and target_match.group(2).count(".") > version.count("."):
                version, source = target_match.group(2), "symlink target"
        previous = found.get(library)
        if previous is None or _precision(version) > _precision(previous.version):
            found[library] = LibraryCopy(library, version, f"{directory}/{entry}", origin, consumer, source)
    return list(found.values())


def _precision(version: str) -> int:
    return version.count(".")


def _wheel_copies(files: HostFiles, packages: List[PythonPackage]) -> List[LibraryCopy]:
    wheel_libraries = {"nvidia-cuda-runtime": "cudart", "nvidia-cudnn": "cudnn", "nvidia-nccl": "nccl"}
    frameworks = [p for p in packages if p.requires]
    copies = []
    for package in packages:
        library = next((lib for prefix, lib in wheel_libraries.items() if package.name.startswith(prefix)), None)
        if library is None:
            continue
        users = [f"{f.name} {f.version}" for f in frameworks if f.location == package.location
                 and any(_requirement_name(r) == package.name for r in f.requires)]
        consumer = ", ".join(users) if users else f"Python programs in {package.location}"
        path = _wheel_library_path(files, package, LIBRARIES[library]) or f"{package.location} ({package.name})"
        copies.append(LibraryCopy(library, package.version, path, "wheel", consumer, "wheel metadata"))
    return copies


def _wheel_library_path(files: HostFiles, package: PythonPackage, soname: str) -> Optional[str]:
    record = files.read_text(f"{package.location}/{_dist_info_dir(files, package)}/RECORD")
    if isinstance(record, Unavailable):
        return None
    for line in record.splitlines():
        relative = line.split(",", 1)[0]
        if os.path.basename(relative).startswith(soname + "."):
            return os.path.normpath(f"{package.location}/{relative}")
    return None


def _one_per_file(copies: Iterable[LibraryCopy]) -> List[LibraryCopy]:
    unique: Dict[str, LibraryCopy] = {}
    for copy in copies:
        unique.setdefault(copy.path, copy)
    return list(unique.values())


def value_or_empty(fact):
    return fact.value if isinstance(fact, Known) else []


# --- Python packages ---------------------------------------------------------------------------------


def _python_packages(files: HostFiles, site_dirs: Sequence[str]) -> Fact[List[PythonPackage]]:
    candidates = list(site_dirs)
    for pattern in SITE_PACKAGES_GLOBS:
        candidates.extend("/" + os.path.relpath(p, files.root) for p in sorted(glob.glob(files.path(pattern))))
    packages: List[PythonPackage] = []
    seen_dirs = set()
    for site_dir in candidates:
        real = files.real_path(site_dir)
        if real in seen_dirs:
            continue
        seen_dirs.add(real)
        entries = files.list_dir(site_dir)
        if isinstance(entries, Unavailable):
            continue
        for entry in entries:
            if not entry.endswith(".dist-info"):
                continue
            name = _normalize(entry[: -len(".dist-info")].rsplit("-", 1)[0])
            if not (name == "torch" or name.startswith("nvidia-") or name.startswith(("jax-cuda", "cupy-cuda"))
                    or name in ("vllm", "sglang", "tensorflow")):
                continue
            metadata = files.read_text(f"{site_dir}/{entry}/METADATA", limit_bytes=256 * 1024)
            if isinstance(metadata, Unavailable):
                continue
            version_match = re.search(r"^Version: (\S+)", metadata, re.MULTILINE)
            if not version_match:
                continue
            version = version_match.group(1)
            requires = tuple(r for r in re.findall(r"^Requires-Dist: (.+)$", metadata, re.MULTILINE)
                             if r.lower().startswith("nvidia-"))
            packages.append(PythonPackage(
                name=name, version=version, location=site_dir,
                cuda_version=_built_for_cuda(files, site_dir, name, version), requires=requires,
            ))
    return Known(packages, "*.dist-info/METADATA in site-packages")


def _built_for_cuda(files: HostFiles, site_dir: str, name: str, version: str) -> str:
    """The CUDA a framework was built for: torch writes it into torch/version.py (`cuda = '13.0'`), which
    is read as text; a local version tag (2.11.0+cu130) says the same where the file is missing."""
    if name == "torch":
        text = files.read_text(f"{site_dir}/torch/version.py", limit_bytes=16 * 1024)
        if isinstance(text, str):
            match = re.search(r"^cuda\s*(?::[^=]*)?=\s*['\"]([\d.]+)['\"]", text, re.MULTILINE)
            if match:
                return match.group(1)
    tag = _TORCH_CUDA().search(version)
    return f"{tag.group(1)}.{tag.group(2)}" if tag else ""


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _normalize(re.split(r"[ ;=<>!~\[(]", requirement, maxsplit=1)[0])


def _dist_info_dir(files: HostFiles, package: PythonPackage) -> str:
    # wheels name it {name with "_"}-{version}.dist-info (PEP 427); other installers may differ in case
    usual = f"{package.name.replace('-', '_')}-{package.version}.dist-info"
    if files.exists(f"{package.location}/{usual}"):
        return usual
    entries = files.list_dir(package.location)
    if isinstance(entries, Unavailable):
        return ""
    for entry in entries:
        if entry.endswith(".dist-info") and _normalize(entry[: -len(".dist-info")].rsplit("-", 1)[0]) == package.name:
            return entry
    return ""


# --- /dev/shm and Fabric Manager ---------------------------------------------------------------------


def _dev_shm_bytes(files: HostFiles) -> Fact[int]:
    mounts = files.read_text("/proc/mounts")
    if isinstance(mounts, Unavailable):
        return mounts
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[1] == "/dev/shm":
            size = re.search(r"(?:^|,)size=(\d+)([kmg]?)", fields[3])
            if size:
                scale = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[size.group(2)]
                return Known(int(size.group(1)) * scale, "/proc/mounts (size= of /dev/shm)")
            return _tmpfs_default(files)
    return Unavailable(Reason.NOT_FOUND, "/proc/mounts", "/dev/shm is not mounted")


def _tmpfs_default(files: HostFiles) -> Fact[int]:
    """A tmpfs mounted without size= gets half of the RAM (Documentation/filesystems/tmpfs.rst)."""
    meminfo = files.read_text("/proc/meminfo")
    if isinstance(meminfo, Unavailable):
        return meminfo
    match = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE)
    if not match:
        return Unavailable(Reason.ERROR, "/proc/meminfo", "no MemTotal line")
    return Known(int(match.group(1)) * 1024 // 2, "/proc/mounts (no size=, tmpfs default: half of MemTotal)")


_FABRIC_MANAGER_PACKAGE = lazy(lambda: re.compile(r"Package: (?:nvidia-)?fabricmanager(?:-\d+)?"))  # a whole line
_FABRIC_MANAGER_BINARIES = ("/usr/bin/nv-fabricmanager", "/usr/sbin/nv-fabricmanager")


def _fabric_manager_installed(files: HostFiles) -> Fact[bool]:
    installed = any(files.exists(path) for path in _FABRIC_MANAGER_BINARIES)
    return Known(installed, ", ".join(_FABRIC_MANAGER_BINARIES))


def _fabric_manager_version(files: HostFiles) -> Fact[str]:
    """From the package database: dpkg's status file (Debian, Ubuntu) names nvidia-fabricmanager-NNN."""
    status = files.read_text("/var/lib/dpkg/status", limit_bytes=64 << 20)
    if isinstance(status, Unavailable):
        return Unavailable(Reason.NOT_FOUND, "/var/lib/dpkg/status", "no dpkg database to read the version from")
    # Only the stanzas that name the package are looked at, found with a plain substring search: the
    # database of a server holds a thousand stanzas or more, and splitting and searching them all took
    # ~6 ms of every start.
    position = status.find("fabricmanager")
    while position >= 0:
        line_start = status.rfind("\n", 0, position) + 1
        line_end = status.find("\n", position)
        line_end = len(status) if line_end < 0 else line_end
        if _FABRIC_MANAGER_PACKAGE().fullmatch(status, line_start, line_end):
            start, end = status.rfind("\n\n", 0, line_start), status.find("\n\n", line_end)
            block = status[start + 2 if start >= 0 else 0:end if end >= 0 else len(status)]
            if re.search(r"^Status: install ok installed$", block, re.MULTILINE):
                version = re.search(r"^Version: (\d+\.\d+(?:\.\d+)?)", block, re.MULTILINE)
                if version:
                    return Known(version.group(1), "/var/lib/dpkg/status")
        position = status.find("fabricmanager", line_end)
    return Unavailable(Reason.NOT_FOUND, "/var/lib/dpkg/status", "no Fabric Manager package installed")
