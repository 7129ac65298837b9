from helpers import assert_actionable, h200x2_stack, known, ollama_running, only_result, single_finding, unavailable, with_driver, with_gpu, with_host, with_ollama, with_pair, with_stack

import dataclasses

from gpubal.doctor.engine import evaluate
from gpubal.model import (LibraryCopy, MigInstance, OllamaLogOffload, OllamaModel, Outcome, PythonPackage, Reason, Severity)

from gpubal.rules.cuda_runtime_exceeds_driver import cuda_runtime_exceeds_driver as rule


def test_passes_on_the_h200x2_stack(h200x2_full_snapshot):
    assert only_result(evaluate(h200x2_full_snapshot, [rule]), "host").outcome is Outcome.PASSED


def test_newer_major_than_the_driver_is_an_error(h200x2_full_snapshot):
    snapshot = with_driver(h200x2_full_snapshot, cuda_driver_version=known("12.8"), version=known("570.133.20"))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.severity is Severity.ERROR and "cudaErrorInsufficientDriver" in found.message
    assert "torch 2.11.0 (built for CUDA 13.0)" in found.evidence["CUDA 13.0 used by"]
    assert found.evidence["driver released with CUDA 13.0"] == "580.65.06"
    assert_actionable(found.fix)


def test_newer_minor_within_the_major_is_a_warning_about_ptx_jit(h200x2_full_snapshot):
    packages = h200x2_full_snapshot.stack.python_packages.value + [
        PythonPackage("torch", "2.12.0+cu132", "/opt/new", "13.2", ())]
    snapshot = with_stack(h200x2_full_snapshot, python_packages=known(packages))
    found = single_finding(evaluate(snapshot, [rule]), "host")
    assert found.severity is Severity.WARNING and "PTX JIT" in found.message
    assert found.evidence["driver.cuda_driver_version"] == "13.0"


def test_below_the_minor_version_compatibility_floor_is_an_error(h200x2_full_snapshot):
    packages = [PythonPackage("torch", "2.12.0+cu132", "/opt/new", "13.2", ())]
    snapshot = with_stack(h200x2_full_snapshot, python_packages=known(packages))
    snapshot = with_driver(snapshot, version=known("575.57.08"), cuda_driver_version=known("13.0"))
    assert single_finding(evaluate(snapshot, [rule]), "host").severity is Severity.ERROR


def test_not_evaluated_without_the_driver_cuda_version(h200x2_full_snapshot):
    snapshot = with_driver(h200x2_full_snapshot, cuda_driver_version=unavailable(Reason.API_MISSING))
    assert only_result(evaluate(snapshot, [rule]), "host").missing_fact == "driver.cuda_driver_version"
