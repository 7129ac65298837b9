from helpers import assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_driver

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity
from gpubal.rules.nvidia_uvm_missing import nvidia_uvm_missing as rule


def test_passes_with_module_and_device_node(h200x2_snapshot):
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"host": Outcome.PASSED}


def test_passes_inside_the_real_container(h200x1_snapshot):
    assert outcomes(evaluate(h200x1_snapshot, [rule])) == {"host": Outcome.PASSED}


def test_module_and_device_missing_is_an_error(h200x2_snapshot):
    snapshot = with_driver(h200x2_snapshot, uvm_module_loaded=known(False), uvm_device_present=known(False))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.rule_id == "nvidia-uvm-missing"
    assert found.severity is Severity.ERROR
    assert found.subject == "host"
    assert found.evidence == {"driver.uvm_module_loaded": False, "driver.uvm_device_present": False}
    assert found.message.startswith("nvidia_uvm module and /dev/nvidia-uvm missing")
    assert found.fix.commands == ("sudo modprobe nvidia-uvm", "sudo nvidia-modprobe -u -c=0")
    assert_actionable(found.fix)


def test_device_node_missing_alone_is_an_error(h200x2_snapshot):
    snapshot = with_driver(h200x2_snapshot, uvm_device_present=known(False))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.evidence == {"driver.uvm_module_loaded": True, "driver.uvm_device_present": False}
    assert found.message.startswith("/dev/nvidia-uvm missing")


def test_not_evaluated_without_a_driver(h200x2_snapshot):
    snapshot = with_driver(h200x2_snapshot, nvml_status=unavailable(Reason.NOT_FOUND),
                           uvm_module_loaded=known(False), uvm_device_present=known(False))
    result = only_result(evaluate(snapshot, [rule]), "host")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "driver.nvml_status"


def test_not_evaluated_when_the_module_list_is_unavailable(h200x2_snapshot):
    snapshot = with_driver(h200x2_snapshot, uvm_module_loaded=unavailable(Reason.NO_PERMISSION))
    result = only_result(evaluate(snapshot, [rule]), "host")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "driver.uvm_module_loaded"
