from helpers import assert_actionable, h200x2_stack, known, ollama_running, only_result, single_finding, unavailable, with_driver, with_gpu, with_host, with_ollama, with_pair, with_stack

import dataclasses

from gpubal.doctor.engine import evaluate
from gpubal.model import (LibraryCopy, MigInstance, OllamaLogOffload, OllamaModel, Outcome, PythonPackage, Reason, Severity)

from gpubal.rules.nccl_cuda_mismatch import nccl_cuda_mismatch as rule


def _with_nccl(snapshot, version, consumer_cuda):
    copy = LibraryCopy("nccl", version, "/opt/v/nvidia/nccl/lib/libnccl.so.2", "wheel", "torch 2.5.1", "wheel metadata")
    return with_stack(snapshot, libraries=known([copy]),
                      python_packages=known([PythonPackage("torch", "2.5.1", "/opt/v", consumer_cuda, ())]))


def test_passes_when_a_build_for_the_cuda_major_exists(h200x2_snapshot):
    assert only_result(evaluate(_with_nccl(h200x2_snapshot, "2.30.7", "13.0"), [rule]), "host").outcome is Outcome.PASSED


def test_nccl_without_a_build_for_the_cuda_major_is_an_error(h200x2_snapshot):
    found = single_finding(evaluate(_with_nccl(h200x2_snapshot, "2.12.10", "12.1"), [rule]), "host")
    assert found.severity is Severity.ERROR and found.evidence["NCCL builds for CUDA"] == ["10.2", "11.0", "11.6"]
    assert_actionable(found.fix)


def test_not_evaluated_naming_the_missing_matrix_row(h200x2_full_snapshot):
    assert only_result(evaluate(h200x2_full_snapshot, [rule]), "host").missing_fact == "matrix: NCCL 2.28.3"
