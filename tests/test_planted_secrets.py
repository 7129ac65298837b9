"""A planted-secret corpus: secrets under harmless names and in harmless places (a verbatim ExecStart= line,
a header variable, a URL), and other hosts' names (a proxy, a registry, a gateway). No planted secret may
reach any output format, redacted or not; with --redact no planted host name may either."""

from __future__ import annotations

import dataclasses
import re

import pytest

from helpers import known
from helpers.cli import gpubal

from gpubal.snapshot_file import snapshot_from_text, snapshot_to_json
from gpubal.common.secret_values import drop_secret_values, looks_secret

SECRET = re.compile(r"s3cr3t|S3CR3T")  # every planted secret holds one of these
OTHER_HOST = "pl4nted-corp"  # every planted host name holds this

ENVIRONMENT = {
    "DB_PASS": "db-s3cr3t-001",  # a name holding PASS
    "OLLAMA_HEADERS": "Authorization: Bearer s3cr3tbearer002",  # a header variable
    "VLLM_SERVER_HEADERS": '{"X-Api-Key": "s3cr3t-vllm-003"}',
    "CUDA_HARMLESS_NAME": "Bearer s3cr3tbearer004abcdef",  # shapes under harmless names
    "CUDA_MODEL_ID": "hf_s3cr3tHFtoken005abcdefghijkl",
    "CUDA_ORG": "sk-s3cr3topenai006abcdefgh",
    "CUDA_CLOUD": "AKIAS3CR3T0000000007",
    "CUDA_JWT": "eyJhbGciOiJIUzI1NiJ9.eyJzM2NyM3QiOjF9.s3cr3tsig008",
    "CUDA_GITHUB": "ghp_s3cr3t0000000000000000000000000009",
    "HTTPS_PROXY": "http://proxy.pl4nted-corp.example:3128",
    "no_proxy": "localhost,.pl4nted-corp.example,10.0.0.0/8",
    "DOCKER_REGISTRY": "registry.pl4nted-corp.example:5000",
}
EXEC_START = ("/usr/bin/env HF_TOKEN=s3cr3texec010 OLLAMA_HOST=gateway.pl4nted-corp.example:11434 "
              "/usr/bin/ollama serve --api-key s3cr3tflag011")
SERVICE_ENVIRONMENT = {"OLLAMA_HOST": "http://admin:s3cr3turl012@gateway2.pl4nted-corp.example:11434",
                       "OLLAMA_ORIGINS": "https://app.pl4nted-corp.example,http://localhost"}


@pytest.fixture(scope="module")
def planted_snapshot_file(tmp_path_factory):
    from helpers import real_snapshot

    snapshot = real_snapshot("h200x2")
    stack = dataclasses.replace(snapshot.stack, environment=known(ENVIRONMENT))
    ollama = dataclasses.replace(snapshot.ollama, service_exec_start=known(EXEC_START),
                                 service_environment=known(SERVICE_ENVIRONMENT),
                                 server_url=known("http://gateway3.pl4nted-corp.example:11434"),
                                 process_environment=known({"OLLAMA_HOST": "gateway4.pl4nted-corp.example"}))
    path = tmp_path_factory.mktemp("planted") / "planted.json"
    path.write_text(snapshot_to_json(dataclasses.replace(snapshot, stack=stack, ollama=ollama)))
    return path


def _everything_shown(output: str) -> str:
    """The output and, for Markdown and HTML, the snapshot they embed (compressed when large)."""
    try:
        embedded = snapshot_to_json(snapshot_from_text(output))
    except Exception:  # noqa: BLE001 - terminal and JUnit embed none
        embedded = ""
    return output + embedded


FORMATS = ["terminal", "json", "markdown", "html", "junit"]


@pytest.mark.parametrize("output_format", FORMATS)
def test_no_planted_secret_or_other_host_in_a_redacted_report(planted_snapshot_file, output_format):
    result = gpubal("doctor", "--snapshot", str(planted_snapshot_file), "--format", output_format, "--redact")
    assert result.exit_code in (0, 1), result.stderr
    shown = _everything_shown(result.stdout)
    assert not SECRET.search(shown), SECRET.search(shown).group(0)
    assert OTHER_HOST not in shown
    assert "host-" in shown  # the hosts were replaced, not dropped


@pytest.mark.parametrize("output_format", FORMATS)
def test_no_planted_secret_in_an_unredacted_report(planted_snapshot_file, output_format):
    result = gpubal("doctor", "--snapshot", str(planted_snapshot_file), "--format", output_format, "--no-redact")
    assert result.exit_code in (0, 1), result.stderr
    assert not SECRET.search(_everything_shown(result.stdout))


def test_collect_style_snapshot_output_drops_them_too(planted_snapshot_file):
    from gpubal.common.redact import redact_snapshot

    snapshot = snapshot_from_text(planted_snapshot_file.read_text())
    assert not SECRET.search(snapshot_to_json(redact_snapshot(snapshot, False)))
    redacted = snapshot_to_json(redact_snapshot(snapshot, True))
    assert not SECRET.search(redacted) and OTHER_HOST not in redacted


@pytest.mark.parametrize("name", ["DB_PASS", "MYSQL_PASSWORD", "OLLAMA_HEADERS", "VLLM_SERVER_HEADERS",
                                  "HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "X_PRIVATE_KEY_PATH"])
def test_secret_looking_names(name):
    assert looks_secret(name)


@pytest.mark.parametrize("name", ["CUDA_VISIBLE_DEVICES", "OLLAMA_HOST", "OLLAMA_KEEP_ALIVE", "NCCL_P2P_LEVEL",
                                  "NVIDIA_PASSTHROUGH_MODE", "OLLAMA_SCHED_SPREAD"])
def test_names_that_are_not_secret(name):
    assert not looks_secret(name)


@pytest.mark.parametrize("kept", ["/usr/bin/ollama serve", "OLLAMA_NUM_PARALLEL=4", "--tensor-parallel-size 2",
                                  "Bearer", "sk-1", "12.8.0", "http://127.0.0.1:11434/api/ps", "hf_transfer",
                                  "GPU-07f4a309-9680-b6ff-3e0f-c7623199c4cc", "--api-key (secret dropped)",
                                  "HF_TOKEN=(secret dropped)"])
def test_value_shapes_leave_ordinary_text_alone(kept):
    assert drop_secret_values(kept) == kept
