"""HTTP GETs of JSON (Ollama's API), always with a deadline. Only the address the user configured (or
Ollama's default on loopback) is asked; nothing is sent but the GET, never through a proxy.

http:// and https:// are spoken over a socket as HTTP/1.0 (the server then closes the connection after the
body and sends no chunked encoding): importing http.client pulls in the email package, ~25 ms here and
several times that on a slow VM, paid at every start for a request that usually meets a closed port; and
http.client's timeout is per read, so a server that trickles a byte at a time would hold it for ever.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Tuple, Union
from urllib.parse import urlsplit

from ...common.bounded import TooLarge, check_size, loads_json
from ...model import Reason, Unavailable

if TYPE_CHECKING:
    import socket

HttpGetter = Callable[[str, float], Union[Any, Unavailable]]
MAX_BODY_BYTES = 4 << 20
MAX_HEAD_BYTES = 64 << 10  # status line and headers, read before the body


def get_json(url: str, timeout_s: float) -> Union[Any, Unavailable]:
    import socket  # here: `gpubal topo` asks no server and never pays for it

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Unavailable(Reason.ERROR, url, "not an http(s) URL")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        if parts.scheme == "https":
            status, reason, body = _get_https(parts.hostname, parts.port or 443, path, timeout_s)
        else:
            status, reason, body = _get_http(parts.hostname, parts.port or 80, path, timeout_s)
    except TooLarge as error:
        return Unavailable(Reason.ERROR, url, f"refused: the answer is {error}")
    except ConnectionRefusedError:
        return Unavailable(Reason.NOT_FOUND, url, "connection refused: no server listens there")
    except (socket.timeout, TimeoutError):
        return Unavailable(Reason.TIMEOUT, url, f"no answer within {timeout_s:g} s")
    except (OSError, ValueError) as error:
        return Unavailable(Reason.ERROR, url, f"{type(error).__name__}: {error}")
    if status != 200:
        return Unavailable(Reason.ERROR, url, f"HTTP {status} {reason}: {body[:200].decode('utf-8', 'replace')}")
    try:
        return loads_json(body.decode("utf-8"), MAX_BODY_BYTES)
    except TooLarge as error:
        return Unavailable(Reason.ERROR, url, f"refused: the answer is {error}")
    except (UnicodeDecodeError, ValueError) as error:
        return Unavailable(Reason.ERROR, url, f"not JSON: {str(error)[:200]}")


def _get_http(host: str, port: int, path: str, timeout_s: float) -> Tuple[int, str, bytes]:
    import socket

    deadline = time.monotonic() + timeout_s
    with socket.create_connection((host, port), timeout=timeout_s) as connection:
        return _exchange(connection, host, port, path, deadline)


def _exchange(connection: "socket.socket", host: str, port: int, path: str, deadline: float) -> Tuple[int, str, bytes]:
    """One GET over an open connection; the deadline is for the whole answer, not for each read, so a
    server that trickles a byte at a time still ends in time."""
    host_header = f"[{host}]" if ":" in host else host
    request = (f"GET {path} HTTP/1.0\r\nHost: {host_header}:{port}\r\nAccept: application/json\r\n"
               "User-Agent: gpubal\r\nConnection: close\r\n\r\n").encode("ascii")
    connection.settimeout(max(0.001, deadline - time.monotonic()))
    connection.sendall(request)
    received = bytearray()
    while len(received) <= MAX_HEAD_BYTES + MAX_BODY_BYTES:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        connection.settimeout(remaining)
        chunk = connection.recv(65536)
        if not chunk:
            break
        received += chunk
    head, separator, body = bytes(received).partition(b"\r\n\r\n")
    check_size(len(body), MAX_BODY_BYTES)
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split(" ", 2)
    if not separator or len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        raise ValueError(f"not an HTTP response: {status_line[:80]!r}")
    return int(fields[1]), fields[2] if len(fields) > 2 else "", body


def _tls_context():
    import ssl

    return ssl.create_default_context()


def _get_https(host: str, port: int, path: str, timeout_s: float) -> Tuple[int, str, bytes]:
    """HTTPS (a proxy in front of Ollama) the same way: the TLS handshake, too, runs under the deadline."""
    import select
    import socket
    import ssl

    deadline = time.monotonic() + timeout_s
    with socket.create_connection((host, port), timeout=timeout_s) as raw:
        with _tls_context().wrap_socket(raw, server_hostname=host, do_handshake_on_connect=False) as connection:
            connection.setblocking(False)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("deadline passed in the TLS handshake")
                try:
                    connection.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    select.select([connection], [], [], remaining)
                except ssl.SSLWantWriteError:
                    select.select([], [connection], [], remaining)
            connection.setblocking(True)
            try:
                return _exchange(connection, host, port, path, deadline)
            except ssl.SSLError as error:
                raise ValueError(f"TLS: {error}") from None
