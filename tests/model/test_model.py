"""The Snapshot's JSON form: an exact round trip, and one clear message for every file it cannot read."""

import json

import pytest
from helpers import known, unavailable, with_driver, with_gpu
from hypothesis import given, settings
from hypothesis import strategies as st

from gpubal.common.cpulist import bitmask_words_to_numbers, format_cpulist, parse_cpulist
from gpubal.model import SCHEMA_VERSION, FactMissing, MigInstance, Reason, Unavailable, need, value_or
from gpubal.snapshot_file import SnapshotError, snapshot_from_dict, snapshot_from_json, snapshot_to_json, to_jsonable


# --- round trip ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["h200x2_snapshot", "h200x1_snapshot"])
def test_real_snapshots_round_trip_exactly(name, request):
    snapshot = request.getfixturevalue(name)
    text = snapshot_to_json(snapshot)
    assert snapshot_from_json(text) == snapshot
    assert snapshot_to_json(snapshot_from_json(text)) == text


def test_a_variant_with_mig_devices_and_unavailable_facts_round_trips(h200x2_snapshot):
    instance = MigInstance("MIG-5c5a4b31-0b8c-5b3e-9d0e-1e2f3a4b5c6d", 1, 0, 21536402432)
    snapshot = with_gpu(h200x2_snapshot, 0, mig_enabled_current=known(True), mig_instances=known([instance]),
                        pcie_replay_count=unavailable(Reason.GPU_LOST, "lost at 12:00"))
    snapshot = with_driver(snapshot, version=unavailable(Reason.TIMEOUT))
    assert snapshot_from_json(snapshot_to_json(snapshot)) == snapshot


def test_the_json_form_of_a_fact(h200x2_snapshot):
    data = json.loads(snapshot_to_json(h200x2_snapshot))
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["host"]["cpu_count"] == {"value": 32, "source": "/proc/cpuinfo"}
    assert data["gpus"]["value"][0]["retired_pages_pending"] == {
        "unavailable": "not_supported", "source": "nvmlDeviceGetRetiredPagesPendingStatus",
        "detail": "Not Supported (NVML_ERROR_NOT_SUPPORTED)"}


def test_a_json_report_document_holding_a_snapshot_is_accepted(h200x2_snapshot):
    document = {"gpubal_version": "0.1.0", "results": [], "snapshot": to_jsonable(h200x2_snapshot)}
    assert snapshot_from_json(json.dumps(document)) == h200x2_snapshot


# --- files that cannot be read ---------------------------------------------------------------------------


@pytest.fixture
def snapshot_data(h200x2_snapshot):
    return json.loads(snapshot_to_json(h200x2_snapshot))


def load_error(data) -> str:
    text = data if isinstance(data, str) else json.dumps(data)
    with pytest.raises(SnapshotError) as error:
        snapshot_from_json(text)
    message = str(error.value)
    assert "\n" not in message  # one line for the user
    return message


def test_not_json():
    assert load_error("nvidia-smi: command not found").startswith("not JSON: ")


def test_top_level_list():
    assert load_error([1, 2]) == "not a gpubal snapshot: the top level is not a JSON object"


def test_missing_schema_version(snapshot_data):
    del snapshot_data["schema_version"]
    assert load_error(snapshot_data) == "not a gpubal snapshot: it has no schema_version"


def test_schema_version_from_the_future(snapshot_data):
    snapshot_data["schema_version"] = 99
    message = load_error(snapshot_data)
    assert "schema_version 99 is not supported" in message
    assert f"reads version {SCHEMA_VERSION}" in message


def test_report_whose_snapshot_is_not_an_object():
    assert load_error({"snapshot": [1]}) == "not a gpubal snapshot: 'snapshot' is not a JSON object"


def test_wrong_type_deep_inside_names_the_path(snapshot_data):
    snapshot_data["gpus"]["value"][1]["memory_total_bytes"]["value"] = "141 GB"
    assert load_error(snapshot_data) == "snapshot.gpus[1].memory_total_bytes: expected int, got str"


def test_a_boolean_where_a_count_belongs_is_a_wrong_type(snapshot_data):
    snapshot_data["host"]["cpu_count"]["value"] = True
    assert load_error(snapshot_data) == "snapshot.host.cpu_count: expected int, got bool"


def test_unknown_reason(snapshot_data):
    snapshot_data["gpus"]["value"][0]["retired_pages_pending"]["unavailable"] = "lost_in_space"
    assert load_error(snapshot_data) == "snapshot.gpus[0].retired_pages_pending: unknown reason 'lost_in_space'"


def test_missing_field_names_the_path(snapshot_data):
    del snapshot_data["driver"]["kernel_module_version"]
    assert load_error(snapshot_data) == "snapshot.driver.kernel_module_version: missing"


def test_a_fact_without_value_or_reason(snapshot_data):
    snapshot_data["host"]["hostname"] = {"source": "/proc/sys/kernel/hostname"}
    assert load_error(snapshot_data) == "snapshot.host.hostname: a fact needs 'value' and 'source', or 'unavailable'"


def test_a_bare_value_where_a_fact_belongs(snapshot_data):
    snapshot_data["driver"]["version"] = "580.159.04"
    assert load_error(snapshot_data) == "snapshot.driver.version: expected a fact object, got str"


def test_snapshot_error_is_a_value_error():
    with pytest.raises(ValueError):
        snapshot_from_dict("not a dict")


# --- facts ----------------------------------------------------------------------------------------------


def test_need_returns_a_known_value_and_names_a_missing_one():
    assert need(known(3), "gpu:0.pcie_replay_count") == 3
    missing = Unavailable(Reason.NO_PERMISSION, "nvmlDeviceGetSerial", "root only")
    with pytest.raises(FactMissing) as error:
        need(missing, "gpu:0.serial")
    assert error.value.fact_name == "gpu:0.serial"
    assert error.value.unavailable is missing
    assert str(error.value) == "gpu:0.serial: no_permission (nvmlDeviceGetSerial): root only"


def test_value_or():
    assert value_or(known("ok"), "") == "ok"
    assert value_or(unavailable(), "") == ""


def test_part_need_names_the_fact_after_its_subject(h200x2_snapshot):
    gpu = with_gpu(h200x2_snapshot, 1, serial=unavailable(Reason.NO_PERMISSION)).gpu_list()[1]
    with pytest.raises(FactMissing) as error:
        gpu.need("serial")
    assert error.value.fact_name == "gpu:1.serial"
    assert h200x2_snapshot.pairs.value[0].need("pcie_path") == "PHB"


# --- cpulist --------------------------------------------------------------------------------------------


cpu_sets = st.sets(st.integers(min_value=0, max_value=4095), max_size=300)


@settings(max_examples=200, deadline=None)
@given(cpu_sets)
def test_cpulist_round_trip(numbers):
    assert parse_cpulist(format_cpulist(numbers)) == numbers


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1023), st.integers(0, 64)), max_size=20))
def test_cpulist_format_is_canonical(ranges):
    # any way of writing a set (overlapping, unordered, single numbers) formats to the same text
    text = ",".join(f"{start}-{start + length}" if length else str(start) for start, length in ranges)
    numbers = parse_cpulist(text)
    assert numbers == {n for start, length in ranges for n in range(start, start + length + 1)}
    assert format_cpulist(parse_cpulist(format_cpulist(numbers))) == format_cpulist(numbers)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=4))
def test_bitmask_words_agree_with_their_bits(words):
    numbers = bitmask_words_to_numbers(words)
    assert numbers == sorted(numbers)
    assert sum(1 << n for n in numbers) == sum(word << (64 * i) for i, word in enumerate(words))


@pytest.mark.parametrize("text, numbers", [
    ("", set()),
    ("0-31", set(range(32))),
    ("0-31,64-95", set(range(32)) | set(range(64, 96))),
    ("3", {3}),
    (" 0-1 ,4\n", {0, 1, 4}),
])
def test_parse_cpulist_examples(text, numbers):
    assert parse_cpulist(text) == numbers


@pytest.mark.parametrize("numbers, text", [
    (set(), ""), ({0}, "0"), ({0, 1, 2, 5}, "0-2,5"), (set(range(16)), "0-15"), ({7, 3, 4}, "3-4,7"),
])
def test_format_cpulist_examples(numbers, text):
    assert format_cpulist(numbers) == text


@pytest.mark.parametrize("text", ["5-3", "a", "0-", "1,2-x"])
def test_parse_cpulist_rejects_what_is_not_a_cpulist(text):
    with pytest.raises(ValueError):
        parse_cpulist(text)
