"""Plain terminal output has no space or tab at the end of a line (rich pads wrapped text and table cells
to the console width; a diff, a paste or an editor shows that tail as noise), and a host value that itself
ends in spaces is still seen: it is quoted."""

from __future__ import annotations

import pytest

from helpers import known, with_gpu
from helpers.cli import H200X2, gpubal
from helpers.paths import FIXTURES
from gpubal.snapshot_file import snapshot_to_json

TOPO_M = FIXTURES / "dumps" / "topo" / "aws-p4d-8xa100-nv12-nvswitch.txt"
SMI = FIXTURES / "dumps" / "smi" / "cbio-gtx680-331-bracket-prompt.txt"


def lines_ending_in_space(text: str):
    return [line for line in text.splitlines() if line != line.rstrip(" \t")]


@pytest.mark.parametrize("args", [
    ["doctor", "--snapshot", "example"],
    ["doctor", "--snapshot", "example", "-v"],  # the "Not evaluated" lists wrap under a hanging indent
    ["doctor", *H200X2, "-v"],
    ["doctor", "--from", str(SMI), "-v"],
    ["topo", "--snapshot", "example"],
    ["topo", "--from", str(TOPO_M)],
    ["rules"],
    ["balance", "--nvml-profile", str(FIXTURES / "balance" / "one-busy.json"), "--root", str(FIXTURES / "balance" / "root")],
])
def test_no_line_ends_in_a_space(args):
    result = gpubal(*args)
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
    assert "Not evaluated" in result.stdout or args[0] != "doctor"
    assert lines_ending_in_space(result.stdout) == []


def test_a_value_ending_in_spaces_is_quoted_in_evidence(h200x2_snapshot, tmp_path):
    # GPU 0's name differs from GPU 1's only by its trailing spaces: the finding must show them
    snapshot = with_gpu(h200x2_snapshot, 0, name=known("NVIDIA H200   "))
    path = tmp_path / "spaced.json"
    path.write_text(snapshot_to_json(snapshot), encoding="utf-8")
    result = gpubal("doctor", "--snapshot", str(path))
    assert 'gpu:0.name="NVIDIA H200   "' in result.stdout, result.stdout
    assert lines_ending_in_space(result.stdout) == []
