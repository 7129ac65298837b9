from helpers import assert_actionable, h200x2_stack, known, ollama_running, only_result, single_finding, unavailable, with_driver, with_gpu, with_host, with_ollama, with_pair, with_stack

import dataclasses

from gpubal.doctor.engine import evaluate
from gpubal.model import (LibraryCopy, MigInstance, OllamaLogOffload, OllamaModel, Outcome, PythonPackage, Reason, Severity)

from gpubal.rules.library_copies_disagree import library_copies_disagree as rule


def test_passes_with_one_version_per_library(h200x2_snapshot):
    assert only_result(evaluate(h200x2_snapshot, [rule]), "host").outcome is Outcome.PASSED


def test_system_and_wheel_copies_are_information(h200x2_full_snapshot):
    report = evaluate(h200x2_full_snapshot, [rule])
    found = [f for f in only_result(report, "host").findings if f.subject == "lib:cudnn"][0]
    assert found.severity is Severity.INFO
    assert "the system loader loads 9.14.0 (/lib/x86_64-linux-gnu/libcudnn.so.9)" in found.message
    assert "torch 2.11.0 loads 9.19.0.56" in found.message
    assert_actionable(found.fix)


def test_a_copy_on_ld_library_path_shadowing_a_wheel_is_a_warning(h200x2_full_snapshot):
    shadow = LibraryCopy("cudnn", "9.1.0", "/opt/old/libcudnn.so.9", "LD_LIBRARY_PATH",
                         "processes started with this LD_LIBRARY_PATH", "file name")
    snapshot = with_stack(h200x2_full_snapshot, libraries=known([shadow] + h200x2_full_snapshot.stack.libraries.value))
    found = [f for f in only_result(evaluate(snapshot, [rule]), "host").findings if f.subject == "lib:cudnn"][0]
    assert found.severity is Severity.WARNING and "torch 2.11.0 can load 2 different versions" in found.message


def test_not_evaluated_without_the_library_list(h200x2_snapshot):
    snapshot = with_stack(h200x2_snapshot, libraries=unavailable(Reason.NO_PERMISSION))
    assert only_result(evaluate(snapshot, [rule]), "host").missing_fact == "stack.libraries"
