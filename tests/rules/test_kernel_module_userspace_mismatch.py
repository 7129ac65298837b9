from helpers import assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_driver

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity, Unavailable
from gpubal.rules import find_rule
from gpubal.rules.kernel_module_userspace_mismatch import kernel_module_userspace_mismatch as rule

MISMATCH = Unavailable(Reason.ERROR, "nvmlInit", "Driver/library version mismatch (NVML_ERROR_LIB_RM_VERSION_MISMATCH)")


def test_passes_when_module_and_library_match(h200x2_snapshot):
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"host": Outcome.PASSED}


def test_different_versions_are_an_error(h200x2_snapshot):
    snapshot = with_driver(h200x2_snapshot, kernel_module_version=known("570.133.20"))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.rule_id == "kernel-module-userspace-mismatch"
    assert found.severity is Severity.ERROR
    assert found.subject == "host"
    assert found.evidence == {"driver.version": "580.159.04", "driver.kernel_module_version": "570.133.20"}
    assert found.fix.commands == ("sudo reboot",)
    assert_actionable(found.fix)


def test_nvml_refusing_to_start_with_a_version_mismatch_is_an_error(h200x2_snapshot):
    # what NVML says right after a driver upgrade without a reboot: nothing but the module version is known
    snapshot = with_driver(h200x2_snapshot, nvml_status=MISMATCH, version=MISMATCH, nvml_version=MISMATCH,
                           kernel_module_version=known("570.133.20"))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.severity is Severity.ERROR
    assert found.evidence == {
        "driver.nvml_status": "error (nvmlInit): Driver/library version mismatch (NVML_ERROR_LIB_RM_VERSION_MISMATCH)",
        "driver.kernel_module_version": "570.133.20",
    }
    assert_actionable(found.fix)


def test_old_id_redirects_here():
    assert find_rule("nvml-driver-library-mismatch") is rule


def test_not_evaluated_when_the_kernel_module_version_is_unavailable(h200x2_snapshot):
    snapshot = with_driver(h200x2_snapshot, kernel_module_version=unavailable(Reason.NOT_FOUND))
    result = only_result(evaluate(snapshot, [rule]), "host")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "driver.kernel_module_version"


def test_not_evaluated_when_nvml_fails_for_another_reason(h200x2_snapshot):
    failed = unavailable(Reason.NO_PERMISSION, "Insufficient Permissions (NVML_ERROR_NO_PERMISSION)")
    snapshot = with_driver(h200x2_snapshot, nvml_status=failed, version=failed)
    result = only_result(evaluate(snapshot, [rule]), "host")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "driver.version"
