"""HTTP GETs of JSON (Ollama's API), always with a timeout. Only the address the user configured (or
Ollama's default on loopback) is asked; nothing is sent but the GET, never through a proxy.

http.client, not urllib: urllib.request costs tens of milliseconds to import and gpubal must start fast.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any, Callable, Union
from urllib.parse import urlsplit

from ..model import Reason, Unavailable

HttpGetter = Callable[[str, float], Union[Any, Unavailable]]
MAX_BODY_BYTES = 4 << 20


def get_json(url: str, timeout_s: float) -> Union[Any, Unavailable]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Unavailable(Reason.ERROR, url, "not an http(s) URL")
    connection_type = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    connection = connection_type(parts.hostname, parts.port, timeout=timeout_s)
    try:
        connection.request("GET", path, headers={"Accept": "application/json", "User-Agent": "gpubal"})
        response = connection.getresponse()
        body = response.read(MAX_BODY_BYTES)
        status, reason = response.status, response.reason
    except ConnectionRefusedError:
        return Unavailable(Reason.NOT_FOUND, url, "connection refused: no server listens there")
    except (socket.timeout, TimeoutError):
        return Unavailable(Reason.TIMEOUT, url, f"no answer within {timeout_s:g} s")
    except (http.client.HTTPException, OSError) as error:
        return Unavailable(Reason.ERROR, url, f"{type(error).__name__}: {error}")
    finally:
        connection.close()
    if status != 200:
        return Unavailable(Reason.ERROR, url, f"HTTP {status} {reason}: {body[:200].decode('utf-8', 'replace')}")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        return Unavailable(Reason.ERROR, url, f"not JSON: {str(error)[:200]}")
