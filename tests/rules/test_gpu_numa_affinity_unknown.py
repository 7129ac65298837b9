from helpers import (assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_gpu,
                      with_host)

from gpubal.doctor.engine import evaluate
from gpubal.model import NumaNode, Outcome, Reason, Severity
from gpubal.rules.gpu_numa_affinity_unknown import gpu_numa_affinity_unknown as rule

TWO_SOCKETS = known([NumaNode(0, "0-15"), NumaNode(1, "16-31")])


def test_passes_on_healthy_h200x2(h200x2_snapshot):
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"gpu:0": Outcome.PASSED, "gpu:1": Outcome.PASSED}


def test_gpu_without_numa_node_on_two_socket_host_is_a_warning(h200x2_snapshot):
    snapshot = with_gpu(with_host(h200x2_snapshot, numa_nodes=TWO_SOCKETS), 0, numa_node=known(-1))
    report = evaluate(snapshot, [rule])
    found = single_finding(report, "gpu:0")
    assert found.rule_id == "gpu-numa-affinity-unknown"
    assert found.severity is Severity.WARNING
    assert found.subject == "gpu:0"
    assert found.evidence == {"gpu:0.numa_node": -1, "host.numa_nodes": 2}
    assert "cat /sys/bus/pci/devices/0000:00:06.0/numa_node" in found.fix.commands
    assert_actionable(found.fix)
    assert only_result(report, "gpu:1").outcome is Outcome.PASSED


def test_no_numa_node_on_a_single_node_host_does_not_matter(h200x2_snapshot):
    # the real h200x2 VM has one NUMA node and sysfs says -1: nothing to place, nothing to report
    snapshot = with_gpu(h200x2_snapshot, 0, numa_node=known(-1))
    assert only_result(evaluate(snapshot, [rule]), "gpu:0").outcome is Outcome.PASSED


def test_known_numa_node_on_two_socket_host_passes(h200x2_snapshot):
    snapshot = with_gpu(with_host(h200x2_snapshot, numa_nodes=TWO_SOCKETS), 0, numa_node=known(1))
    assert only_result(evaluate(snapshot, [rule]), "gpu:0").outcome is Outcome.PASSED


def test_not_evaluated_when_the_gpu_numa_node_is_unavailable(h200x2_snapshot):
    snapshot = with_gpu(with_host(h200x2_snapshot, numa_nodes=TWO_SOCKETS), 0,
                        numa_node=unavailable(Reason.NOT_FOUND))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "gpu:0.numa_node"


def test_not_evaluated_when_the_host_numa_layout_is_unavailable(h200x2_snapshot):
    snapshot = with_host(h200x2_snapshot, numa_nodes=unavailable(Reason.NOT_FOUND))
    result = only_result(evaluate(snapshot, [rule]), "gpu:0")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "host.numa_nodes"
