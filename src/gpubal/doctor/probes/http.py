"""HTTP GETs of JSON (Ollama's API), always with a timeout. Only loopback or the address the user
configured is asked; nothing is sent but the GET."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from typing import Any, Callable, Union

from ..model import Reason, Unavailable

HttpGetter = Callable[[str, float], Union[Any, Unavailable]]


def get_json(url: str, timeout_s: float) -> Union[Any, Unavailable]:
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "gpubal"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    try:
        with opener.open(request, timeout=timeout_s) as response:
            body = response.read(4 << 20)
    except urllib.error.HTTPError as error:
        return Unavailable(Reason.ERROR, url, f"HTTP {error.code} {error.reason}")
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, socket.timeout) or "timed out" in str(reason):
            return Unavailable(Reason.TIMEOUT, url, f"no answer within {timeout_s:g} s")
        if isinstance(reason, ConnectionRefusedError):
            return Unavailable(Reason.NOT_FOUND, url, "connection refused: no server listens there")
        return Unavailable(Reason.ERROR, url, str(reason))
    except (socket.timeout, TimeoutError):
        return Unavailable(Reason.TIMEOUT, url, f"no answer within {timeout_s:g} s")
    except (http.client.HTTPException, OSError) as error:
        return Unavailable(Reason.ERROR, url, f"{type(error).__name__}: {error}")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        return Unavailable(Reason.ERROR, url, f"not JSON: {str(error)[:200]}")
