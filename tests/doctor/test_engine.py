"""The engine: every (rule, subject) gets exactly one outcome, a broken rule does not stop the others, and
the real healthy host raises no alarm."""

from pathlib import Path

from helpers import known, only_result, outcomes, unavailable, with_driver, with_gpu, with_host, with_snapshot

from gpubal.doctor.engine import evaluate
from gpubal.model import Fix, MigInstance, Outcome, Reason, Severity
from gpubal.rules import all_rules, finding, rule

MIG_DEVICE = MigInstance("MIG-5c5a4b31-0b8c-5b3e-9d0e-1e2f3a4b5c6d", 1, 0, 150754820096 // 7)


@rule("test-crashes", scope="gpu", area="gpu", summary="A rule with a bug")
def crashing(gpu, snapshot):
    """A rule that divides by zero on GPU 1."""
    if gpu.index == 1:
        raise ZeroDivisionError("division by zero")
    return ()


@rule("test-needs-driver-version", scope="host", area="driver", summary="Reads the driver version")
def needs_driver_version(snapshot):
    snapshot.driver.need("version")
    return ()


@rule("test-flags-every-gpu", scope="gpu", area="gpu", summary="Flags each GPU")
def flags_every_gpu(gpu, snapshot):
    yield finding(Severity.INFO, gpu.subject(), f"GPU {gpu.index} seen", {f"{gpu.subject()}.index": gpu.index},
                  Fix(summary="nothing", commands=("true",), url="https://example.org"))


@rule("test-pairs", scope="gpu_pair", area="topology", summary="Looks at pairs")
def looks_at_pairs(pair, snapshot):
    return ()


@rule("test-finds-then-lacks", scope="host", area="driver", summary="Finds something, then lacks a fact")
def finds_then_lacks(snapshot):
    yield finding(Severity.WARNING, "host", "first check failed", {"driver.version": "580.159.04"},
                  Fix(summary="fix it", commands=("true",), url="https://example.org"))
    snapshot.driver.need("kernel_module_version")


def test_a_crashing_rule_becomes_an_error_finding_and_the_others_still_run(h200x2_snapshot):
    report = evaluate(h200x2_snapshot, [crashing, flags_every_gpu])
    crashed = [r for r in report.results if r.rule_id == "test-crashes"]
    assert [(r.subject, r.outcome) for r in crashed] == [("gpu:0", Outcome.PASSED), ("gpu:1", Outcome.CRASHED)]
    (error,) = crashed[1].findings
    assert error.rule_id == "test-crashes"
    assert error.severity is Severity.ERROR
    assert error.subject == "gpu:1"
    assert "internal error" in error.message and "ZeroDivisionError" in error.message
    assert error.evidence["exception"] == "ZeroDivisionError: division by zero"
    raise_line = Path(__file__).read_text().splitlines().index('        raise ZeroDivisionError("division by zero")') + 1
    assert error.evidence["at"] == f"{__file__}:{raise_line}"
    assert "gpubal collect -o snapshot.json" in error.fix.summary
    later = [r.outcome for r in report.results if r.rule_id == "test-flags-every-gpu"]
    assert later == [Outcome.FINDING, Outcome.FINDING]


def test_a_missing_fact_makes_the_rule_not_evaluated(h200x2_snapshot):
    snapshot = with_driver(h200x2_snapshot, version=unavailable(Reason.API_MISSING, "old driver"))
    result = only_result(evaluate(snapshot, [needs_driver_version]), "host")
    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.missing_fact == "driver.version"
    assert result.missing_reason == "api_missing (test): old driver"
    assert result.findings == ()


def test_findings_made_before_a_missing_fact_are_kept(h200x2_snapshot):
    snapshot = with_driver(h200x2_snapshot, kernel_module_version=unavailable(Reason.NOT_FOUND))
    result = only_result(evaluate(snapshot, [finds_then_lacks]), "host")
    assert result.outcome is Outcome.FINDING
    assert [f.message for f in result.findings] == ["first check failed"]
    assert result.missing_fact == "driver.kernel_module_version"


def test_the_engine_stamps_each_finding_with_its_rule_id(h200x2_snapshot):
    report = evaluate(h200x2_snapshot, [flags_every_gpu])
    assert [(f.rule_id, f.subject) for f in report.findings()] == [
        ("test-flags-every-gpu", "gpu:0"), ("test-flags-every-gpu", "gpu:1")]


def test_a_gpu_rule_on_a_host_without_gpus_is_not_applicable(h200x2_snapshot):
    snapshot = with_snapshot(h200x2_snapshot, gpus=known([]), pairs=known([]))
    result = only_result(evaluate(snapshot, [flags_every_gpu]), "host")
    assert result.outcome is Outcome.NOT_APPLICABLE
    assert result.missing_reason == "this host has no GPUs"


def test_a_pair_rule_on_a_single_gpu_host_is_not_applicable(h200x1_snapshot):
    result = only_result(evaluate(h200x1_snapshot, [looks_at_pairs]), "host")
    assert result.outcome is Outcome.NOT_APPLICABLE
    assert result.missing_reason == "this host has no pairs of GPUs"


def test_a_gpu_rule_is_not_evaluated_when_the_gpus_cannot_be_listed(h200x2_snapshot):
    failure = unavailable(Reason.NOT_FOUND, "Driver Not Loaded (NVML_ERROR_DRIVER_NOT_LOADED)")
    snapshot = with_snapshot(h200x2_snapshot, gpus=failure, pairs=failure)
    report = evaluate(snapshot, [flags_every_gpu, looks_at_pairs])
    assert [(r.rule_id, r.subject, r.outcome, r.missing_fact) for r in report.results] == [
        ("test-flags-every-gpu", "host", Outcome.NOT_EVALUATED, "gpus"),
        ("test-pairs", "host", Outcome.NOT_EVALUATED, "pairs"),
    ]
    assert "Driver Not Loaded" in report.results[0].missing_reason


def test_each_rule_gives_each_subject_exactly_one_outcome(h200x2_snapshot):
    report = evaluate(h200x2_snapshot, all_rules())
    keys = [(r.rule_id, r.subject) for r in report.results]
    assert len(keys) == len(set(keys))
    # every rule of the Snapshot; the site-policy checks wait for a policy, the balance diagnoses for a recording
    assert {r.rule_id for r in report.results} == {r.id for r in all_rules()
                                                   if r.scope != "balance" and "policy" not in r.inputs}


def test_the_healthy_h200x2_raises_no_alarm(h200x2_snapshot):
    report = evaluate(h200x2_snapshot, all_rules())
    assert report.findings() == []
    assert report.worst_severity() is None
    assert {r.outcome for r in report.results} == {Outcome.PASSED, Outcome.NOT_EVALUATED, Outcome.NOT_APPLICABLE}
    # vLLM's GPU floor: the host's Python environment has no vLLM
    assert {r.rule_id for r in report.results if r.outcome is Outcome.NOT_APPLICABLE} == {"vllm-gpu-unsupported"}
    # only the Ollama checks, all on one fact: that host has no Ollama; and the checks of running
    # processes and the kernel log, which the profile (recorded before gpubal read them) does not hold
    assert {(r.rule_id.split("-")[0], r.missing_fact) for r in report.results
            if r.outcome is Outcome.NOT_EVALUATED} == {("ollama", "ollama"), ("cuda", "processes"),
                                                      ("tensor", "processes"), ("gpu", "xid_events"),
                                                      ("dev", "processes"), ("nccl", "processes")}


def test_the_real_h200x1_raises_nothing_and_says_what_it_could_not_check(h200x1_snapshot):
    # one PCIe replay since the driver loaded: without the uptime no rate, so not evaluated, not a warning
    report = evaluate(h200x1_snapshot, all_rules())
    assert report.findings() == []
    assert report.worst_severity() is None
    assert not [r for r in report.results if r.outcome is Outcome.CRASHED]
    assert [(r.rule_id, r.missing_fact) for r in report.results if r.outcome is Outcome.NOT_EVALUATED
            and not r.rule_id.startswith("ollama-")] == [
        ("cuda-visible-devices-names-missing-gpu", "processes"),  # not in the profile, recorded before
        ("dev-shm-too-small", "processes"),  # each container process's own /dev/shm
        ("gpu-xid-events", "xid_events"),  # the recorded tree holds no kernel log
        ("nccl-nvls-without-fabric", "processes"),  # which vLLM or SGLang runs
        ("pcie-replay-errors", "host.uptime_seconds"),
        ("tensor-parallel-size-does-not-fit", "processes")]
    assert {r.missing_fact for r in report.results if r.rule_id.startswith("ollama-")} == {"ollama"}
    not_applicable = sorted(r.rule_id for r in report.results if r.outcome is Outcome.NOT_APPLICABLE)
    assert not_applicable == ["gpu-pair-crosses-numa", "p2p-redirected-by-acs", "p2p-through-translating-iommu",
                              "p2p-unsupported-between-gpus", "vllm-gpu-unsupported"]


def test_findings_are_sorted_worst_first(h200x2_snapshot):
    snapshot = with_gpu(h200x2_snapshot, 1, pcie_replay_count=known(3000), remapped_rows_failed=known(True),
                        mig_enabled_current=known(True), mig_instances=known([MIG_DEVICE]))
    snapshot = with_host(snapshot, uptime_seconds=known(600))
    report = evaluate(snapshot, all_rules())
    assert [(f.severity, f.rule_id) for f in report.findings()] == [
        (Severity.ERROR, "ecc-row-remapping-failed"),
        (Severity.WARNING, "mig-pending-reboot"),
        (Severity.WARNING, "pcie-replay-errors"),
        (Severity.INFO, "mig-mixed-across-gpus"),
    ]
    assert report.worst_severity() is Severity.ERROR


def test_every_real_rule_survives_a_snapshot_without_a_driver(h200x2_snapshot):
    # the worst case a rule meets: NVML absent, so almost every fact is unavailable
    failure = unavailable(Reason.NOT_FOUND, "NVML Shared Library Not Found")
    snapshot = with_snapshot(with_driver(h200x2_snapshot, nvml_status=failure, version=failure,
                                         kernel_module_version=failure, uvm_module_loaded=known(False)),
                             gpus=failure, pairs=failure)
    report = evaluate(snapshot, all_rules())
    assert not [r for r in report.results if r.outcome is Outcome.CRASHED]
    assert [(f.rule_id, f.severity) for f in report.findings()] == [("no-nvidia-driver", Severity.ERROR)]


def test_a_version_that_is_no_version_is_not_evaluated_not_a_crash(h200x2_snapshot):
    """A hand-edited snapshot or a garbled paste: the comparison cannot be made, and no rule is to blame."""
    snapshot = with_driver(h200x2_snapshot, version=known("580.159.04<junk>"))
    report = evaluate(snapshot, all_rules())
    assert not [r for r in report.results if r.outcome is Outcome.CRASHED]
    not_evaluated = {r.rule_id: r.missing_reason for r in report.results if r.outcome is Outcome.NOT_EVALUATED}
    assert "not a version number" in not_evaluated["driver-branch-end-of-life"]


# --- inputs: what a rule declares, the engine hands in --------------------------------------------------


@rule("test-reads-the-matrix", scope="host", area="stack", summary="Reads the matrix", inputs=("matrix",))
def reads_the_matrix(snapshot, matrix):
    yield finding(Severity.INFO, "host", f"matrix {matrix.version}", {"matrix": matrix.version},
                  Fix(summary="nothing", commands=("true",), url="https://example.org"))


def test_the_engine_hands_a_rule_the_matrix_it_declares(h200x2_snapshot):
    import dataclasses

    from gpubal.matrix import load_matrix

    other = dataclasses.replace(load_matrix(), matrix_dates=(("test", "1999-01-01"),))
    report = evaluate(h200x2_snapshot, [reads_the_matrix], matrix=other)
    assert [f.message for f in report.findings()] == ["matrix 1999-01-01"]
    assert report.matrix_version == "1999-01-01"


def test_a_rule_declaring_an_unknown_input_is_refused():
    import pytest

    with pytest.raises(ValueError, match="inputs must be among"):
        rule("test-bad-input", scope="host", area="stack", summary="x", inputs=("network",))(lambda snapshot: ())


def test_no_rule_loads_the_matrix_itself():
    from gpubal.rules import __path__ as rules_path

    for path in Path(rules_path[0]).glob("*.py"):
        assert "load_matrix" not in path.read_text(encoding="utf-8"), f"{path.name}: take `matrix` as an input"


def test_the_engine_stamps_each_result_with_its_rule_area_and_json_leaves_it_out(h200x2_snapshot):
    import json

    from gpubal.reports.json_report import render_json

    report = evaluate(h200x2_snapshot, [flags_every_gpu, looks_at_pairs, needs_driver_version])
    assert {(r.rule_id, r.area) for r in report.results} == {
        ("test-flags-every-gpu", "gpu"), ("test-pairs", "topology"), ("test-needs-driver-version", "driver")}
    assert all("area" not in result for result in json.loads(render_json(report))["results"])


# --- site-policy checks and balance diagnoses: rules of the same catalogue --------------------------------


def test_a_site_policy_check_runs_only_when_the_policy_asks_for_it(h200x2_snapshot):
    from gpubal.doctor.policy import parse_policy

    policy_rules = [r for r in all_rules() if "policy" in r.inputs]
    assert not evaluate(h200x2_snapshot, policy_rules).results  # no --policy: no site checks at all
    asked = evaluate(h200x2_snapshot, policy_rules, parse_policy("[expect]\ngpu_count = 2\nnvlink_all_pairs = false\n", "site.toml"))
    assert [(r.rule_id, r.outcome, r.area) for r in asked.results] == [("site-policy-gpu-count", Outcome.PASSED, "policy")]


def test_a_site_policy_check_is_not_evaluated_without_its_fact(h200x2_snapshot):
    from gpubal.doctor.policy import parse_policy

    snapshot = with_driver(h200x2_snapshot, version=unavailable(Reason.API_MISSING, "old driver"))
    report = evaluate(snapshot, all_rules(), parse_policy('[expect]\nmin_driver = "550.54.15"\n', "site.toml"))
    (result,) = [r for r in report.results if r.rule_id == "site-policy-min-driver"]
    assert (result.outcome, result.missing_fact) == (Outcome.NOT_EVALUATED, "driver.version")


@rule("balance-test-crashes", scope="balance", area="balance", summary="A balance rule with a bug")
def balance_crashes(observation):
    """A balance rule that fails on every observation."""
    raise KeyError("gpu 7")


def test_balance_rules_run_through_the_engine_and_a_crash_is_a_finding(h200x2_snapshot):
    from helpers import replay_balance

    from gpubal.balance.analysis import analyze
    from gpubal.doctor.engine import evaluate_balance

    observation = analyze(replay_balance("one-busy"))
    balance = [r for r in all_rules() if r.scope == "balance"] + [balance_crashes]
    results = evaluate_balance(observation, balance)
    assert {r.rule_id: r.outcome for r in results}["balance-one-gpu-busy"] is Outcome.FINDING
    (crash,) = [r for r in results if r.rule_id == "balance-test-crashes"]
    assert crash.outcome is Outcome.CRASHED and "internal error" in crash.findings[0].message
    assert [f.rule_id for f in observation.diagnoses] == ["balance-one-gpu-busy"]
    # a doctor run leaves balance rules out: they judge a recording, not a snapshot
    assert evaluate(h200x2_snapshot, balance).results == ()


def test_site_policy_checks_come_after_the_host_rules_in_the_policy_key_order(h200x2_snapshot):
    from gpubal.doctor.policy import parse_policy

    text = '[expect]\nmin_driver = "1.0"\nnvlink_all_pairs = true\ngpu_model = "*"\ngpu_count = 2\n'
    report = evaluate(h200x2_snapshot, all_rules(), parse_policy(text, "site.toml"))
    ids = [r.rule_id for r in report.results]
    first_site = ids.index("site-policy-gpu-count")
    assert all(not rule_id.startswith("site-policy-") for rule_id in ids[:first_site])
    assert list(dict.fromkeys(ids[first_site:])) == [
        "site-policy-gpu-count", "site-policy-gpu-model", "site-policy-nvlink-all-pairs", "site-policy-min-driver"]
