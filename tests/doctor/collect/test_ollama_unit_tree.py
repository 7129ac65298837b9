"""The Ollama unit and its drop-ins in every directory systemd reads, built as a real file tree under a
fake root. systemd.unit(5): drop-ins in /etc take precedence over those in /run, which take precedence over
those in /usr/lib; drop-ins with different names are applied in lexicographic order, whichever directory
they are in; a later Environment= of a variable replaces an earlier one."""

import dataclasses
import os

from helpers import only_result

from gpubal.doctor.collect.ollama import collect_ollama, unit_files
from gpubal.doctor.engine import evaluate
from gpubal.doctor.probes.files import HostFiles
from gpubal.model import Known, Reason, Severity, Unavailable
from gpubal.rules.ollama_setting_overridden_by_drop_in import ollama_setting_overridden_by_drop_in as rule

UNIT = ("[Unit]\nDescription=Ollama Service\nAfter=network-online.target\n\n[Service]\n"
        "ExecStart=/usr/local/bin/ollama serve\nUser=ollama\nGroup=ollama\nRestart=always\nRestartSec=3\n"
        'Environment="PATH=/usr/local/bin:/usr/bin:/bin"\n\n[Install]\nWantedBy=default.target\n')


def _write(root, path, text):
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def _environment(variable, value):
    return f'[Service]\nEnvironment="{variable}={value}"\n'


def _collect(root):
    return collect_ollama(HostFiles(str(root)), {"PATH": ""}, Known({}, "test"),
                          lambda argv, timeout: Unavailable(Reason.NOT_FOUND, " ".join(argv)),
                          lambda url, timeout: Unavailable(Reason.NOT_FOUND, url))


def test_drop_ins_of_every_directory_apply_sorted_by_name(tmp_path):
    _write(tmp_path, "/usr/lib/systemd/system/ollama.service", UNIT)
    _write(tmp_path, "/usr/lib/systemd/system/ollama.service.d/10-vendor.conf", _environment("OLLAMA_KEEP_ALIVE", "5m"))
    _write(tmp_path, "/run/systemd/system/ollama.service.d/50-runtime.conf", _environment("CUDA_VISIBLE_DEVICES", "0,1"))
    _write(tmp_path, "/etc/systemd/system/ollama.service.d/override.conf", _environment("CUDA_VISIBLE_DEVICES", "0"))
    assert unit_files(HostFiles(str(tmp_path))) == ("/usr/lib/systemd/system/ollama.service", [
        "/usr/lib/systemd/system/ollama.service.d/10-vendor.conf",
        "/run/systemd/system/ollama.service.d/50-runtime.conf",
        "/etc/systemd/system/ollama.service.d/override.conf"])
    ollama = _collect(tmp_path)
    assert ollama.service_environment.value["CUDA_VISIBLE_DEVICES"] == "0"  # override.conf sorts last
    assert ollama.service_environment.value["OLLAMA_KEEP_ALIVE"] == "5m"


def test_a_drop_in_in_etc_replaces_the_same_name_in_run_and_usr_lib(tmp_path):
    _write(tmp_path, "/usr/lib/systemd/system/ollama.service", UNIT)
    _write(tmp_path, "/usr/lib/systemd/system/ollama.service.d/gpus.conf", _environment("CUDA_VISIBLE_DEVICES", "0,1,2,3"))
    _write(tmp_path, "/run/systemd/system/ollama.service.d/gpus.conf", _environment("CUDA_VISIBLE_DEVICES", "0,1"))
    _write(tmp_path, "/etc/systemd/system/ollama.service.d/gpus.conf", _environment("CUDA_VISIBLE_DEVICES", "2"))
    _, drop_ins = unit_files(HostFiles(str(tmp_path)))
    assert drop_ins == ["/etc/systemd/system/ollama.service.d/gpus.conf"]
    assert _collect(tmp_path).service_environment.value["CUDA_VISIBLE_DEVICES"] == "2"


def test_run_replaces_usr_lib_when_etc_has_none_of_that_name(tmp_path):
    _write(tmp_path, "/usr/lib/systemd/system/ollama.service", UNIT)
    _write(tmp_path, "/usr/lib/systemd/system/ollama.service.d/gpus.conf", _environment("CUDA_VISIBLE_DEVICES", "0,1,2,3"))
    _write(tmp_path, "/run/systemd/system/ollama.service.d/gpus.conf", _environment("CUDA_VISIBLE_DEVICES", "0,1"))
    assert _collect(tmp_path).service_environment.value["CUDA_VISIBLE_DEVICES"] == "0,1"


def test_a_drop_in_linked_to_dev_null_masks_its_name(tmp_path):
    _write(tmp_path, "/usr/lib/systemd/system/ollama.service", UNIT)
    _write(tmp_path, "/usr/lib/systemd/system/ollama.service.d/gpus.conf", _environment("CUDA_VISIBLE_DEVICES", "0"))
    os.makedirs(tmp_path / "etc/systemd/system/ollama.service.d")
    os.symlink("/dev/null", tmp_path / "etc/systemd/system/ollama.service.d/gpus.conf")
    assert unit_files(HostFiles(str(tmp_path)))[1] == []
    assert "CUDA_VISIBLE_DEVICES" not in _collect(tmp_path).service_environment.value


def test_the_unit_in_etc_is_the_one_loaded(tmp_path):
    _write(tmp_path, "/usr/lib/systemd/system/ollama.service", UNIT)
    _write(tmp_path, "/etc/systemd/system/ollama.service", UNIT.replace("ollama serve", "ollama serve --verbose"))
    ollama = _collect(tmp_path)
    assert ollama.service_exec_start.value == "/usr/local/bin/ollama serve --verbose"


def test_lib_linked_to_usr_lib_is_read_once(tmp_path):
    _write(tmp_path, "/usr/lib/systemd/system/ollama.service", UNIT)
    _write(tmp_path, "/usr/lib/systemd/system/ollama.service.d/10-a.conf", _environment("OLLAMA_DEBUG", "1"))
    os.symlink("usr/lib", tmp_path / "lib")  # merged /usr
    assert unit_files(HostFiles(str(tmp_path))) == ("/usr/lib/systemd/system/ollama.service",
                                                     ["/usr/lib/systemd/system/ollama.service.d/10-a.conf"])


def test_a_runtime_drop_in_replaced_by_an_admin_override_is_a_warning(h200x2_snapshot, tmp_path):
    _write(tmp_path, "/etc/systemd/system/ollama.service", UNIT)
    _write(tmp_path, "/run/systemd/system/ollama.service.d/50-gpus.conf", _environment("CUDA_VISIBLE_DEVICES", "0,1"))
    _write(tmp_path, "/etc/systemd/system/ollama.service.d/override.conf", _environment("CUDA_VISIBLE_DEVICES", "0"))
    report = evaluate(dataclasses.replace(h200x2_snapshot, ollama=_collect(tmp_path)), [rule])
    (found,) = only_result(report, "host").findings
    assert found.severity is Severity.WARNING
    assert found.message == ("CUDA_VISIBLE_DEVICES=0 in /etc/systemd/system/ollama.service.d/override.conf replaces "
                             "CUDA_VISIBLE_DEVICES=0,1 in /run/systemd/system/ollama.service.d/50-gpus.conf: "
                             "Ollama gets '0'")


def test_a_masked_unit_is_no_unit(tmp_path):
    _write(tmp_path, "/usr/lib/systemd/system/ollama.service", UNIT)
    os.makedirs(tmp_path / "etc/systemd/system")
    os.symlink("/dev/null", tmp_path / "etc/systemd/system/ollama.service")
    environment = _collect(tmp_path).service_environment
    assert environment.reason is Reason.NOT_FOUND and "masked" in environment.detail


def test_an_environment_file_wins_over_environment_whatever_the_order(tmp_path):
    """systemd.exec(5), EnvironmentFile=: "Settings from these files override settings made with
    Environment=", also an Environment= of a drop-in read after the file was named."""
    _write(tmp_path, "/etc/default/ollama", "OLLAMA_HOST=0.0.0.0:11434\n")
    _write(tmp_path, "/usr/lib/systemd/system/ollama.service",
           UNIT.replace("[Service]\n", "[Service]\nEnvironmentFile=/etc/default/ollama\n"))
    _write(tmp_path, "/etc/systemd/system/ollama.service.d/override.conf", _environment("OLLAMA_HOST", "127.0.0.1:11434"))
    assert _collect(tmp_path).service_environment.value["OLLAMA_HOST"] == "0.0.0.0:11434"


def test_an_environment_file_gpubal_cannot_read_leaves_the_environment_unknown(tmp_path):
    """systemd reads it as root (a 0600 file of secrets is common); the settings in it are not known, so
    neither is the environment Ollama gets. A missing file marked "-" is ignored, as systemd ignores it."""
    unit = UNIT.replace("[Service]\n", "[Service]\nEnvironmentFile=-/etc/default/absent\nEnvironmentFile=/etc/ollama.env\n")
    _write(tmp_path, "/usr/lib/systemd/system/ollama.service", unit)
    (tmp_path / "etc" / "ollama.env").mkdir(parents=True)  # read_text of a folder fails, as an unreadable file would
    environment = _collect(tmp_path).service_environment
    assert isinstance(environment, Unavailable) and "/etc/ollama.env" in environment.source
    _write(tmp_path, "/usr/lib/systemd/system/ollama.service", unit.replace("EnvironmentFile=/etc/ollama.env\n", ""))
    assert _collect(tmp_path).service_environment.value["PATH"] == "/usr/local/bin:/usr/bin:/bin"
