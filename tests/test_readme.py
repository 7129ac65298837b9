"""The README's commands and sample outputs must work as shown: each sample block is compared with a
real run of the command named in the comment above it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpubal.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SAMPLES = re.findall(r"<!-- sample: (.+?) -->\n```text\n(.*?)```", README, re.DOTALL)


def _strip(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def test_the_readme_has_samples():
    assert len(SAMPLES) >= 2


@pytest.mark.parametrize("command, expected", SAMPLES, ids=[command for command, _ in SAMPLES])
def test_readme_sample_matches_a_real_run(command, expected, monkeypatch):
    monkeypatch.chdir(ROOT)
    section = None
    match = re.fullmatch(r"(.*?) \((\w+)\)", command)
    if match:
        command, section = match.groups()
    result = CliRunner().invoke(app, shlex.split(command))
    output = _strip(result.output)
    if section == "findings":  # the sample shows the findings block only
        output = _strip("Findings:" + output.split("\nFindings:", 1)[1].split("\nPassed:", 1)[0])
    assert output == _strip(expected)


def test_readme_opens_with_the_install_and_test_commands():
    blocks = re.findall(r"```sh\n(.*?)```", README, re.DOTALL)
    assert "pip install" in blocks[0] and "gpubal doctor" in blocks[0]
    assert "pytest" in blocks[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert blocks[1].strip() in ci  # .ci/run runs the README's test command, verbatim
