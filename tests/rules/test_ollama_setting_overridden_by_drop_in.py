"""A real unit tree under a fake root: the Ollama unit as its installer writes it, and drop-ins that set
CUDA_VISIBLE_DEVICES again, collected by the Ollama collector and judged by the rule."""

from helpers import assert_actionable, only_result

import dataclasses

from gpubal.doctor.collect.ollama import collect_ollama
from gpubal.doctor.engine import evaluate
from gpubal.model import Known, Outcome, Reason, Severity, Unavailable
from gpubal.doctor.probes.files import HostFiles
from gpubal.rules.ollama_setting_overridden_by_drop_in import ollama_setting_overridden_by_drop_in as rule

UNIT = ("[Unit]\nDescription=Ollama Service\nAfter=network-online.target\n\n[Service]\n"
        "ExecStart=/usr/local/bin/ollama serve\nUser=ollama\nGroup=ollama\nRestart=always\nRestartSec=3\n"
        'Environment="PATH=/usr/local/bin:/usr/bin:/bin"\n\n[Install]\nWantedBy=default.target\n')


def _ollama(tmp_path, unit_extra="", drop_ins=()):
    units = tmp_path / "etc" / "systemd" / "system"
    (units / "ollama.service.d").mkdir(parents=True)
    (units / "ollama.service").write_text(UNIT.replace("Restart=always\n", "Restart=always\n" + unit_extra))
    for name, text in drop_ins:
        (units / "ollama.service.d" / name).write_text(text)
    return collect_ollama(HostFiles(str(tmp_path)), {"PATH": ""}, Known({}, "test"),
                          lambda argv, timeout: Unavailable(Reason.NOT_FOUND, " ".join(argv)),
                          lambda url, timeout: Unavailable(Reason.NOT_FOUND, url))


def _result(snapshot, ollama):
    return only_result(evaluate(dataclasses.replace(snapshot, ollama=ollama), [rule]), "host")


def test_two_drop_ins_that_disagree_are_a_warning_naming_the_winner(h200x2_snapshot, tmp_path):
    ollama = _ollama(tmp_path, drop_ins=[
        ("10-gpus.conf", '[Service]\nEnvironment="CUDA_VISIBLE_DEVICES=0,1"\n'),
        ("override.conf", '[Service]\nEnvironment="CUDA_VISIBLE_DEVICES=0"\nEnvironment="OLLAMA_HOST=0.0.0.0"\n')])
    assert list(ollama.service_environment_by_file.value) == [
        "/etc/systemd/system/ollama.service", "/etc/systemd/system/ollama.service.d/10-gpus.conf",
        "/etc/systemd/system/ollama.service.d/override.conf"]
    (found,) = _result(h200x2_snapshot, ollama).findings
    assert found.severity is Severity.WARNING
    assert found.message == ("CUDA_VISIBLE_DEVICES=0 in /etc/systemd/system/ollama.service.d/override.conf replaces "
                             "CUDA_VISIBLE_DEVICES=0,1 in /etc/systemd/system/ollama.service.d/10-gpus.conf: "
                             "Ollama gets '0'")
    assert "systemctl show ollama -p Environment" in found.fix.commands
    assert_actionable(found.fix)


def test_a_drop_in_replacing_the_unit_line_is_advice(h200x2_snapshot, tmp_path):
    ollama = _ollama(tmp_path, unit_extra='Environment="OLLAMA_SCHED_SPREAD=0"\n',
                     drop_ins=[("override.conf", '[Service]\nEnvironment="OLLAMA_SCHED_SPREAD=1"\n')])
    (found,) = _result(h200x2_snapshot, ollama).findings
    assert found.severity is Severity.INFO


def test_the_same_value_twice_or_one_file_passes(h200x2_snapshot, tmp_path):
    ollama = _ollama(tmp_path, drop_ins=[
        ("10-a.conf", '[Service]\nEnvironment="CUDA_VISIBLE_DEVICES=0,1"\n'),
        ("20-b.conf", '[Service]\nEnvironment="CUDA_VISIBLE_DEVICES=0,1"\n')])
    assert _result(h200x2_snapshot, ollama).outcome is Outcome.PASSED


def test_ollama_without_a_unit_passes(h200x2_snapshot, tmp_path):
    ollama = _ollama(tmp_path)
    no_unit = dataclasses.replace(ollama, service_environment_by_file=Unavailable(
        Reason.NOT_FOUND, "/etc/systemd/system/ollama.service", "no ollama systemd unit"))
    assert _result(h200x2_snapshot, no_unit).outcome is Outcome.PASSED
