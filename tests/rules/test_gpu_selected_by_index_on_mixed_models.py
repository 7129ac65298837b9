"""GPU selection by index on the recorded H100 + A100 host, and on the 2x H200 host where the orders agree."""

import dataclasses

import pytest
from helpers import assert_actionable, known, only_result, real_snapshot

from gpubal.doctor.engine import evaluate
from gpubal.model import Known, Outcome, Severity
from gpubal.rules.gpu_selected_by_index_on_mixed_models import gpu_selected_by_index_on_mixed_models as rule
from helpers import SERVER


@pytest.fixture(scope="module")
def mixed():
    return real_snapshot("mixed-h100-a100")


def _run(snapshot, environment):
    process = dataclasses.replace(SERVER, gpu_environment=known(environment))
    return only_result(evaluate(dataclasses.replace(snapshot, processes=Known([process], "test")), [rule]), "host")


def test_an_index_on_mixed_models_without_pci_order_is_a_warning(mixed):
    (found,) = _run(mixed, {"CUDA_VISIBLE_DEVICES": "1"}).findings
    assert found.severity is Severity.WARNING and found.subject == "process:4242"
    assert found.evidence == {"process:4242.gpu_environment.CUDA_VISIBLE_DEVICES": "1",
                              "process:4242.gpu_environment.CUDA_DEVICE_ORDER": "unset (FASTEST_FIRST)"}
    assert "CUDA_DEVICE_ORDER=PCI_BUS_ID CUDA_VISIBLE_DEVICES=1 COMMAND" in found.fix.commands
    assert_actionable(found.fix)


@pytest.mark.parametrize("environment", [{"CUDA_VISIBLE_DEVICES": "1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"},
                                         {"CUDA_VISIBLE_DEVICES": "GPU-b0b9732e"}, {}])
def test_pci_order_uuids_or_no_selection_pass(mixed, environment):
    assert _run(mixed, environment).outcome is Outcome.PASSED


def test_one_model_passes_whatever_the_order(h200x2_snapshot):
    assert _run(h200x2_snapshot, {"CUDA_VISIBLE_DEVICES": "1,0"}).outcome is Outcome.PASSED
