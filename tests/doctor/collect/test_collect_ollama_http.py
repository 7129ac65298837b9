"""Ollama's API against a real HTTP server on 127.0.0.1 answering with recorded bodies
(tests/fixtures/ollama/responses/, each with its source), plus slow, refused and malformed answers."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gpubal.doctor.collect.ollama import collect_ollama
from gpubal.model import Known, Reason, Unavailable
from gpubal.doctor.probes.files import HostFiles
from gpubal.doctor.probes.http import get_json
from helpers.paths import FIXTURES

RESPONSES = FIXTURES / "ollama" / "responses"


def body(name):
    return json.dumps(json.loads((RESPONSES / name).read_text())["body"]).encode()


@pytest.fixture
def server():
    routes = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            answer = routes.get(self.path, (404, b'{"error": "not found"}', 0))
            status, payload, delay = answer
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # gpubal gave up waiting (the slow case) and closed the connection: expected

        def log_message(self, *args):
            pass

    class QuietServer(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # never print a traceback into another test's captured output

    httpd = QuietServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", routes
    httpd.shutdown()
    httpd.server_close()


def _collect(tmp_path, url):
    return collect_ollama(HostFiles(str(tmp_path)), {"OLLAMA_HOST": url, "PATH": ""}, Known({}, "test"),
                          lambda argv, timeout: Unavailable(Reason.NOT_FOUND, " ".join(argv)), get_json)


def test_recorded_version_and_partly_on_cpu_ps(server, tmp_path):
    url, routes = server
    routes["/api/version"] = (200, body("version_0.12.6_openapi.json"), 0)
    routes["/api/ps"] = (200, body("ps_partial_cpu_openapi.json"), 0)
    ollama = _collect(tmp_path, url)
    assert ollama.server_version.value == "0.12.6"
    (model,) = ollama.running_models.value
    assert (model.size_bytes, model.size_vram_bytes) == (6591830464, 5333539264)


def test_other_version_answer(server, tmp_path):
    url, routes = server
    routes["/api/version"] = (200, body("version_0.5.1_docs.json"), 0)
    assert _collect(tmp_path, url).server_version.value == "0.5.1"


def test_malformed_json_is_an_error_fact(server, tmp_path):
    url, routes = server
    routes["/api/version"] = (200, b'{"version": ', 0)
    fact = _collect(tmp_path, url).server_version
    assert isinstance(fact, Unavailable) and fact.reason is Reason.ERROR and "not JSON" in fact.detail


def test_slow_server_times_out_within_the_deadline(server, tmp_path):
    url, routes = server
    routes["/api/version"] = (200, body("version_0.20.0_issue.json"), 3.0)
    routes["/api/ps"] = (200, body("ps_full_gpu_docs_2024.json"), 3.0)
    started = time.monotonic()
    ollama = _collect(tmp_path, url)
    assert time.monotonic() - started < 2.8  # both requests side by side, each cut at 2 s
    assert ollama.server_version.reason is Reason.TIMEOUT


def test_refused_port_is_not_found(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fact = _collect(tmp_path, f"127.0.0.1:{port}").server_version
    assert isinstance(fact, Unavailable) and fact.reason is Reason.NOT_FOUND


def test_hung_ollama_binary_is_a_timeout_fact(tmp_path):
    (tmp_path / "usr" / "bin").mkdir(parents=True)
    (tmp_path / "usr" / "bin" / "ollama").write_text("")
    ollama = collect_ollama(HostFiles(str(tmp_path)), {"PATH": ""}, Known({}, "test"),
                            lambda argv, timeout: Unavailable(Reason.TIMEOUT, " ".join(argv), "no answer within 2 s"),
                            lambda url, timeout: Unavailable(Reason.NOT_FOUND, url))
    assert ollama.binary_path.value == "/usr/bin/ollama"
    assert ollama.binary_version.reason is Reason.TIMEOUT


def test_recorded_ollama_v_output(tmp_path):
    (tmp_path / "usr" / "bin").mkdir(parents=True)
    (tmp_path / "usr" / "bin" / "ollama").write_text("")
    ollama = collect_ollama(HostFiles(str(tmp_path)), {"PATH": ""}, Known({}, "test"),
                            lambda argv, timeout: "ollama version is 0.12.6\n",
                            lambda url, timeout: Unavailable(Reason.NOT_FOUND, url))
    assert ollama.binary_version.value == "0.12.6"


def test_unit_with_odd_quoting_and_a_drop_in(tmp_path):
    unit = tmp_path / "etc" / "systemd" / "system"
    (unit / "ollama.service.d").mkdir(parents=True)
    (unit / "ollama.service").write_text(
        '[Service]\nExecStart=/usr/bin/ollama serve\nEnvironment="OLLAMA_HOST=0.0.0.0" \'OLLAMA_MODELS=/data/my models\'\n'
        'Environment=OLLAMA_NUM_PARALLEL=2 "OLLAMA_KEEP_ALIVE=-1\n')
    (unit / "ollama.service.d" / "override.conf").write_text(
        '[Service]\nEnvironment="CUDA_VISIBLE_DEVICES=GPU-ef0d3f05"\nEnvironment="OLLAMA_API_TOKEN=secret"\n')
    ollama = collect_ollama(HostFiles(str(tmp_path)), {"PATH": ""}, Known({}, "test"),
                            lambda argv, timeout: Unavailable(Reason.NOT_FOUND, " ".join(argv)),
                            lambda url, timeout: Unavailable(Reason.NOT_FOUND, url))
    environment = ollama.service_environment.value
    assert environment["OLLAMA_MODELS"] == "/data/my models"
    assert environment["OLLAMA_NUM_PARALLEL"] == "2"
    assert environment["CUDA_VISIBLE_DEVICES"] == "GPU-ef0d3f05"
    assert "OLLAMA_API_TOKEN" not in environment  # secret-looking names never pass
    assert ollama.service_exec_start.value == "/usr/bin/ollama serve"
    assert ollama.server_url.value == "http://127.0.0.1:11434"


def _raw_server(reply: bytes, delay_s: float = 0.0):
    """A one-shot TCP server on 127.0.0.1 that answers any request with `reply` (after `delay_s`)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            time.sleep(delay_s)
            try:
                connection.sendall(reply)
            except OSError:
                pass
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_an_answer_that_is_not_http_is_an_error_fact():
    fact = get_json(_raw_server(b"SSH-2.0-OpenSSH_9.6\r\n") + "/api/version", 2.0)
    assert isinstance(fact, Unavailable) and fact.reason is Reason.ERROR and "not an HTTP response" in fact.detail


def test_an_http_error_status_is_an_error_fact_with_the_body():
    reply = b'HTTP/1.0 500 Internal Server Error\r\nContent-Type: application/json\r\n\r\n{"error": "boom"}'
    fact = get_json(_raw_server(reply) + "/api/ps", 2.0)
    assert isinstance(fact, Unavailable) and fact.reason is Reason.ERROR
    assert fact.detail.startswith("HTTP 500 Internal Server Error") and "boom" in fact.detail


def test_a_server_that_answers_too_late_is_a_timeout_within_the_deadline():
    started = time.monotonic()
    fact = get_json(_raw_server(b'HTTP/1.0 200 OK\r\n\r\n{"version": "0.12.6"}', delay_s=3.0) + "/api/version", 0.3)
    assert isinstance(fact, Unavailable) and fact.reason is Reason.TIMEOUT
    assert time.monotonic() - started < 2.0


def test_a_well_formed_http10_answer_is_read():
    assert get_json(_raw_server(b'HTTP/1.0 200 OK\r\n\r\n{"version": "0.12.6"}') + "/api/version", 2.0) == \
        {"version": "0.12.6"}


@pytest.fixture
def tls_server(tmp_path, monkeypatch):
    """A TLS server on 127.0.0.1 with a self-signed certificate that the client is told to trust; it
    answers with whatever `answer(connection)` sends."""
    import shutil
    import ssl
    import subprocess

    from gpubal.doctor.probes import http

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    monkeypatch.setattr(http, "_tls_context", lambda: ssl.create_default_context(cafile=str(cert)))
    listener = socket.create_server(("127.0.0.1", 0))
    behaviour = {}

    def serve():
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                with server_context.wrap_socket(raw, server_side=True) as connection:
                    connection.recv(65536)
                    behaviour["answer"](connection)
            except OSError:
                pass

    threading.Thread(target=serve, daemon=True).start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}", behaviour
    listener.close()


def test_https_answer_is_read(tls_server):
    url, behaviour = tls_server
    behaviour["answer"] = lambda c: c.sendall(b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"version": "0.12.6"}')
    assert get_json(url + "/api/version", 5.0) == {"version": "0.12.6"}


def test_https_that_trickles_a_byte_at_a_time_ends_at_the_deadline(tls_server):
    url, behaviour = tls_server

    def trickle(connection):
        for byte in b"HTTP/1.0 200 OK\r\n\r\n" + b" " * 100:
            connection.sendall(bytes([byte]))
            time.sleep(0.2)

    behaviour["answer"] = trickle
    started = time.monotonic()
    answer = get_json(url + "/api/version", 1.0)
    assert time.monotonic() - started < 2.5
    assert isinstance(answer, Unavailable) and answer.reason is Reason.TIMEOUT
