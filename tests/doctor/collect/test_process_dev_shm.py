"""Each GPU process's own /dev/shm, read from a real child process that this test starts in a mount
namespace of its own with a 64 MiB tmpfs at /dev/shm: what `docker run` gives a container by default.
The host's mounts are not touched (the namespace is private to the child and ends with it)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time

import pytest
from helpers import known, only_result, with_snapshot

from gpubal.doctor.collect.processes import collect_processes, process_dev_shm_bytes, process_names
from gpubal.doctor.engine import evaluate
from gpubal.model import Known, Outcome, Reason, Severity, Unavailable
from gpubal.doctor.probes.files import HostFiles
from gpubal.rules.dev_shm_too_small import dev_shm_too_small as rule

LIVE = HostFiles("/")
MIB = 1 << 20

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux /proc")


def _own_shm_child(size: str):
    """A child in its own mount namespace with a tmpfs of `size` at /dev/shm, waiting on its stdin. As
    root, `unshare --mount`; else in a user namespace too (`-r`), where the kernel allows one."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1) here")
    script = f"mount -t tmpfs -o size={size} tmpfs /dev/shm && echo ready && exec cat"
    for argv in (["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                 ["unshare", "-r", "--mount", "--propagation", "private", "sh", "-c", script]):
        child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if child.stdout.readline().strip() == b"ready":
            return child
        child.kill()
        child.wait()
    pytest.skip("this machine lets no test process mount its own /dev/shm")


@pytest.fixture
def shm_child():
    children = []

    def start(size: str):
        child = _own_shm_child(size)
        children.append(child)
        for _ in range(200):  # until `cat` runs: its mounts are the namespace's from then on
            if os.path.exists(f"/proc/{child.pid}") and "cat" in open(f"/proc/{child.pid}/comm").read():
                break
            time.sleep(0.01)
        return child

    yield start
    for child in children:
        child.kill()
        child.wait()


def test_a_process_in_its_own_mount_namespace_has_its_own_dev_shm(shm_child):
    child = shm_child("64m")
    size = process_dev_shm_bytes(LIVE, child.pid)
    assert size == Known(64 * MIB, f"/proc/{child.pid}/mountinfo (size= of /dev/shm)")


def test_a_process_that_is_gone_is_not_found():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert process_dev_shm_bytes(LIVE, gone.pid).reason is Reason.NOT_FOUND


def test_the_table_carries_each_processs_dev_shm(shm_child):
    child = shm_child("64m")
    table = collect_processes(LIVE, process_names(LIVE), {child.pid: [0, 1]}, None, Known([], "test"),
                              Known("none", "test"))
    (entry,) = [process for process in table.value if process.pid == child.pid]
    assert entry.dev_shm_bytes.value == 64 * MIB


def _snapshot_with(snapshot, process):
    return with_snapshot(snapshot, processes=Known([process], "test"))


def test_a_container_process_on_two_gpus_with_64_mib_is_a_warning(shm_child, h200x2_full_snapshot):
    child = shm_child("64m")
    table = collect_processes(LIVE, process_names(LIVE), {child.pid: [0, 1]}, None, h200x2_full_snapshot.gpus,
                              Known("none", "test"))
    (entry,) = [process for process in table.value if process.pid == child.pid]
    # seen from the host, the child's cgroup would name its container; here it is a plain child
    in_docker = dataclasses.replace(entry, container=known("docker"))
    result = only_result(evaluate(_snapshot_with(h200x2_full_snapshot, in_docker), [rule]), "host")
    (found,) = result.findings
    assert found.severity is Severity.WARNING and found.subject == f"process:{child.pid}"
    assert found.evidence[f"process:{child.pid}.dev_shm_bytes"] == 64 * MIB
    assert "--shm-size=1g" in found.message and "2 GPUs" in found.message
    assert "docker run --shm-size=1g --ulimit memlock=-1 IMAGE" in found.fix.commands


def test_a_process_outside_containers_is_judged_by_the_host_check(shm_child, h200x2_full_snapshot):
    child = shm_child("64m")
    table = collect_processes(LIVE, process_names(LIVE), {child.pid: [0, 1]}, None, h200x2_full_snapshot.gpus,
                              Known("none", "test"))
    (entry,) = [process for process in table.value if process.pid == child.pid]
    plain = dataclasses.replace(entry, container=known("none"))
    result = only_result(evaluate(_snapshot_with(h200x2_full_snapshot, plain), [rule]), "host")
    assert result.outcome is Outcome.PASSED


def test_a_container_process_on_one_gpu_is_not_judged(shm_child, h200x2_full_snapshot):
    child = shm_child("64m")
    table = collect_processes(LIVE, process_names(LIVE), {child.pid: [1]}, None, h200x2_full_snapshot.gpus,
                              Known("none", "test"))
    (entry,) = [process for process in table.value if process.pid == child.pid]
    one_gpu = dataclasses.replace(entry, container=known("docker"),
                                  gpu_environment=known({"CUDA_VISIBLE_DEVICES": "1"}))
    result = only_result(evaluate(_snapshot_with(h200x2_full_snapshot, one_gpu), [rule]), "host")
    assert result.outcome is Outcome.PASSED  # NCCL does not span GPUs within one visible GPU


def test_an_unreadable_dev_shm_of_a_container_process_is_not_evaluated(shm_child, h200x2_full_snapshot):
    child = shm_child("64m")
    table = collect_processes(LIVE, process_names(LIVE), {child.pid: [0, 1]}, None, h200x2_full_snapshot.gpus,
                              Known("none", "test"))
    (entry,) = [process for process in table.value if process.pid == child.pid]
    hidden = dataclasses.replace(entry, container=known("docker"),
                                 dev_shm_bytes=Unavailable(Reason.NO_PERMISSION, f"/proc/{child.pid}/mountinfo",
                                                           "Permission denied"))
    result = only_result(evaluate(_snapshot_with(h200x2_full_snapshot, hidden), [rule]), "host")
    assert result.outcome is Outcome.NOT_EVALUATED and result.missing_fact == f"process:{child.pid}.dev_shm_bytes"


def test_an_unknown_process_table_is_not_a_pass(h200x2_full_snapshot):
    # outside a container the host check passes, but the containers' own /dev/shm could not be seen
    result = only_result(evaluate(h200x2_full_snapshot, [rule]), "host")
    assert result.outcome is Outcome.NOT_EVALUATED and result.missing_fact == "processes"


def test_an_ollama_server_in_a_container_is_not_judged_by_nccl_s_guide(shm_child, h200x2_full_snapshot):
    """Ollama (and llama.cpp) split a model over GPUs in one process, without NCCL: 64 MiB is no fault."""
    child = shm_child("64m")
    table = collect_processes(LIVE, process_names(LIVE), {child.pid: [0, 1]}, None, h200x2_full_snapshot.gpus,
                              Known("none", "test"))
    (entry,) = [process for process in table.value if process.pid == child.pid]
    for program in ("ollama", "llama.cpp"):
        server = dataclasses.replace(entry, container=known("docker"), program=known(program))
        result = only_result(evaluate(_snapshot_with(h200x2_full_snapshot, server), [rule]), "host")
        assert not result.findings and result.outcome.value == "passed", program
