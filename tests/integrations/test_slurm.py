"""Slurm health check: the decision (drain, resume, leave alone) without Slurm, against a recorded
`scontrol`; then against a real one-node Slurm (Debian's slurm-wlm and munge, started on loopback by the
test) where a faulty node is drained with gpubal's reason, a healthy one resumed, and `srun gpubal doctor`
collects a report. The real-Slurm tests skip, saying why, only where those packages are not installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Sequence, Tuple

import pytest

from gpubal.doctor.collect import collect_snapshot
from gpubal.doctor.engine import evaluate
from gpubal.doctor.probes.files import HostFiles
from gpubal.doctor.probes.nvml import ReplayAdapter
from gpubal.integrations.slurm import (REASON_MAX_BYTES, REASON_PREFIX, NodeState, SlurmError, decide,
                                       health_check, parse_node)
from gpubal.rules import all_rules
from helpers.paths import REPO, TESTS

FIXTURES = REPO / "tests" / "fixtures"
GPUBAL = str(Path(sys.executable).parent / "gpubal")
FAULTY = ("downtrained", "downtrained")  # a PCIe link at x8, replayed packets, pending ECC pages
HEALTHY = ("h200x2", "h200x2")


def report_of(case: Tuple[str, str]):
    profile, root = case
    snapshot = collect_snapshot(ReplayAdapter.from_file(str(FIXTURES / "nvml" / f"{profile}.json")),
                                HostFiles(str(FIXTURES / "roots" / root)), origin=f"nvml-profile:{profile}.json")
    return evaluate(snapshot, all_rules())


# --- the decision, without Slurm ---------------------------------------------------------------------

IDLE = NodeState("IDLE", "")


def test_a_faulty_node_is_drained_with_the_rules_and_gpus():
    action = decide(report_of(FAULTY), IDLE, "warning")
    assert action.kind == "drain" and action.problem
    assert action.reason.startswith(REASON_PREFIX + " ")
    assert "pcie-link-downtrained gpu:0" in action.reason and len(action.reason.encode()) <= REASON_MAX_BYTES
    assert action.argv("n1") == ["scontrol", "update", "nodename=n1", "state=drain", f"reason={action.reason}"]


def test_the_threshold_decides_what_is_a_problem():
    assert decide(report_of(FAULTY), IDLE, "error").kind == "none"  # only warnings on this host


def test_a_healthy_node_drained_by_gpubal_is_resumed():
    action = decide(report_of(HEALTHY), NodeState("IDLE+DRAIN", "gpubal: 1 warning: pcie-link-downtrained gpu:0"))
    assert action.kind == "resume" and not action.problem
    assert action.argv("n1") == ["scontrol", "update", "nodename=n1", "state=resume"]


@pytest.mark.parametrize("state,reason", [("IDLE+DRAIN", "disk replaced, burn-in"), ("DOWN", "Not responding"),
                                          ("MIXED+DRAIN", "gpubalx: not ours")])
def test_a_node_drained_by_someone_else_is_left_alone(state, reason):
    node = NodeState(state, reason)
    assert decide(report_of(HEALTHY), node).kind == "none"
    faulty = decide(report_of(FAULTY), node, "warning")
    assert faulty.kind == "none" and faulty.problem  # the administrator's reason is not overwritten


def test_a_node_already_drained_for_the_same_reason_is_not_drained_again():
    reason = decide(report_of(FAULTY), IDLE, "warning").reason
    assert decide(report_of(FAULTY), NodeState("IDLE+DRAIN", reason), "warning").kind == "none"


def test_a_healthy_idle_node_is_left_alone():
    assert decide(report_of(HEALTHY), IDLE).kind == "none"


def test_the_reason_fits_slurms_limit_however_many_findings():
    from gpubal.model import Finding, Fix, Outcome, Report, RuleResult, Severity

    base = report_of(HEALTHY)
    findings = tuple(Finding(f"rule-number-{i}", Severity.ERROR, f"gpu:{i}", "m", {}, Fix("f"))
                     for i in range(60))
    report = Report(base.snapshot, (RuleResult("many", "host", Outcome.FINDING, findings),), base.matrix_version)
    action = decide(report, IDLE)
    assert len(action.reason.encode()) <= REASON_MAX_BYTES and action.reason.endswith("more")


ONELINER = ("NodeName=n1 Arch=x86_64 CoresPerSocket=2 State=IDLE+DRAIN ThreadsPerCore=1 Partitions=debug "
            "Reason=gpubal: 1 warning: pcie-link-downtrained gpu:0 [root@2026-11-30T22:25:01]")


def test_parse_node_reads_state_and_a_reason_with_spaces():
    node = parse_node(ONELINER)
    assert node.state == "IDLE+DRAIN" and node.reason == "gpubal: 1 warning: pcie-link-downtrained gpu:0"
    assert node.drained_by_gpubal
    assert parse_node("NodeName=n1 State=IDLE ThreadsPerCore=1").reason == ""


class RecordedScontrol:
    """Answers `scontrol show node` with a recorded line and records every update."""

    def __init__(self, show: str, status: int = 0):
        self.show, self.status, self.calls = show, status, []

    def __call__(self, argv: Sequence[str]) -> Tuple[int, str, str]:
        self.calls.append(list(argv))
        if argv[1] == "show":
            return self.status, self.show, "" if self.status == 0 else "slurm_load_node error: Invalid node name"
        return 0, "", ""


def test_health_check_runs_scontrol_as_decided():
    scontrol = RecordedScontrol(ONELINER)
    action = health_check(report_of(HEALTHY), "n1", runner=scontrol)
    assert action.kind == "resume"
    assert scontrol.calls == [["scontrol", "show", "node", "n1", "--oneliner"],
                              ["scontrol", "update", "nodename=n1", "state=resume"]]


def test_an_unknown_node_is_an_error_not_a_verdict():
    with pytest.raises(SlurmError, match="Invalid node name"):
        health_check(report_of(HEALTHY), "nope", runner=RecordedScontrol("", status=1))


# --- against a real Slurm ----------------------------------------------------------------------------

sys.path.insert(0, str(TESTS))
from slurm_cluster import SlurmCluster, missing_programs  # noqa: E402

MISSING = missing_programs()
needs_slurm = pytest.mark.skipif(
    bool(MISSING) or os.geteuid() != 0,
    reason=f"a real Slurm needs Debian's slurm-wlm and munge installed and root (missing: {', '.join(MISSING)})"
           if MISSING else "a real Slurm here runs its daemons as root")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with SlurmCluster(tmp_path_factory.mktemp("slurm")) as running:
        yield running


def healthcheck(cluster, case: Tuple[str, str], *extra: str) -> subprocess.CompletedProcess:
    profile, root = case
    script = REPO / "deploy" / "slurm" / "gpubal-healthcheck"
    env = {**cluster.env, "GPUBAL": GPUBAL, "GPUBAL_FAIL_ON": "warning",
           "GPUBAL_ARGS": f"--nvml-profile {FIXTURES / 'nvml' / (profile + '.json')} --root {FIXTURES / 'roots' / root}"}
    # the script names the node with `hostname -s`; the test cluster's node has its own name
    return subprocess.run(["sh", str(script), "--node", cluster.node, *extra], env=env, capture_output=True,
                          text=True, timeout=120)


@needs_slurm
def test_real_slurm_faulty_node_is_drained_then_resumed_when_healthy(cluster):
    drained = healthcheck(cluster, FAULTY)
    assert drained.returncode == 1, drained.stdout + drained.stderr + cluster.logs()
    shown = cluster.show_node()
    assert "DRAIN" in cluster.state(), shown
    assert "Reason=gpubal: " in shown and "pcie-link-downtrained gpu:0" in shown
    listed = cluster.run(["sinfo", "-R", "--noheader", "--format=%N|%E"]).stdout.strip()
    assert listed.startswith(f"{cluster.node}|gpubal: "), listed  # what `sinfo -R` automation matches
    resumed = healthcheck(cluster, HEALTHY)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert cluster.wait_for_state("IDLE") == "IDLE", cluster.show_node() + cluster.logs()
    assert "Reason=" not in cluster.run(["scontrol", "show", "node", cluster.node, "--oneliner"]).stdout


@needs_slurm
def test_real_slurm_node_drained_by_an_administrator_stays_drained(cluster):
    done = cluster.run(["scontrol", "update", f"nodename={cluster.node}", "state=drain", "reason=burn-in after repair"])
    assert done.returncode == 0, done.stderr
    try:
        assert healthcheck(cluster, HEALTHY).returncode == 0
        assert "DRAIN" in cluster.state() and "Reason=burn-in after repair" in cluster.show_node()
        assert healthcheck(cluster, FAULTY).returncode == 1
        assert "Reason=burn-in after repair" in cluster.show_node()  # not overwritten
    finally:
        cluster.run(["scontrol", "update", f"nodename={cluster.node}", "state=resume"])


@needs_slurm
def test_real_slurm_srun_collects_a_report(cluster):
    profile, root = HEALTHY
    result = cluster.run(["srun", "-N1", "-w", cluster.node, "--time=2", GPUBAL, "doctor", "--format", "json",
                          "--nvml-profile", str(FIXTURES / "nvml" / f"{profile}.json"),
                          "--root", str(FIXTURES / "roots" / root)], timeout=120)
    assert result.returncode == 0, result.stderr + cluster.logs()
    report = json.loads(result.stdout)
    assert report["snapshot"]["origin"] == f"nvml-profile:{profile}.json"
    assert cluster.wait_for_state("IDLE") == "IDLE"  # the job's node went back to the pool
    assert cluster.run(["sinfo", "--noheader", "--format=%N %t"]).stdout.split() == [cluster.node, "idle"]
