"""A model server on the recorded two-socket L40S host (GPUs 0-1 under node 0, CPUs 0-31,64-95; GPUs 2-3
under node 1, CPUs 32-63,96-127), pinned here and there."""

import dataclasses

import pytest
from helpers import assert_actionable, known, only_result, real_snapshot, unavailable

from gpubal.doctor.engine import evaluate
from gpubal.model import GpuProcess, Known, Outcome, Reason, Severity
from gpubal.rules.process_pinned_away_from_gpus import process_pinned_away_from_gpus as rule

SERVER = GpuProcess(
    pid=4242, program=known("vllm"), found_by="nvml, name", command_line=known("vllm serve Qwen/Qwen3-8B"),
    user=known("svc-llm"), cgroup=known("/system.slice/vllm.service"), container=known("none"),
    gpu_environment=known({"CUDA_VISIBLE_DEVICES": "0,1"}), cpus_allowed=known("0-127"),
    memory_nodes_allowed=known("0-1"), gpus_held=known([0, 1]), gpu_numa_nodes=known([0]),
    gpu_libraries=known([]))


@pytest.fixture(scope="module")
def two_sockets():
    return real_snapshot("pcie4-l40s-2numa")


def _with(snapshot, *processes):
    return dataclasses.replace(snapshot, processes=Known(list(processes), "test"))


def test_a_server_free_to_run_anywhere_passes(two_sockets):
    result = only_result(evaluate(_with(two_sockets, SERVER), [rule]), "host")
    assert result.outcome is Outcome.PASSED


def test_a_server_pinned_to_the_far_socket_is_a_warning_with_numactl_and_systemd_fixes(two_sockets):
    far = dataclasses.replace(SERVER, cpus_allowed=known("32-63"), memory_nodes_allowed=known("1"))
    result = only_result(evaluate(_with(two_sockets, far), [rule]), "host")
    (found,) = result.findings
    assert found.severity is Severity.WARNING and found.subject == "process:4242"
    assert "its CPUs and memory may only come from another node" in found.message
    assert found.evidence["process:4242.cpus_allowed"] == "32-63"
    assert found.evidence["host.numa_node:0.cpus"] == "0-31,64-95"
    assert "numactl --cpunodebind=0 --membind=0 COMMAND" in found.fix.commands
    assert any(command.startswith("systemctl set-property vllm.service CPUAffinity=0-31,64-95 NUMAPolicy=bind "
                                  "NUMAMask=0") for command in found.fix.commands)
    assert_actionable(found.fix)


def test_memory_bound_to_the_far_node_alone_is_found(two_sockets):
    far_memory = dataclasses.replace(SERVER, memory_nodes_allowed=known("1"))
    (found,) = only_result(evaluate(_with(two_sockets, far_memory), [rule]), "host").findings
    assert "its memory may only come" in found.message


def test_cpus_that_include_one_near_cpu_pass(two_sockets):
    mixed = dataclasses.replace(SERVER, cpus_allowed=known("31-40"))
    assert only_result(evaluate(_with(two_sockets, mixed), [rule]), "host").outcome is Outcome.PASSED


def test_an_idle_server_holding_no_gpu_does_not_apply(two_sockets):
    idle = dataclasses.replace(SERVER, gpus_held=known([]), gpu_numa_nodes=known([]), cpus_allowed=known("32-63"))
    assert only_result(evaluate(_with(two_sockets, idle), [rule]), "host").outcome is Outcome.NOT_APPLICABLE


def test_one_numa_node_passes_whatever_runs(h200x2_snapshot):
    far = dataclasses.replace(SERVER, cpus_allowed=known("16-31"))
    assert only_result(evaluate(_with(h200x2_snapshot, far), [rule]), "host").outcome is Outcome.PASSED
    unknown = dataclasses.replace(h200x2_snapshot, processes=unavailable(Reason.NO_PERMISSION))
    assert only_result(evaluate(unknown, [rule]), "host").outcome is Outcome.PASSED


def test_a_process_whose_affinity_is_unknown_is_not_evaluated_but_others_still_are(two_sockets):
    hidden = dataclasses.replace(SERVER, pid=977, cpus_allowed=unavailable(Reason.NOT_FOUND))
    far = dataclasses.replace(SERVER, cpus_allowed=known("32-63"))
    result = only_result(evaluate(_with(two_sockets, hidden, far), [rule]), "host")
    assert [finding.subject for finding in result.findings] == ["process:4242"]
    assert result.missing_fact == "process:977.cpus_allowed"
    lone = only_result(evaluate(_with(two_sockets, hidden), [rule]), "host")
    assert lone.outcome is Outcome.NOT_EVALUATED


def test_no_process_table_is_not_evaluated(two_sockets):
    snapshot = dataclasses.replace(two_sockets, processes=unavailable(Reason.NO_PERMISSION))
    assert only_result(evaluate(snapshot, [rule]), "host").outcome is Outcome.NOT_EVALUATED
