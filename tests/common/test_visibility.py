"""Which GPUs CUDA enumerates for a given environment, on the GPUs of recorded hosts, following the CUDA
Programming Guide's rules for CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER (cases from its examples)."""

import pytest
from helpers import real_snapshot

from gpubal.common.visibility import resolve_visibility

H200_0, H200_1 = "GPU-07f4a309-9680-b6ff-3e0f-c7623199c4cc", "GPU-ef0d3f05-6806-164c-47f3-28be3d1fcbc3"


@pytest.fixture(scope="module")
def two_h200(h200x2_snapshot):
    return h200x2_snapshot.gpu_list()


@pytest.fixture(scope="module")
def h100_and_a100():
    return real_snapshot("mixed-h100-a100").gpu_list()


def test_unset_sees_every_gpu_in_pci_order(two_h200):
    seen = resolve_visibility({}, two_h200)
    assert seen.gpus == (0, 1) and seen.setting == "CUDA_VISIBLE_DEVICES unset" and not seen.names_missing_gpu


def test_empty_sees_none(two_h200):
    seen = resolve_visibility({"CUDA_VISIBLE_DEVICES": ""}, two_h200)
    assert seen.gpus == () and seen.invalid_entry == ""


def test_the_list_orders_the_gpus(two_h200):
    assert resolve_visibility({"CUDA_VISIBLE_DEVICES": "1,0"}, two_h200).gpus == (1, 0)


def test_an_invalid_entry_ends_the_list(two_h200):
    seen = resolve_visibility({"CUDA_VISIBLE_DEVICES": "1,-1,0"}, two_h200)  # the guide's "0,2,-1,1" case
    assert seen.gpus == (1,) and seen.invalid_entry == "-1" and seen.ignored_entries == ("0",)


def test_an_index_past_the_last_gpu_names_none(two_h200):
    seen = resolve_visibility({"CUDA_VISIBLE_DEVICES": "0,1,2,3"}, two_h200)
    assert seen.gpus == (0, 1) and seen.invalid_entry == "2" and seen.ignored_entries == ("3",)


def test_a_uuid_prefix_that_names_one_gpu_is_enough(two_h200):
    seen = resolve_visibility({"CUDA_VISIBLE_DEVICES": f"GPU-ef0d3f05,{H200_0}"}, two_h200)
    assert seen.gpus == (1, 0) and not seen.by_index


def test_a_prefix_that_names_both_gpus_names_none(two_h200):
    seen = resolve_visibility({"CUDA_VISIBLE_DEVICES": "GPU-"}, two_h200)
    assert seen.gpus == () and seen.invalid_entry == "GPU-"


def test_a_uuid_of_another_host_names_none(two_h200):
    seen = resolve_visibility({"CUDA_VISIBLE_DEVICES": "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6"}, two_h200)
    assert seen.gpus == () and seen.names_missing_gpu


def test_a_repeated_gpu_is_counted_once_and_reported(two_h200):
    seen = resolve_visibility({"CUDA_VISIBLE_DEVICES": f"0,{H200_0}"}, two_h200)
    assert seen.gpus == (0,) and seen.repeated_entries == (H200_0,)


def test_mig_devices_in_both_forms():
    gpus = real_snapshot("a100-mig-instances").gpu_list()
    new = resolve_visibility({"CUDA_VISIBLE_DEVICES": "MIG-f2200a16-bc59-235d-5ab8-100542e391fa"}, gpus)
    old = resolve_visibility({"CUDA_VISIBLE_DEVICES": "MIG-GPU-92943319-76de-de32-f55a-b6a72767408c/2/0"}, gpus)
    assert new.gpus == old.gpus == (0,) and new.mig_devices and old.mig_devices
    missing = resolve_visibility({"CUDA_VISIBLE_DEVICES": "MIG-GPU-92943319-76de-de32-f55a-b6a72767408c/9/0"}, gpus)
    assert missing.names_missing_gpu


def test_indexes_on_mixed_models_without_pci_order_are_not_known(h100_and_a100):
    seen = resolve_visibility({"CUDA_VISIBLE_DEVICES": "1"}, h100_and_a100)
    assert seen.by_index and not seen.index_order_known
    pci = resolve_visibility({"CUDA_VISIBLE_DEVICES": "1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}, h100_and_a100)
    assert pci.index_order_known and pci.gpus == (1,)
    by_uuid = resolve_visibility({"CUDA_VISIBLE_DEVICES": "GPU-b0b9732e"}, h100_and_a100)
    assert by_uuid.index_order_known and by_uuid.gpus == (1,)


def test_a_container_sees_its_devices_first_and_indexes_count_among_them(two_h200):
    environment = {"NVIDIA_VISIBLE_DEVICES": "1", "CUDA_VISIBLE_DEVICES": "0"}
    seen = resolve_visibility(environment, two_h200, apply_container_devices=True)
    assert seen.container_gpus == (1,) and seen.gpus == (1,)
    assert resolve_visibility(environment, two_h200).gpus == (0,)  # gpubal inside that container: NVML shows its own
    assert resolve_visibility({"NVIDIA_VISIBLE_DEVICES": "void"}, two_h200, apply_container_devices=True).gpus == ()
