"""Slurm's HealthCheckProgram: drain a node that gpubal finds unhealthy, resume it once it is healthy again.

The decision is a pure function of the report and the node's current state and reason (`decide`); the
`scontrol` calls go through an injectable runner, so the logic is tested without Slurm, and the same code
is tested against a real slurmctld and slurmd in tests/integrations/test_slurm.py.

- Unhealthy: `scontrol update nodename=NODE state=drain reason="gpubal: ..."`. The reason names the rule
  ids and GPUs worst first, and always starts with REASON_PREFIX so automation can tell gpubal's drains
  apart. A node already drained (or down) for another reason keeps that reason: an administrator's note
  is never overwritten.
- Healthy: `scontrol update nodename=NODE state=resume` only when the node is drained with a reason that
  starts with REASON_PREFIX; a node someone else drained stays drained.

Reason length: slurmctld keeps any length, but slurmdbd stores node events in a MySQL TINYTEXT column
(`reason tinytext not null` in the event table of Slurm's accounting_storage/mysql plugin), which holds
255 bytes; `sinfo -R` shows the first 20 characters by default ("%20E"). So reasons are cut at whole
items to REASON_MAX_BYTES, and the prefix is first.
"""

from __future__ import annotations

import re
import subprocess
from typing import Callable, List, Sequence, Tuple

from ..model import Report, record
from ..reports.oneline import PREFIX, summary_line

REASON_PREFIX = PREFIX  # "gpubal:"
REASON_MAX_BYTES = 255
SCONTROL_TIMEOUT_S = 30

Runner = Callable[[Sequence[str]], Tuple[int, str, str]]  # argv -> (status, stdout, stderr)


class SlurmError(RuntimeError):
    """scontrol failed; the message is one line for the user."""


@record
class NodeState:
    state: str  # as scontrol prints it: "IDLE", "IDLE+DRAIN", "MIXED+DRAIN", "DOWN+NOT_RESPONDING" ...
    reason: str  # "" when none

    @property
    def drained(self) -> bool:
        words = set(self.state.upper().replace("*", "").split("+"))
        return bool(words & {"DRAIN", "DRAINED", "DRAINING", "DOWN", "FAIL", "FAILING"})

    @property
    def drained_by_gpubal(self) -> bool:
        return self.drained and self.reason.startswith(REASON_PREFIX)


@record
class Action:
    kind: str  # "drain", "resume" or "none"
    reason: str  # the drain reason, or why nothing is done
    problem: bool  # the node is unhealthy by gpubal's verdict

    def argv(self, node: str, scontrol: str = "scontrol") -> List[str]:
        if self.kind == "drain":
            return [scontrol, "update", f"nodename={node}", "state=drain", f"reason={self.reason}"]
        if self.kind == "resume":
            return [scontrol, "update", f"nodename={node}", "state=resume"]
        return []


def drain_reason(report: Report, threshold: str, max_bytes: int = REASON_MAX_BYTES) -> Tuple[bool, str]:
    return summary_line(report, threshold, max_bytes)


def decide(report: Report, node: NodeState, threshold: str = "error") -> Action:
    problem, reason = drain_reason(report, threshold)
    if problem:
        if node.drained and not node.drained_by_gpubal:
            return Action("none", f"already {node.state} for another reason ({node.reason}); left as it is", True)
        if node.drained_by_gpubal and node.reason == reason:
            return Action("none", "already drained by gpubal for the same reason", True)
        return Action("drain", reason, True)
    if node.drained_by_gpubal:
        return Action("resume", "healthy again", False)
    return Action("none", "healthy", False)


def run_command(argv: Sequence[str]) -> Tuple[int, str, str]:
    try:
        completed = subprocess.run(list(argv), capture_output=True, text=True, timeout=SCONTROL_TIMEOUT_S)
    except FileNotFoundError:
        raise SlurmError(f"{argv[0]} not found: is this a Slurm node?") from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{' '.join(argv[:3])} did not answer in {SCONTROL_TIMEOUT_S} s") from None
    return completed.returncode, completed.stdout, completed.stderr


def parse_node(text: str) -> NodeState:
    """`scontrol show node NAME --oneliner`: State=... and Reason=... The reason may hold spaces and is
    followed by ` [user@time]` when someone set it."""
    line = " ".join(text.split("\n"))
    state_match = re.search(r"(?:^|\s)State=(\S+)", line)
    if state_match is None:
        raise SlurmError("scontrol show node printed no State=")
    reason_match = (re.search(r"(?:^|\s)Reason=(.*?) \[[^\]@]*@[^\]]*\]", line)
                    or re.search(r"(?:^|\s)Reason=(.*)$", line))
    reason = reason_match.group(1).strip() if reason_match else ""
    return NodeState(state_match.group(1), "" if reason in ("(null)", "None") else reason)


def node_state(node: str, runner: Runner = run_command, scontrol: str = "scontrol") -> NodeState:
    status, stdout, stderr = runner([scontrol, "show", "node", node, "--oneliner"])
    if status != 0:
        raise SlurmError(f"scontrol show node {node}: {(stderr or stdout).strip() or f'exit status {status}'}")
    return parse_node(stdout)


def health_check(report: Report, node: str, threshold: str = "error", runner: Runner = run_command,
                 scontrol: str = "scontrol") -> Action:
    """Read the node's state, decide, and carry the decision out with scontrol."""
    action = decide(report, node_state(node, runner, scontrol), threshold)
    argv = action.argv(node, scontrol)
    if argv:
        status, stdout, stderr = runner(argv)
        if status != 0:
            raise SlurmError(f"{' '.join(argv[:4])}: {(stderr or stdout).strip() or f'exit status {status}'}")
    return action


def short_hostname() -> str:
    """What `hostname -s` prints: Slurm's NodeName is usually the short name."""
    import socket

    return socket.gethostname().split(".")[0]
