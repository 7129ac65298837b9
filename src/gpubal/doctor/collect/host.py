"""Facts about the host itself: name, kernel, OS, CPU, NUMA layout, VM and container."""

from __future__ import annotations

import re
from typing import List, Union

from ...common.cpulist import parse_cpulist
from ...model import Fact, Host, Known, NumaNode, Reason, Unavailable
from ..probes.files import HostFiles

_VM_VENDORS = (
    ("qemu", "kvm"), ("kvm", "kvm"), ("amazon ec2", "kvm"), ("google", "kvm"), ("microsoft", "hyper-v"),
    ("vmware", "vmware"), ("xen", "xen"), ("innotek", "virtualbox"), ("oracle", "virtualbox"),
    ("firecracker", "firecracker"),
)


def collect_host(files: HostFiles) -> Host:
    cpuinfo = files.read_text("/proc/cpuinfo")
    return Host(
        hostname=_line(files, "/proc/sys/kernel/hostname"),
        kernel_release=_line(files, "/proc/sys/kernel/osrelease"),
        os_release=_os_release(files),
        cpu_model=_cpu_model(cpuinfo),
        cpu_count=_cpu_count(cpuinfo),
        numa_nodes=_numa_nodes(files),
        virtualization=_virtualization(files, cpuinfo),
        container=_container(files),
        uptime_seconds=_uptime(files),
    )


def _uptime(files: HostFiles) -> Fact[int]:
    text = files.read_line("/proc/uptime")
    if isinstance(text, Unavailable):
        return text
    try:
        return Known(int(float(text.split()[0])), "/proc/uptime")
    except (ValueError, IndexError):
        return Unavailable(Reason.ERROR, "/proc/uptime", f"not an uptime: {text!r}")


def _line(files: HostFiles, path: str) -> Fact[str]:
    text = files.read_line(path)
    return text if isinstance(text, Unavailable) else Known(text, path)


def _os_release(files: HostFiles) -> Fact[str]:
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        text = files.read_text(path)
        if isinstance(text, Unavailable):
            continue
        match = re.search(r'^PRETTY_NAME=["\']?(.*?)["\']?\s*$', text, re.MULTILINE)
        if match:
            return Known(match.group(1), path)
        return Unavailable(Reason.NOT_FOUND, path, "no PRETTY_NAME line")
    return Unavailable(Reason.NOT_FOUND, "/etc/os-release")


def _cpu_model(cpuinfo: Union[str, Unavailable]) -> Fact[str]:
    if isinstance(cpuinfo, Unavailable):
        return cpuinfo
    match = re.search(r"^(?:model name|Model|cpu model)\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    if not match:
        return Unavailable(Reason.NOT_FOUND, "/proc/cpuinfo", "no model name line")
    return Known(match.group(1).strip(), "/proc/cpuinfo")


def _cpu_count(cpuinfo: Union[str, Unavailable]) -> Fact[int]:
    if isinstance(cpuinfo, Unavailable):
        return cpuinfo
    count = len(re.findall(r"^processor\s*:", cpuinfo, re.MULTILINE))
    return Known(count, "/proc/cpuinfo") if count else Unavailable(Reason.NOT_FOUND, "/proc/cpuinfo", "no processor lines")


def _numa_nodes(files: HostFiles) -> Fact[List[NumaNode]]:
    root = "/sys/devices/system/node"
    entries = files.list_dir(root)
    if isinstance(entries, Unavailable):
        return entries
    nodes = []
    for entry in entries:
        match = re.fullmatch(r"node(\d+)", entry)
        if not match:
            continue
        cpulist = files.read_line(f"{root}/{entry}/cpulist")
        if isinstance(cpulist, Unavailable):
            return cpulist
        try:
            parse_cpulist(cpulist)
        except ValueError:
            return Unavailable(Reason.ERROR, f"{root}/{entry}/cpulist", f"not a cpulist: {cpulist!r}")
        nodes.append(NumaNode(int(match.group(1)), cpulist))
    if not nodes:
        return Unavailable(Reason.NOT_FOUND, root, "no node directories")
    return Known(sorted(nodes, key=lambda node: node.node_id), f"{root}/node*/cpulist")


def _virtualization(files: HostFiles, cpuinfo: Union[str, Unavailable]) -> Fact[str]:
    vendor = files.read_line("/sys/class/dmi/id/sys_vendor")
    product = files.read_line("/sys/class/dmi/id/product_name")
    dmi = " ".join(text for text in (vendor, product) if isinstance(text, str)).lower()
    for needle, name in _VM_VENDORS:
        if needle in dmi:
            return Known(name, "/sys/class/dmi/id/sys_vendor, product_name")
    if isinstance(cpuinfo, Unavailable):
        return cpuinfo
    if re.search(r"^flags\s*:.*\bhypervisor\b", cpuinfo, re.MULTILINE):
        return Known("vm", "/proc/cpuinfo (hypervisor flag)")
    if re.search(r"^flags\s*:", cpuinfo, re.MULTILINE):
        return Known("none", "/proc/cpuinfo (no hypervisor flag)")
    return Unavailable(Reason.NOT_FOUND, "/proc/cpuinfo", "no flags line to look for a hypervisor in")


def _container(files: HostFiles) -> Fact[str]:
    if files.exists("/.dockerenv"):
        return Known("docker", "/.dockerenv")
    if files.exists("/run/.containerenv"):
        return Known("podman", "/run/.containerenv")
    cgroup = files.read_text("/proc/1/cgroup")
    if isinstance(cgroup, Unavailable):
        return cgroup
    for needle, name in (("kubepods", "kubernetes"), ("docker", "docker"), ("containerd", "containerd"),
                         ("lxc", "lxc")):
        if needle in cgroup:
            return Known(name, "/proc/1/cgroup")
    return Known("none", "/.dockerenv, /run/.containerenv, /proc/1/cgroup")
