from helpers import assert_actionable, known, only_result, outcomes, single_finding, unavailable, with_driver, with_host

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Reason, Severity, Snapshot, Unavailable
from gpubal.common import links as _links
from gpubal.rules.no_nvidia_driver import no_nvidia_driver as rule

NO_LIBRARY = Unavailable(Reason.NOT_FOUND, "nvmlInit", "NVML Shared Library Not Found (NVML_ERROR_LIBRARY_NOT_FOUND)")
NO_MODULE = Unavailable(Reason.NOT_FOUND, "/proc/driver/nvidia/version", "no such file")


def without_driver(snapshot: Snapshot) -> Snapshot:
    """What collect makes when NVML cannot be loaded: every NVML fact carries the failure."""
    return with_driver(snapshot, nvml_status=NO_LIBRARY, version=NO_LIBRARY, nvml_version=NO_LIBRARY,
                       cuda_driver_version=NO_LIBRARY, device_count=NO_LIBRARY, kernel_module_version=NO_MODULE)


def test_passes_when_nvml_starts(h200x2_snapshot):
    assert outcomes(evaluate(h200x2_snapshot, [rule])) == {"host": Outcome.PASSED}


def test_no_driver_on_bare_metal_is_an_error_with_an_install_fix(h200x2_snapshot):
    assert h200x2_snapshot.host.container.value == "none"
    found = single_finding(evaluate(without_driver(h200x2_snapshot), [rule]), "host")
    assert found.rule_id == "no-nvidia-driver"
    assert found.severity is Severity.ERROR
    assert found.subject == "host"
    assert found.evidence == {
        "driver.nvml_status": "not_found (nvmlInit): NVML Shared Library Not Found (NVML_ERROR_LIBRARY_NOT_FOUND)",
        "driver.kernel_module_version": "not_found (/proc/driver/nvidia/version): no such file",
        "host.container": "none",
    }
    assert found.fix.url == _links.DRIVER_INSTALL
    assert not any("--gpus" in command for command in found.fix.commands)
    assert_actionable(found.fix)


def test_no_driver_inside_docker_points_to_the_container_toolkit(h200x1_snapshot):
    # the real h200x1 snapshot was taken inside a Docker container
    assert h200x1_snapshot.host.container.value == "docker"
    found = single_finding(evaluate(without_driver(h200x1_snapshot), [rule]), "host")
    assert found.severity is Severity.ERROR
    assert found.evidence["host.container"] == "docker"
    assert "container" in found.message
    assert found.fix.commands == ("docker run --gpus all IMAGE nvidia-smi",)
    assert found.fix.url == _links.CONTAINER_TOOLKIT
    assert_actionable(found.fix)


def test_driver_not_loaded_is_the_same_finding(h200x2_snapshot):
    not_loaded = unavailable(Reason.NOT_FOUND, "Driver Not Loaded (NVML_ERROR_DRIVER_NOT_LOADED)")
    snapshot = with_driver(h200x2_snapshot, nvml_status=not_loaded)
    assert single_finding(evaluate(snapshot, [rule]), "host").severity is Severity.ERROR


def test_not_evaluated_when_nvml_exists_but_does_not_answer(h200x2_snapshot):
    snapshot = with_driver(h200x2_snapshot, nvml_status=unavailable(Reason.TIMEOUT, "nvmlInit took too long"))
    result = only_result(evaluate(snapshot, [rule]), "host")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "driver.nvml_status"
    assert "timeout" in result.missing_reason


def test_a_loaded_module_without_its_library_says_so(h200x1_snapshot):
    # bare metal (no container), /proc/driver/nvidia/version present, libnvidia-ml missing
    snapshot = with_host(with_driver(h200x1_snapshot, nvml_status=unavailable(Reason.NOT_FOUND, "nvmlInit")),
                         container=known("none"))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.severity is Severity.ERROR
    assert "kernel module 580.159.04 is loaded" in found.message
    assert "ldconfig -p | grep libnvidia-ml" in found.fix.commands
