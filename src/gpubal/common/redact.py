"""What a report may show to others: secrets never, and with --redact no host identity either.

Two passes over the Report (its Snapshot, and every finding's message, evidence and fix), both pure:

- Always: environment variables whose names look secret (TOKEN, KEY, SECRET, PASSWORD, AUTH,
  CREDENTIAL, ...) are dropped from every mapping, wherever they are, and passwords in URLs
  (`https://user:pass@host`) are cut. Collection drops them already; a snapshot written by hand or by
  another tool may still hold them, and a report must never show them.
- With `redact=True`: hostnames, IPv4/IPv6 and MAC addresses, user names in home paths (/home/NAME,
  /Users/NAME), GPU and MIG UUIDs and GPU serial numbers become placeholders (`host-1`, `ip-1`,
  `mac-1`, `user-1`, `GPU-uuid-1`, `serial-1`). One Redactor serves the whole report, so the same value
  gets the same placeholder everywhere in it and the report stays consistent (GPU-uuid-1 in a finding is
  GPU-uuid-1 in the facts and in the embedded snapshot).

A redacted snapshot is still a valid snapshot: every string stays a string, so `gpubal doctor --snapshot`
reads a redacted report back.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import re
from typing import Any, Dict, List, Tuple

from ..model import Known, Report, Snapshot, value_or
from .links import documentation_hosts
from .secret_values import drop_secret_values, looks_secret  # one list for collect, ingest and reports
from .lazy import lazy

_UUID = lazy(lambda: re.compile(r"\b(?:GPU|MIG)-[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b"))
_MAC = lazy(lambda: re.compile(
    r"(?<![\w:-])[0-9a-fA-F]{2}(?P<sep>[:-])[0-9a-fA-F]{2}(?:(?P=sep)[0-9a-fA-F]{2}){4}(?![\w:-])"))
_IPV4 = lazy(lambda: re.compile(r"(?<![\w.-])(?:\d{1,3}\.){3}\d{1,3}(?![\w-]|\.\d)"))
_IPV6 = lazy(lambda: re.compile(r"(?<![\w:.])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}(?![\w:])"))
_HOME = lazy(lambda: re.compile(r"(?P<prefix>/home/|/Users/)(?P<name>[^/\s\"'`:;,]+)"))
_NOT_IDENTIFYING_IPS = ("0.0.0.0", "255.255.255.255", "::", "::1")
# the host of a URL: scheme://[user@]HOST
_URL_HOST = lazy(lambda: re.compile(
    r"(?<![\w+.-])(?P<head>[a-zA-Z][\w+.-]*://(?:[^/\s@]*@)?)(?P<host>[A-Za-z0-9._-]+)"))
# NAME=value in a command line or unit, where NAME says the value names hosts
_ASSIGNMENT = lazy(lambda: re.compile(r"(?<![\w.-])(?P<name>[A-Za-z_][\w.-]*)=(?P<value>\"[^\"]*\"|'[^']*'|[^\s\"']+)"))
# variable names whose values name other hosts: proxies, registries, gateways, servers, endpoints
HOST_WORDS = ("HOST", "PROXY", "REGISTRY", "GATEWAY", "ENDPOINT", "URL", "URI", "ADDR", "SERVER", "MIRROR",
              "DOMAIN", "REMOTE", "MASTER", "PEER")
# public hosts whose names say nothing about the site: the services gpubal itself cites, and the host of
# every documentation page in links.py (so a page added there is never taken for a site's own host)
PUBLIC_HOSTS = ("localhost", "developer.nvidia.com", "download.nvidia.com", "nvidia.com",
                "github.com", "raw.githubusercontent.com", "ollama.com", "registry.ollama.ai", "huggingface.co",
                "download.pytorch.org", "pypi.org", "docs.sglang.ai",
                "docs.docker.com", "www.kernel.org", "docs.python.org") + documentation_hosts()
_PUBLIC_SUFFIXES = tuple("." + public for public in PUBLIC_HOSTS)
_HOST_LIST_WORD = lazy(lambda: re.compile(r"[^\s,;\"'\[\]]+"))
_HAS_LETTER = lazy(lambda: re.compile(r"[A-Za-z]"))
_IPV6_LIKE = lazy(lambda: re.compile(r"[0-9a-f:]+"))


class Redactor:
    """Replaces identifying values with numbered placeholders, the same placeholder for the same value."""

    def __init__(self, snapshot: Snapshot):
        self._placeholders: Dict[Tuple[str, str], str] = {}
        self._counts: Dict[str, int] = {}
        # values known to identify this host, replaced wherever they appear as whole words
        self._known: List[Tuple[re.Pattern, str]] = []
        self._hosts_seen: Dict[str, str] = {}
        hostname = value_or(snapshot.host.hostname, "")
        names = {hostname, hostname.split(".")[0]} - {"", "localhost", "localhost.localdomain"}
        for name in sorted(names, key=len, reverse=True):
            self._known.append((re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])"), "host"))
        gpus = value_or(snapshot.gpus, [])
        serials = {value_or(gpu.serial, "") for gpu in gpus} - {"", "0", "N/A"}
        for serial in sorted(serials):
            self._known.append((re.compile(rf"(?<![\w-]){re.escape(serial)}(?![\w-])"), "serial"))

    def placeholder(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key not in self._placeholders:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            number = self._counts[kind]
            self._placeholders[key] = f"GPU-uuid-{number}" if kind == "uuid" else f"{kind}-{number}"
        return self._placeholders[key]

    def field(self, text: str, field_name: str) -> str:
        """A string of the report as it may be shown; a process's user is a name on its own."""
        if field_name == "user" and text and text != "root":
            return self.placeholder("user", text)
        return self.text(_drop_secrets(text), is_version="version" in field_name, field_name=field_name)

    def text(self, text: str, is_version: bool = False, field_name: str = "") -> str:
        if field_name != "url":  # a fix's documentation link is gpubal's own, never the host's
            text = self._other_hosts(text, field_name)
        text = _UUID().sub(lambda m: self.placeholder("uuid", m.group(0).upper()), text)
        for pattern, kind in self._known:
            text = pattern.sub(lambda m, kind=kind: self.placeholder(kind, m.group(0)), text)
        text = _MAC().sub(lambda m: self.placeholder("mac", m.group(0).lower().replace("-", ":")), text)
        if not is_version:  # "9.1.0.70" is a cuDNN version, not an address
            text = _IPV4().sub(self._ipv4, text)
        text = _IPV6().sub(self._ipv6, text)
        return _HOME().sub(lambda m: m.group("prefix") + self.placeholder("user", m.group("name")), text)

    def _other_hosts(self, text: str, field_name: str) -> str:
        """Names of other hosts (a proxy, a registry, a gateway): in URLs, in NAME=value assignments whose
        NAME says hosts, and in the whole value of such a variable."""
        if _names_hosts(field_name):
            return self._host_list(text)
        text = _URL_HOST().sub(lambda m: m.group("head") + self._host(m.group("host")), text)
        return _ASSIGNMENT().sub(lambda m: m.group("name") + "=" + self._host_list(m.group("value"))
                               if _names_hosts(m.group("name")) else m.group(0), text)

    def _host_list(self, value: str) -> str:
        """Each host in `proxy.corp:3128`, `http://u@gw.corp/x`, `localhost,.corp.example,10.0.0.0/8`."""
        def one(match: "re.Match[str]") -> str:
            token = match.group(0)
            scheme, separator, rest = token.partition("://")
            head = scheme + separator if separator else ""
            rest = rest if separator else token
            user, at, hostport = rest.rpartition("@")
            head += user + at
            lead = len(hostport) - len(hostport.lstrip("*."))
            name_end = len(hostport)
            for stop in ("/", ":", "?", "#"):
                index = hostport.find(stop, lead)
                if index >= 0:
                    name_end = min(name_end, index)
            name = hostport[lead:name_end]
            return head + hostport[:lead] + self._host(name) + hostport[name_end:]
        return _HOST_LIST_WORD().sub(one, value)

    def _host(self, name: str) -> str:
        shown = self._hosts_seen.get(name)
        if shown is None:
            shown = self._hosts_seen[name] = self._host_placeholder(name)
        return shown

    def _host_placeholder(self, name: str) -> str:
        bare = name.strip(".").lower()
        if not _HAS_LETTER().search(bare) or bare.startswith("host-") or _IPV6_LIKE().fullmatch(bare):
            return name  # an address (the address patterns take it), a number, a placeholder
        if bare in PUBLIC_HOSTS or bare.endswith(_PUBLIC_SUFFIXES):
            return name
        return self.placeholder("host", bare)

    def _ipv4(self, match: "re.Match[str]") -> str:
        try:
            address = ipaddress.IPv4Address(match.group(0))
        except ValueError:
            return match.group(0)  # 300.1.2.3 is not an address
        if address.is_loopback or str(address) in _NOT_IDENTIFYING_IPS:
            return match.group(0)
        return self.placeholder("ip", str(address))

    def _ipv6(self, match: "re.Match[str]") -> str:
        text = match.group(0)
        if "::" not in text and text.count(":") != 7:  # 12:30:45 and 0000:c1:00.0 are not addresses
            return text
        try:
            address = ipaddress.IPv6Address(text)
        except ValueError:
            return text
        if address.is_loopback or address.is_unspecified:
            return text
        return self.placeholder("ip", str(address))


def _walk(obj: Any, change_text, field_name: str = "") -> Any:
    """A copy of obj with every string passed through change_text(text, field_name) and secret-named
    mapping entries dropped. Dataclasses, facts, lists, tuples and dicts keep their types. A part in which
    nothing changed is obj itself, not a copy (a plain report changes few of its strings, and copying the
    whole of it cost more than the looking)."""
    if type(obj) is str:
        return change_text(obj, field_name)
    if isinstance(obj, enum.Enum) or obj is None or isinstance(obj, (bool, int, float)):
        return obj  # before str: Severity and Reason are str enums
    if isinstance(obj, str):
        return change_text(obj, field_name)
    if isinstance(obj, Known):
        value, source = _walk(obj.value, change_text, field_name), change_text(obj.source, "source")
        return obj if value is obj.value and source is obj.source else Known(value, source)
    if dataclasses.is_dataclass(obj):
        changed = {}
        for name in _init_fields(type(obj)):
            value = getattr(obj, name)
            walked = _walk(value, change_text, name)
            if walked is not value:
                changed[name] = walked
        return dataclasses.replace(obj, **changed) if changed else obj
    if isinstance(obj, (list, tuple)):
        items = [_walk(item, change_text, field_name) for item in obj]
        return obj if all(new is old for new, old in zip(items, obj)) else type(obj)(items)
    if isinstance(obj, dict):
        walked = {change_text(key, "key") if isinstance(key, str) else key: _walk(value, change_text, str(key))
                  for key, value in obj.items() if not (isinstance(key, str) and looks_secret(key))}
        if len(walked) == len(obj) and all(key in obj and walked[key] is obj[key] for key in walked):
            return obj
        return walked
    return obj


_INIT_FIELDS: Dict[type, Tuple[str, ...]] = {}


def _init_fields(cls: type) -> Tuple[str, ...]:
    """The fields a dataclass's __init__ takes, looked up once per class."""
    names = _INIT_FIELDS.get(cls)
    if names is None:
        names = _INIT_FIELDS[cls] = tuple(field.name for field in dataclasses.fields(cls) if field.init)
    return names


def _names_hosts(name: str) -> bool:
    """A variable about hosts: HTTPS_PROXY, https_proxy, OLLAMA_HOST, DOCKER_REGISTRY, server_url; not an
    evidence key naming a fact (`host.container`)."""
    return bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)) and any(word in name.upper() for word in HOST_WORDS) \
        and not looks_secret(name)


def _drop_secrets(text: str, field_name: str = "") -> str:
    return drop_secret_values(text)


def redact_report(report: Report, redact: bool) -> Report:
    """The report as it may be shown: secrets dropped always; host identity replaced when `redact`."""
    if not redact:
        return _walk(report, _drop_secrets)
    redactor = Redactor(report.snapshot)

    def change(text: str, field_name: str) -> str:
        return redactor.field(text, field_name)

    # the snapshot first, so placeholders are numbered in the order the facts list them
    snapshot = _walk(report.snapshot, change)
    results = _walk(report.results, change)
    return dataclasses.replace(report, snapshot=snapshot, results=results)


def redact_snapshot(snapshot: Snapshot, redact: bool) -> Snapshot:
    """A snapshot as it may be saved for others (`gpubal collect --redact`)."""
    if not redact:
        return _walk(snapshot, _drop_secrets)
    redactor = Redactor(snapshot)
    return _walk(snapshot, redactor.field)
