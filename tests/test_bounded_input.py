"""Untrusted bytes with hostile shapes: deeply nested JSON and TOML, oversized answers and files. Every
parser of bytes gpubal did not write refuses them on its own error path: an Unavailable fact for an HTTP
answer (any local user can bind port 11434 while Ollama is down), a one-line exit 2 for a file."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpubal.common.bounded import MAX_DEPTH, TooLarge, check_depth, json_nesting_exceeds, parse_json_bounded
from gpubal.doctor.collect.ollama import collect_ollama
from gpubal.model import Known, Reason, Unavailable
from gpubal.doctor.probes.files import HostFiles
from gpubal.doctor.probes.http import MAX_BODY_BYTES, get_json
from helpers.cli import H200X2, assert_one_line_error, gpubal
from helpers.paths import GOLDENS

DEEP_JSON = "[" * 2000  # the audit's 2,000-byte body
JUST_UNDER_THE_INTERPRETER = "[" * 900 + "]" * 900  # json.loads takes it; gpubal's own walks must not see it


def _serve(body: bytes) -> str:
    """A real HTTP server on 127.0.0.1 that answers every request with 200 and `body`, until closed."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                try:
                    connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + body)
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("body,words", [
    (DEEP_JSON.encode(), "nested deeper than 64 levels"),
    (JUST_UNDER_THE_INTERPRETER.encode(), "nested deeper than 64 levels"),
    (b'{"models": ' + b"[" * 100_000, "nested deeper than 64 levels"),
    (b'"' + b"x" * (MAX_BODY_BYTES + 10) + b'"', "larger than 4 MiB"),
])
def test_hostile_answers_on_port_11434_are_unavailable_facts(body, words):
    fact = get_json(_serve(body) + "/api/version", 5.0)
    assert isinstance(fact, Unavailable) and fact.reason is Reason.ERROR, fact
    assert words in fact.detail


def test_the_collector_keeps_going_after_a_hostile_answer(tmp_path):
    url = _serve(DEEP_JSON.encode())
    ollama = collect_ollama(HostFiles(str(tmp_path)), {"OLLAMA_HOST": url, "PATH": ""}, Known({}, "test"),
                            lambda argv, timeout: Unavailable(Reason.NOT_FOUND, " ".join(argv)), get_json)
    for fact in (ollama.server_version, ollama.running_models):
        assert isinstance(fact, Unavailable) and "nested deeper" in fact.detail


def test_an_answer_nested_a_few_levels_is_still_read():
    assert get_json(_serve(json.dumps({"models": [{"details": {"families": ["llama"]}}]}).encode()) + "/x", 5.0) == \
        {"models": [{"details": {"families": ["llama"]}}]}


def _deep_snapshot() -> str:
    """A real snapshot with one value nested 5,000 deep where the schema takes any JSON (an environment)."""
    snapshot = json.loads((GOLDENS / "h200x2.json").read_text())["snapshot"]
    text = json.dumps(snapshot)
    return text.replace('"environment": {"value": {}', '"environment": {"value": {"X": ' + "[" * 5000 + "]" * 5000, 1)


@pytest.mark.parametrize("name,text", [
    ("deep.json", DEEP_JSON),
    ("under.json", JUST_UNDER_THE_INTERPRETER),
    ("deep-inside.json", None),
    ("deep.md", "<!-- gpubal-snapshot -->\n```json\n" + DEEP_JSON + "\n```\n"),
    ("deep.html", '<script type="application/json" id="gpubal-snapshot">' + DEEP_JSON + "</script>"),
])
def test_a_deep_snapshot_is_one_line_exit_2(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text if text is not None else _deep_snapshot())
    for command in (["doctor", "--snapshot", str(path)], ["topo", "--snapshot", str(path)]):
        assert_one_line_error(gpubal(*command), str(path))


def test_a_deep_nvml_profile_is_one_line_exit_2(tmp_path):
    path = tmp_path / "deep-profile.json"
    path.write_text('{"format": "gpubal-nvml-profile", "version": 1, "devices": ' + DEEP_JSON)
    assert_one_line_error(gpubal("doctor", "--nvml-profile", str(path), "--root", str(tmp_path)), str(path))


@pytest.mark.parametrize("text", [
    "[expect]\ngpu_count = " + "[" * 3000 + "]" * 3000 + "\n",
    "[expect]\ngpu_count = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n",
    "# " + "x" * (1 << 20) + "\n",
])
def test_a_deep_or_huge_policy_is_one_line_exit_2(tmp_path, text):
    path = tmp_path / "policy.toml"
    path.write_text(text)
    assert_one_line_error(gpubal("doctor", *H200X2, "--policy", str(path)), str(path))


def test_a_huge_snapshot_file_is_refused_before_it_is_read_whole(tmp_path, monkeypatch):
    import gpubal.snapshot_file as model

    monkeypatch.setattr(model, "MAX_SNAPSHOT_BYTES", 1000)
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"pad": "x" * 2000}))
    assert_one_line_error(gpubal("doctor", "--snapshot", str(path)), str(path), "larger than")


def test_a_deep_report_in_a_fleet_is_an_unreadable_input_not_a_crash(tmp_path):
    (tmp_path / "deep.json").write_text(DEEP_JSON)
    (tmp_path / "under.json").write_text('{"snapshot": ' + JUST_UNDER_THE_INTERPRETER + "}")
    result = gpubal("fleet", str(tmp_path))
    assert result.exit_code in (0, 1) and isinstance(result.exception, (type(None), SystemExit)), result.exception
    assert result.stderr.count("nested deeper than 64 levels") == 2  # one `unreadable:` line per input


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    # brackets, quotes and backslashes inside strings are the cases a text measure could get wrong
    | st.text(alphabet=st.sampled_from('[]{}"\\ax\u00e9\u20ac\U0001f600\n'), max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.text(alphabet=st.sampled_from('[]{}"\\k'), max_size=4), children, max_size=4),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(_JSON_VALUES, st.integers(min_value=0, max_value=8), st.booleans())
def test_the_nesting_measured_on_the_text_is_the_nesting_of_the_parsed_values(value, max_depth, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    try:
        check_depth(value, max_depth)
        deeper = False
    except TooLarge:
        deeper = True
    assert json_nesting_exceeds(text, max_depth) is deeper
    assert json_nesting_exceeds(text.encode(), max_depth) is deeper


def test_the_fleet_refuses_nesting_one_past_the_bound_and_reads_it_at_the_bound():
    at_bound = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse_json_bounded(json.loads, at_bound, 1 << 20) is not None
    with pytest.raises(TooLarge, match="nested deeper than 64 levels"):
        parse_json_bounded(json.loads, "[" + at_bound + "]", 1 << 20)
    with pytest.raises(TooLarge, match="nested deeper than 64 levels"):  # the same, written inside a string
        parse_json_bounded(json.loads, json.dumps({"a": "[" * 100, "b": json.loads("[" + at_bound + "]")}), 1 << 20)
    assert parse_json_bounded(json.loads, json.dumps({"a": "[" * 100 + '\\"'}), 1 << 20) == {"a": "[" * 100 + '\\"'}
