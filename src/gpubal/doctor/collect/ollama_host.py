"""OLLAMA_HOST read the way Ollama reads it, so gpubal asks the server Ollama's own client would ask.

Ollama's parsing (envconfig/config.go, `Var`, `Host` and `ConnectableHost`, ollama/ollama at fb30760,
August 2026) and its client's request URLs (api/client.go: `c.base.JoinPath(path)`):

- quotes and spaces around the value are dropped; no `://` means scheme http and default port 11434,
  `http://` means port 80, `https://` port 443, another scheme keeps 11434; the bare value `ollama.com`
  means https://ollama.com:443;
- everything after the first `/` is a path prefix for every API call (a reverse proxy's `/ollama`); a
  `?` or `#` in it is part of the path, escaped (`/x%3Fa=1/api/version`), not a query;
- host and port split as Go's net.SplitHostPort does; when that fails the whole rest is the host (an
  IP literal in normal form) and the scheme's default port is used; a port outside 0..65535 is replaced
  by the default;
- 0.0.0.0 and :: (bind-everywhere addresses) are reached at 127.0.0.1 and ::1 (`ConnectableHost`); an
  empty host, as in `:11435`, is this host too (Go dials the local system).

Ollama takes no user name or password from OLLAMA_HOST: `user:pass@host` becomes a host name that no
client can connect to. gpubal says so without repeating the password.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Optional, Tuple
from urllib.parse import quote

from ...model import Fact, Known, Reason, Unavailable, record

DEFAULT_PORT = 11434
DEFAULT_URL = "http://127.0.0.1:11434"
_HOSTNAME = re.compile(r"[A-Za-z0-9._-]*")  # what a client can resolve: letters, digits, dot, dash, underscore


@record
class OllamaHost:
    scheme: str
    host: str  # without brackets; may be empty (Go dials the local system then)
    port: int
    path: str  # what followed the first "/", unescaped, without the leading "/"

    def base_url(self) -> str:
        """url.URL{Scheme, Host: JoinHostPort(host, port), Path}.String(), as Ollama's client builds it."""
        return f"{self.scheme}://{_join_host_port(self.host, self.port)}" + \
            (f"/{_escape_path(self.path)}" if self.path else "")


def parse_ollama_host(value: str) -> OllamaHost:
    """envconfig.Host(): what Ollama's client and server make of an OLLAMA_HOST value."""
    value = value.strip().strip("\"'").strip()  # Var() trims spaces then quotes; Host() trims spaces again
    default_port = DEFAULT_PORT
    scheme, separator, hostport = value.partition("://")
    if not separator:
        scheme, hostport = "http", value
        if value == "ollama.com":
            scheme, hostport = "https", "ollama.com:443"
    elif scheme == "http":
        default_port = 80
    elif scheme == "https":
        default_port = 443
    hostport, _, path = hostport.partition("/")
    split = _split_host_port(hostport)
    if split is None:
        host, port_text = "127.0.0.1", str(default_port)
        ip = _parse_ip(hostport.strip("[]"))
        if ip is not None:
            host = ip
        elif hostport:
            host = hostport
    else:
        host, port_text = split
    port = _parse_int(port_text)
    if port is None or not 0 <= port <= 65535:
        port = default_port
    return OllamaHost(scheme, host, port, path)


def connectable(parsed: OllamaHost) -> OllamaHost:
    """envconfig.ConnectableHost(): a bind-everywhere address is reached on loopback."""
    ip = _parse_ip(parsed.host)
    if ip == "0.0.0.0" or parsed.host == "":
        return OllamaHost(parsed.scheme, "127.0.0.1", parsed.port, parsed.path)
    if ip == "::":
        return OllamaHost(parsed.scheme, "::1", parsed.port, parsed.path)
    return parsed


def client_url(value: str, source: str) -> Fact[str]:
    """The base URL Ollama's client (`ollama ps`, api.ClientFromEnvironment) uses for this OLLAMA_HOST,
    or why no client can connect there. The value's password is never repeated."""
    parsed = connectable(parse_ollama_host(value))
    problem = _unreachable(parsed)
    if problem:
        return Unavailable(Reason.ERROR, source, problem)
    return Known(parsed.base_url(), source)


def server_url(value: str, source: str) -> Fact[str]:
    """Where a server started with this OLLAMA_HOST answers: `ollama serve` listens on Host().Host with
    plain HTTP and serves the API at the root, whatever scheme or path the value names."""
    parsed = connectable(parse_ollama_host(value))
    problem = _unreachable(parsed)
    if problem:
        return Unavailable(Reason.ERROR, source, problem)
    return Known(OllamaHost("http", parsed.host, parsed.port, "").base_url(), source)


def api_url(base_url: str, api_path: str) -> str:
    """base.JoinPath(api_path): `http://h:80/ollama` + `/api/ps` is `http://h:80/ollama/api/ps`."""
    scheme, _, rest = base_url.partition("://")
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority}" + _clean("/" + path + "/" + api_path.lstrip("/"))


def _unreachable(parsed: OllamaHost) -> Optional[str]:
    if _parse_ip(parsed.host) is not None or _HOSTNAME.fullmatch(parsed.host):
        return None
    if "@" in parsed.host:
        shown = parsed.host.rpartition("@")[2]
        return (f"OLLAMA_HOST names a user (and maybe a password, not shown) before the host {shown!r}; Ollama "
                "reads no credentials from OLLAMA_HOST and takes the whole `user:...@host` for a host name, so "
                "its own client cannot connect there either")
    return (f"OLLAMA_HOST gives the host name {parsed.host!r} (as Ollama's client reads it), which no client "
            "can connect to")


def _split_host_port(hostport: str) -> Optional[Tuple[str, str]]:
    """net.SplitHostPort: None where Go returns an error (no port, too many colons, stray brackets)."""
    last_colon = hostport.rfind(":")
    if last_colon < 0:
        return None
    start, end_search = 0, 0
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0 or end + 1 != last_colon:
            return None
        host = hostport[1:end]
        start, end_search = 1, end + 1
    else:
        host = hostport[:last_colon]
        if ":" in host:
            return None
    if "[" in hostport[start:] or "]" in hostport[end_search:]:
        return None
    return host, hostport[last_colon + 1:]


def _parse_int(text: str) -> Optional[int]:
    """strconv.ParseInt(text, 10, 32): an optional sign, then ASCII digits only."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    number = int(text)
    return number if -2**31 <= number < 2**31 else None


def _parse_ip(text: str) -> Optional[str]:
    """net.ParseIP(text).String(), or None: IPv4, IPv6, and IPv4-mapped IPv6 shown as IPv4."""
    if not text or "%" in text:  # ParseIP takes no zone
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _escape_path(path: str) -> str:
    """url.URL.EscapedPath() for a path set directly: everything but unreserved characters and
    $&+,/:;=@ is %-escaped, a `?` and a `%` included."""
    return quote(path, safe="/$&+,:;=@")


def _clean(path: str) -> str:
    """Go's path.Clean for a rooted path: no empty, `.` or `..` segments."""
    parts = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if parts:
                parts.pop()
            continue
        parts.append(segment)
    return "/" + "/".join(parts)
