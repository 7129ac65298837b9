"""The README's commands and sample outputs must work as shown: each sample block is compared with a
real run of the command named in the comment above it."""

from __future__ import annotations

import re
import shlex

import pytest
from typer.testing import CliRunner

from gpubal.cli import app
from helpers.paths import REPO

ROOT = REPO
README = (ROOT / "README.md").read_text(encoding="utf-8")
SAMPLES = re.findall(r"<!-- sample: (.+?) -->\n```text\n(.*?)```", README, re.DOTALL)


def _strip(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def test_the_readme_has_samples():
    assert len(SAMPLES) >= 2


def _real_output(sample_command: str) -> str:
    section = None
    match = re.fullmatch(r"(.*?) \(([\w ]+)\)", sample_command)
    command = sample_command
    if match:
        command, section = match.groups()
    output = _strip(CliRunner().invoke(app, shlex.split(command)).output)
    if section == "findings":  # the sample shows the findings block only
        after = output.split("\nFindings:", 1)[1]
        output = _strip("Findings:" + re.split(r"\n(?=(?:GPUs|Topology|Passed)\b)", after, maxsplit=1)[0])
    elif section and section.startswith("head "):  # the sample shows the first N lines
        output = "\n".join(output.splitlines()[:int(section.split()[1])])
    return output


@pytest.mark.parametrize("command, expected", SAMPLES, ids=[command for command, _ in SAMPLES])
def test_readme_sample_matches_a_real_run(command, expected, monkeypatch, update_goldens):
    monkeypatch.chdir(ROOT)
    output = _real_output(command)
    if update_goldens and output != _strip(expected):  # `pytest --update-goldens` rewrites the sample
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        old = f"<!-- sample: {command} -->\n```text\n{expected}```"
        (ROOT / "README.md").write_text(readme.replace(old, f"<!-- sample: {command} -->\n```text\n{output}\n```"),
                                        encoding="utf-8")
        return
    assert output == _strip(expected)


def test_readme_opens_with_the_install_and_test_commands():
    blocks = re.findall(r"```sh\n(.*?)```", README, re.DOTALL)
    assert "pip install" in blocks[0] and "gpubal doctor" in blocks[0]
    assert "pytest" in blocks[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert blocks[1].strip() in ci  # .ci/run runs the README's test command, verbatim
