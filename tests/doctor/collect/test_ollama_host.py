"""OLLAMA_HOST as Ollama reads it. The tables are Ollama's own cases, copied from envconfig/config_test.go
(TestHost and TestConnectableHost, github.com/ollama/ollama at fb30760, August 2026), so gpubal asks the
server that `ollama ps` would ask; then the values Ollama accepts that once crashed gpubal, against a real
HTTP server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gpubal.balance.sampler import Sampler, ollama_url_from_environment
from gpubal.doctor.collect.ollama import collect_ollama
from gpubal.doctor.collect.ollama_host import api_url, client_url, connectable, parse_ollama_host, server_url
from gpubal.model import Known, Reason, Unavailable
from gpubal.doctor.probes.files import HostFiles
from gpubal.doctor.probes.http import get_json

# envconfig/config_test.go, TestHost: OLLAMA_HOST -> Host().String()
OLLAMA_TEST_HOST = {
    "empty": ("", "http://127.0.0.1:11434"),
    "only address": ("1.2.3.4", "http://1.2.3.4:11434"),
    "only port": (":1234", "http://:1234"),
    "address and port": ("1.2.3.4:1234", "http://1.2.3.4:1234"),
    "hostname": ("example.com", "http://example.com:11434"),
    "hostname and port": ("example.com:1234", "http://example.com:1234"),
    "zero port": (":0", "http://:0"),
    "too large port": (":66000", "http://:11434"),
    "too small port": (":-1", "http://:11434"),
    "ipv6 localhost": ("[::1]", "http://[::1]:11434"),
    "ipv6 world open": ("[::]", "http://[::]:11434"),
    "ipv6 no brackets": ("::1", "http://[::1]:11434"),
    "ipv6 + port": ("[::1]:1337", "http://[::1]:1337"),
    "extra space": (" 1.2.3.4 ", "http://1.2.3.4:11434"),
    "extra quotes": ("\"1.2.3.4\"", "http://1.2.3.4:11434"),
    "extra space+quotes": (" \" 1.2.3.4 \" ", "http://1.2.3.4:11434"),
    "extra single quotes": ("'1.2.3.4'", "http://1.2.3.4:11434"),
    "http": ("http://1.2.3.4", "http://1.2.3.4:80"),
    "http port": ("http://1.2.3.4:4321", "http://1.2.3.4:4321"),
    "https": ("https://1.2.3.4", "https://1.2.3.4:443"),
    "https port": ("https://1.2.3.4:4321", "https://1.2.3.4:4321"),
    "proxy path": ("https://example.com/ollama", "https://example.com:443/ollama"),
    "ollama.com": ("ollama.com", "https://ollama.com:443"),
}

# envconfig/config_test.go, TestConnectableHost: OLLAMA_HOST -> ConnectableHost().String()
OLLAMA_TEST_CONNECTABLE_HOST = {
    "empty": ("", "http://127.0.0.1:11434"),
    "localhost": ("127.0.0.1", "http://127.0.0.1:11434"),
    "localhost and port": ("127.0.0.1:1234", "http://127.0.0.1:1234"),
    "ipv4 unspecified": ("0.0.0.0", "http://127.0.0.1:11434"),
    "ipv4 unspecified + port": ("0.0.0.0:1234", "http://127.0.0.1:1234"),
    "ipv6 unspecified": ("[::]", "http://[::1]:11434"),
    "ipv6 unspecified + port": ("[::]:1234", "http://[::1]:1234"),
    "ipv6 localhost": ("[::1]", "http://[::1]:11434"),
    "ipv6 localhost + port": ("[::1]:1234", "http://[::1]:1234"),
    "specific address": ("192.168.1.5", "http://192.168.1.5:11434"),
    "specific address + port": ("192.168.1.5:8080", "http://192.168.1.5:8080"),
    "hostname": ("example.com", "http://example.com:11434"),
    "hostname and port": ("example.com:1234", "http://example.com:1234"),
    "https unspecified + port": ("https://0.0.0.0:4321", "https://127.0.0.1:4321"),
}


@pytest.mark.parametrize("value,expected", OLLAMA_TEST_HOST.values(), ids=list(OLLAMA_TEST_HOST))
def test_host_as_ollama_reads_it(value, expected):
    assert parse_ollama_host(value).base_url() == expected


@pytest.mark.parametrize("value,expected", OLLAMA_TEST_CONNECTABLE_HOST.values(),
                         ids=list(OLLAMA_TEST_CONNECTABLE_HOST))
def test_connectable_host_as_ollama_reads_it(value, expected):
    assert connectable(parse_ollama_host(value)).base_url() == expected
    if value:  # gpubal's own default covers the empty value
        assert client_url(value, "OLLAMA_HOST").value == expected


@pytest.mark.parametrize("base,expected", [
    # api/client.go: c.base.JoinPath("/api/ps"); a `?` left in the path is escaped, not a query
    ("http://127.0.0.1:11434", "http://127.0.0.1:11434/api/ps"),
    ("https://example.com:443/ollama", "https://example.com:443/ollama/api/ps"),
    ("http://h:80/a/../b/", "http://h:80/b/api/ps"),
    (parse_ollama_host("http://h:8080/x?a=1").base_url(), "http://h:8080/x%3Fa=1/api/ps"),
])
def test_api_calls_join_the_path_as_ollamas_client_does(base, expected):
    assert api_url(base, "/api/ps") == expected


def test_a_port_that_is_not_a_number_falls_back_to_the_schemes_default():
    # Go's SplitHostPort gives the port "11434?x=1"; ParseInt refuses it; Host() logs and uses 80
    assert client_url("http://127.0.0.1:11434?x=1", "OLLAMA_HOST").value == "http://127.0.0.1:80"


def test_the_units_value_is_where_the_server_listens_plain_http_at_the_root():
    # `ollama serve` listens on Host().Host with plain HTTP; scheme and path do not move its API
    assert server_url("https://0.0.0.0/ignored", "unit").value == "http://127.0.0.1:443"
    assert server_url("0.0.0.0:11435", "unit").value == "http://127.0.0.1:11435"


def test_credentials_are_refused_without_repeating_the_password():
    fact = client_url("http://admin:hunter2@10.1.2.3:11434", "OLLAMA_HOST")
    assert isinstance(fact, Unavailable) and fact.reason is Reason.ERROR
    assert "hunter2" not in repr(fact) and "10.1.2.3:11434" in fact.detail


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1 that answers Ollama's /api/version under any path prefix and
    records which paths it was asked."""
    asked = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            asked.append(self.path)
            known = self.path.endswith("/api/version") or self.path.endswith("/api/ps")
            payload = b'{"version": "0.12.6"}' if self.path.endswith("/api/version") else b'{"models": []}'
            self.send_response(200 if known else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload if known else b"{}")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], asked
    httpd.shutdown()
    httpd.server_close()


def _collect(tmp_path, ollama_host):
    return collect_ollama(HostFiles(str(tmp_path)), {"OLLAMA_HOST": ollama_host, "PATH": ""}, Known({}, "test"),
                          lambda argv, timeout: Unavailable(Reason.NOT_FOUND, " ".join(argv)), get_json)


def test_a_path_prefix_is_asked_as_ollamas_client_asks_it(server, tmp_path):
    port, asked = server
    ollama = _collect(tmp_path, f"http://127.0.0.1:{port}/ollama")
    assert ollama.server_version.value == "0.12.6"
    assert sorted(asked) == ["/ollama/api/ps", "/ollama/api/version"]


def test_a_query_string_after_a_path_stays_in_the_path(server, tmp_path):
    port, asked = server
    ollama = _collect(tmp_path, f"http://127.0.0.1:{port}/x?a=1")
    assert ollama.server_version.value == "0.12.6"
    assert "/x%3Fa=1/api/version" in asked


def test_user_and_password_make_every_api_fact_unavailable_and_never_shown(server, tmp_path):
    port, asked = server
    ollama = _collect(tmp_path, f"http://admin:hunter2@127.0.0.1:{port}")
    for fact in (ollama.server_url, ollama.server_version, ollama.running_models):
        assert isinstance(fact, Unavailable) and "hunter2" not in repr(fact)
    assert asked == []


def test_balance_reads_ollama_host_the_same_way(server):
    port, asked = server
    url = ollama_url_from_environment({"OLLAMA_HOST": f"http://127.0.0.1:{port}/prefix"})
    assert url.value == f"http://127.0.0.1:{port}/prefix"
    models = Sampler(None, None, get_json, url)._ollama_models()
    assert models == Known([], f"http://127.0.0.1:{port}/prefix/api/ps")
    refused = ollama_url_from_environment({"OLLAMA_HOST": "http://u:hunter2@h:1/"})
    assert isinstance(refused, Unavailable) and "hunter2" not in repr(refused)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("command", [["doctor"], ["doctor", "-o", "{out}.json"], ["collect", "-o", "{out}.json"],
                                     ["topo"]])
@pytest.mark.parametrize("ollama_host", ["http://127.0.0.1:{port}/api", "http://127.0.0.1:{port}/?a=1",
                                         "http://admin:hunter2@127.0.0.1:{port}", "https://127.0.0.1"])
def test_live_commands_take_every_value_ollama_accepts(tmp_path, monkeypatch, command, ollama_host):
    from helpers.cli import gpubal

    monkeypatch.setenv("OLLAMA_HOST", ollama_host.format(port=_free_port()))
    result = gpubal(*[word.format(out=tmp_path / "out") for word in command], "--root", str(tmp_path))
    assert result.exit_code in (0, 1) and isinstance(result.exception, (type(None), SystemExit)), \
        result.output + result.stderr + repr(result.exception)
    written = "".join(path.read_text() for path in tmp_path.glob("out*"))
    assert "hunter2" not in result.output + result.stderr + written
