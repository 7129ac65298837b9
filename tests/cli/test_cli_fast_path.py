"""The fast path of `gpubal doctor` and `gpubal topo` (gpubal.plain_argv, taken by gpubal.entry without
building the typer app) must be invisible: for every command line it takes, the same bytes on stdout and
stderr, the same files and the same exit status as the typer command line; every other command line goes
to typer."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import List, Tuple

import pytest
import typer.main

from gpubal import entry
from gpubal.cli import app
from gpubal.plain_argv import DOCTOR_OPTIONS, TOPO_OPTIONS, plain_command
from helpers.paths import FIXTURES

PROFILE = ["--nvml-profile", str(FIXTURES / "nvml" / "h200x1.json"), "--root", str(FIXTURES / "roots" / "h200x1")]
SMI = str(FIXTURES / "dumps" / "smi" / "h100-sxm-x8-565.txt")
TOPO = str(FIXTURES / "dumps" / "topo" / "aws-g6e12xl-4gpu-node.txt")

# (argv after `gpubal`, files it writes, relative to the test's folder)
PLAIN: List[Tuple[List[str], List[str]]] = [
    (["doctor", "--snapshot", "example"], []),
    (["doctor", "-s", "example", "--fail-on", "never", "-v"], []),
    (["doctor", "--snapshot=example", "--format=json"], []),
    (["doctor", "-s", "example", "-f", "markdown", "--no-redact"], []),
    (["doctor", "-s", "example", "-f", "junit", "--redact"], []),
    (["doctor", "-s", "example", "-o", "r.md", "-o", "r.html", "-o", "r.xml", "-o", "r.json", "-o", "-"],
     ["r.md", "r.html", "r.xml", "r.json"]),
    (["doctor", "-s", "example", "--ignore", "persistence-mode-off", "--fail-on", "warning"], []),
    (["doctor", "-s", "example", "--prometheus", "g.prom", "-f", "json"], ["g.prom"]),
    (["doctor", "-s", "example", "--policy", "policy.toml"], []),
    (["doctor", *PROFILE, "--fail-on", "info"], []),
    (["doctor", *PROFILE, "--lspci", str(FIXTURES / "lspci" / "comet-lake-root-ports.txt"), "-f", "json"], []),
    (["doctor", "--from", SMI, "--from", TOPO], []),
    (["doctor", "--from", SMI, "-o", "r.txt"], ["r.txt"]),
    # bad input: the same one line and exit 2 on both paths
    (["doctor", "--snapshot", "missing.json"], []),
    (["doctor", "--snapshot", "policy.toml"], []),
    (["doctor", "-s", "example", "-o", "report.pdf"], []),
    (["doctor", "-s", "example", "--ignore", "persistence-mode-of"], []),
    (["doctor", "-s", "example", "--policy", "bad.toml"], []),
    (["doctor", "--from", "missing.txt"], []),
    (["doctor", "--nvml-profile", "missing.json", "--root", str(FIXTURES / "roots" / "h200x1")], []),
    (["doctor", "-s", "example", "-o", "no-such-folder/r.md"], []),
    (["topo", "--snapshot", "example"], []),
    (["topo", "-s", "example", "-k", "1", "--group-size", "2", "-f", "json", "--redact"], []),
    (["topo", *PROFILE, "-o", "g.json", "-o", "g.txt", "-o", "-"], ["g.json", "g.txt"]),
    (["topo", "--from", TOPO], []),
    (["topo", "-s", "example", "-k", "3"], []),
    (["topo", "--root", str(FIXTURES / "roots" / "no-driver"), "--nvml-profile", "missing.json"], []),
    (["topo", "-s", "example", "-o", "groups.md"], []),
]

# typer reads these itself: help, options the fast path does not know, invalid or attached values
TO_TYPER = [
    ["doctor", "-h"], ["doctor", "--help"], ["doctor", "-s", "example", "-f", "pdf"], ["doctor", "--fail-on", "Error"],
    ["doctor", "-s", "example", "--npd"], ["doctor", "-vs", "example"], ["doctor", "-fjson"],
    ["doctor", "-s", "example", "-s", "example"], ["doctor", "--redact", "--no-redact"], ["doctor", "-s"],
    ["doctor", "--verbose=yes"], ["doctor", "extra"], ["doctor", "--", "-v"], ["doctor", "-o", ""],
    ["doctor", "--root", "--verbose"], ["-V"], [], ["doctor", "--version"], ["collect", "-o", "-"],
    ["topo", "-k", "two"], ["topo", "-k", "-1"], ["topo", "-k", "+2"], ["topo", "--no-redact"], ["topo", "-f", "html"],
    ["topo", "-v"], ["topo", "-h"],
    ["topo", "-k", "9" * 5000],  # int() raises past 4300 digits; typer says "not a valid integer"
]


# a replayed profile is collected now: its time is the one thing two runs may not share
_NOW = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?")


def _run(argv: List[str], fast: bool, capfd) -> Tuple[int, str, str]:
    with pytest.raises(SystemExit) as leaving:
        entry.main(list(argv), fast=fast)
    out, err = capfd.readouterr()
    return leaving.value.code, _NOW.sub("TIME", out), err


def _written(path: Path) -> str:
    return _NOW.sub("TIME", path.read_text(encoding="utf-8"))


@pytest.fixture()
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    (tmp_path / "policy.toml").write_text("[expect]\ngpu_count = 8\n", encoding="utf-8")
    (tmp_path / "bad.toml").write_text("[expect]\ngpu_cont = 2\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("argv,written", PLAIN, ids=[" ".join(a[1:4]) for a, _ in PLAIN])
def test_the_fast_path_prints_what_typer_prints(argv, written, folder, capfd):
    assert plain_command(argv) is not None, "the fast path should take this command line"
    results = []
    for fast in (True, False):
        for name in written:
            (folder / name).unlink(missing_ok=True)
        code, out, err = _run(argv, fast, capfd)
        results.append((code, out, err, {name: _written(folder / name) for name in written}))
    assert results[0] == results[1]
    assert results[0][1] or results[0][2] or written  # something was said


@pytest.mark.parametrize("argv", TO_TYPER, ids=[" ".join(a) or "nothing" for a in TO_TYPER])
def test_other_command_lines_go_to_typer(argv):
    assert plain_command(argv) is None


def test_an_existing_path_typer_cannot_read_goes_to_typer(folder):
    unreadable = folder / "secret.json"
    shutil.copy(folder / "policy.toml", unreadable)
    unreadable.chmod(0)
    try:
        import os

        if os.access(unreadable, os.R_OK):
            pytest.skip("running as root: every file is readable")
        assert plain_command(["doctor", "--snapshot", str(unreadable)]) is None
    finally:
        unreadable.chmod(0o600)


@pytest.mark.parametrize("name,table", [("doctor", DOCTOR_OPTIONS), ("topo", TOPO_OPTIONS)])
def test_the_fast_path_knows_the_command_s_options(name, table):
    """Every option of the command but the --npd ones, with the same names, repeatability, choices and
    value kind; a new option in gpubal.cli fails here until plain_argv reads it (or leaves it to typer)."""
    command = typer.main.get_command(app).commands[name]
    seen = set()
    for param in command.params:
        names = [n for n in param.opts + param.secondary_opts]
        if not names or names[0].startswith("--npd"):
            continue
        for option in names:
            assert option in table, f"{option} of `gpubal {name}` is not known to gpubal.plain_argv"
            field, kind, repeatable, extra = table[option]
            seen.add(option)
            assert repeatable == bool(param.multiple), option
            if param.is_flag:
                assert kind == "flag", option
                continue
            assert kind != "flag", option
            choices = getattr(param.type, "choices", None)
            if choices is not None:
                assert tuple(str(getattr(c, "value", c)) for c in choices) == extra, option
            # click 8 (with typer below 0.24, on Python 3.9) names its integer type "integer", typer's own "int"
            assert {"path": "path", "int": "int", "integer": "int"}.get(param.type.name, "text") == kind, option
    assert seen == set(table)


def test_the_fast_path_defaults_are_the_typer_command_s():
    from gpubal.commands.doctor import DoctorOptions
    from gpubal.plain_argv import parse

    values = parse([], DOCTOR_OPTIONS)
    assert values == {}  # nothing given: DoctorOptions' and Source's defaults, which must be typer's
    command = typer.main.get_command(app).commands["doctor"]
    defaults = {param.name: param.default for param in command.params}
    options = DoctorOptions(__import__("gpubal.sources").sources.Source())
    assert defaults["fail_on"].value == options.fail_on and defaults["root"] == options.source.root
    assert defaults["verbose"] is options.verbose and defaults["redact"] is options.redact
    assert defaults["npd_max_length"] == options.npd_max_length


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "typer"])
@pytest.mark.parametrize("command", ["doctor", "topo", "collect"])
def test_the_early_collection_is_handed_to_the_command(command, fast, folder, capfd, monkeypatch):
    """gpubal.entry passes the collection it started to the command as an argument (no module state): a
    command on this host's live facts reports what the early collection found."""
    from concurrent.futures import Future

    from gpubal.sources import load_snapshot

    early: Future = Future()
    early.set_result(load_snapshot(Path("example")))
    monkeypatch.setattr(entry, "start_early_collection", lambda argv: early)
    argv = {"doctor": ["doctor", "-f", "json"], "topo": ["topo", "-f", "json"], "collect": ["collect", "-o", "-"]}
    code, out, err = _run(argv[command], fast, capfd)
    assert code in (0, 1), err
    # the example snapshot's GPU: this host (no GPU) was not asked
    assert "GPU-07f4a309-9680-b6ff-3e0f-c7623199c4cc" in out
