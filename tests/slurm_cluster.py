"""A one-node Slurm cluster on loopback for tests: munged, slurmctld and slurmd started from Debian's
packages (slurm-wlm, munge) with every file in a temporary directory, and stopped by their process ids.

    with SlurmCluster(tmp_path) as cluster:
        cluster.run(["scontrol", "show", "node", cluster.node])   # SLURM_CONF points at its slurm.conf
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional

PROGRAMS = ("munged", "mungekey", "slurmctld", "slurmd", "scontrol", "srun", "sinfo")
NODE = "gpubalnode"


def missing_programs() -> List[str]:
    search = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return [name for name in PROGRAMS if shutil.which(name, path=search) is None]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _program(name: str) -> str:
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") or name


class SlurmCluster:
    def __init__(self, directory: Path, start_timeout_s: float = 60.0):
        self.directory = Path(directory)
        self.start_timeout_s = start_timeout_s
        self.node = NODE
        self._daemons: List[subprocess.Popen] = []
        self.conf = self.directory / "slurm.conf"
        self.socket = self.directory / "munge" / "munge.socket"

    @property
    def env(self) -> Dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, argv: List[str], timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout, **kwargs)

    def __enter__(self) -> "SlurmCluster":
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for daemon in reversed(self._daemons):  # only the processes this cluster started, by their ids
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait(timeout=5)
        self._daemons.clear()

    def logs(self) -> str:
        parts = []
        for name in ("munged.log", "slurmctld.log", "slurmd.log"):
            path = self.directory / name
            if path.exists():
                parts.append(f"--- {name} (last lines)\n" + "\n".join(path.read_text(errors="replace").splitlines()[-15:]))
        return "\n".join(parts)

    def _start(self) -> None:
        d = self.directory
        for sub in ("munge", "state", "spool"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(d / "munge", 0o700)
        key = d / "munge" / "munge.key"
        subprocess.run([_program("mungekey"), "--create", f"--keyfile={key}", "--force"], check=True,
                       capture_output=True, timeout=30)
        os.chmod(key, 0o400)
        self._daemons.append(subprocess.Popen(
            [_program("munged"), "--foreground", "--force", f"--socket={self.socket}", f"--key-file={key}",
             f"--pid-file={d / 'munge' / 'munged.pid'}", f"--log-file={d / 'munged.log'}",
             f"--seed-file={d / 'munge' / 'munged.seed'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self._wait(lambda: self.socket.exists(), "munged to open its socket")
        hardware = subprocess.run([_program("slurmd"), "-C"], capture_output=True, text=True, timeout=30).stdout
        node_line = hardware.splitlines()[0].split(None, 1)[1]  # CPUs=... RealMemory=...
        controller = socket.gethostname().split(".")[0]
        self.conf.write_text("\n".join([
            "ClusterName=gpubaltest",
            f"SlurmctldHost={controller}(127.0.0.1)",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.socket}",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"StateSaveLocation={d / 'state'}",
            f"SlurmdSpoolDir={d / 'spool'}",
            f"SlurmctldPidFile={d / 'slurmctld.pid'}",
            f"SlurmdPidFile={d / 'slurmd.pid'}",
            f"SlurmctldLogFile={d / 'slurmctld.log'}",
            f"SlurmdLogFile={d / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SchedulerType=sched/backfill",
            "MpiDefault=none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "ReturnToService=2",
            "SlurmdTimeout=30",
            "InactiveLimit=0",
            f"NodeName={self.node} NodeHostname={controller} NodeAddr=127.0.0.1 {node_line.replace('RealMemory=', 'RealMemory=').strip()} State=UNKNOWN",
            f"PartitionName=debug Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
        ]) + "\n")
        self._daemons.append(subprocess.Popen([_program("slurmctld"), "-D", "-i", "-f", str(self.conf)],
                                              env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self._wait(lambda: self.run(["scontrol", "ping"], timeout=10).stdout.count("UP") > 0, "slurmctld to answer")
        self._daemons.append(subprocess.Popen([_program("slurmd"), "-D", "-N", self.node, "-f", str(self.conf)],
                                              env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        # IDLE alone, not IDLE+NOT_RESPONDING or IDLE*: slurmd has registered and answers pings
        self._wait(lambda: self.state() == "IDLE", f"{self.node} to register and become IDLE")

    def state(self) -> str:
        out = self.run(["scontrol", "show", "node", self.node, "--oneliner"], timeout=10).stdout
        for field in out.split():
            if field.startswith("State="):
                return field[len("State="):]
        return ""

    def wait_for_state(self, wanted: str, timeout_s: float = 30.0) -> str:
        """The node's state once it is `wanted` (or the last one seen when the time is up)."""
        deadline = time.monotonic() + timeout_s
        state = self.state()
        while state != wanted and time.monotonic() < deadline:
            time.sleep(0.3)
            state = self.state()
        return state

    def show_node(self) -> str:
        return self.run(["scontrol", "show", "node", self.node]).stdout

    def _wait(self, ready, what: str) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            for daemon in self._daemons:
                if daemon.poll() is not None:
                    raise RuntimeError(f"a daemon exited ({daemon.args[0]}, status {daemon.returncode}) while waiting "
                                       f"for {what}\n{self.logs()}")
            try:
                if ready():
                    return
            except (OSError, subprocess.SubprocessError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"timed out waiting for {what}\n{self.logs()}")
