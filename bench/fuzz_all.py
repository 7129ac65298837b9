"""Fuzz every input gpubal reads from outside: `--from` dumps, `--snapshot` files, `--policy` files,
`--nvml-profile` files and the HTTP client (a local server answering mutated Ollama responses).

Each input goes the way the CLI takes it, through loading, every rule and the JSON and terminal reports.
An input may be refused (the CLI's one-line error, exit 2); anything else that escapes is a crash (the
CLI's exit 3). An input that runs over 10 s is a hang (stopped by an alarm, counted, skipped).

    python bench/fuzz_all.py                    # 100,000 inputs over the five targets
    python bench/fuzz_all.py --inputs 5000 --target policy --seed 7

It prints, per target, the inputs run, refused, crashes (with the first few, saved under --keep),
hangs, the slowest input, and the process's peak memory (ru_maxrss).
"""

from __future__ import annotations

import argparse
import collections
import copy
import io
import json
import os
import random
import resource
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
FIXTURES = ROOT / "tests" / "fixtures"

from gpubal.doctor.engine import evaluate  # noqa: E402
from gpubal.rules import all_rules  # noqa: E402

HANG_S = 10
SHARES = {"from": 0.3, "snapshot": 0.25, "policy": 0.2, "nvml-profile": 0.1, "http": 0.15}
ODD = [None, True, False, 0, -1, 2 ** 63, 10 ** 400, 1.5, float("inf"), "", "N/A", "\ud800", "\x1b[2J", [], {},
       "0" * 300, "[link=http://x]y[/link]", "00000000:00:06.0", "GPU-", "MIG-", "x" * 5000]
BYTES_VOCABULARY = [b"\x00", b"\xff\xfe", b"\r\n", b"\n", b"[[[[[[[[[[", b"{\"a\":", b"\"", b"\\u0000", b"\\ud800",
                    b"1e999", b"-", b"NaN", b"<!ENTITY x SYSTEM \"file:///etc/passwd\">", b"<a><a><a>",
                    b"\x1b]8;;http://x\x07", b"GPU 0:", b"NV18", b"SYS", b"= ", b"[gpu]", b"[[rule]]"]


class Hang(Exception):
    pass


def _alarm(_signum, _frame):
    raise Hang()


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 10)):
        choice = rng.random()
        at = rng.randrange(len(data) + 1)
        if choice < 0.25 and data:
            del data[at:at + rng.randint(1, 64)]
        elif choice < 0.45:
            data[at:at] = rng.choice(BYTES_VOCABULARY) * rng.choice((1, 1, 2, 50))
        elif choice < 0.6 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif choice < 0.75 and data:
            start = rng.randrange(len(data))
            chunk = data[start:start + rng.randint(1, 200)]
            data[at:at] = chunk * rng.choice((1, 2, 10))
        elif choice < 0.85:
            data = data[:at]
        else:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(data)


def mutate_json(rng: random.Random, value):
    """Replace, delete, duplicate or deepen random nodes of a JSON document."""
    value = copy.deepcopy(value)
    for _ in range(rng.choice((1, 1, 1, 2, 6))):
        path = []
        node = value
        while isinstance(node, (dict, list)) and node and rng.random() < 0.8:
            key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
            path.append((node, key))
            node = node[key]
        if not path:
            return rng.choice(ODD)
        parent, key = path[-1]
        choice = rng.random()
        if choice < 0.5:
            parent[key] = copy.deepcopy(rng.choice(ODD))
        elif choice < 0.65:
            del parent[key]
        elif choice < 0.8:
            parent[key] = DEEP  # replaced in the text by arrays nested deeper than json.dumps would go
        elif choice < 0.9 and isinstance(parent, list):
            parent.extend(copy.deepcopy(parent[key]) for _ in range(rng.randint(1, 5)))
        else:
            parent[key] = {"a": copy.deepcopy(parent[key]), "error": rng.choice(["timeout", "bogus", None])}
    return value


def _recorded_snapshot(name: str):
    from gpubal.doctor.collect import collect_snapshot
    from gpubal.doctor.probes.files import HostFiles
    from gpubal.doctor.probes.nvml import ReplayAdapter

    profile = {"a100-mig": "a100-mig-instances"}.get(name, name)
    return collect_snapshot(ReplayAdapter.from_file(str(FIXTURES / "nvml" / f"{profile}.json")),
                            HostFiles(str(FIXTURES / "roots" / name)))


DEEP = "\u0000deep\u0000"


def json_text(rng: random.Random, document) -> bytes:
    text = json.dumps(document, allow_nan=True)
    depth = rng.choice((50, 1200, 100000))
    text = text.replace(json.dumps(DEEP), "[" * depth + "0" + "]" * depth)
    return text.encode("utf-8", "surrogatepass")


class Target:
    name = ""
    refused = ()

    def __init__(self, rng: random.Random, scratch: Path) -> None:
        self.rng, self.scratch = rng, scratch

    def input(self) -> bytes:
        raise NotImplementedError

    def run(self, data: bytes) -> None:
        raise NotImplementedError


def _render(report) -> None:
    from rich.console import Console

    from gpubal.reports.json_report import render_json
    from gpubal.reports.terminal import render_terminal

    render_json(report)
    render_terminal(report, Console(file=io.StringIO(), width=100, no_color=True))


class FromDumps(Target):
    name = "from"

    def __init__(self, rng, scratch):
        super().__init__(rng, scratch)
        from gpubal.doctor.ingest.dumps import InputError

        self.refused = (InputError,)
        self.samples = [path.read_bytes() for path in sorted((FIXTURES / "dumps").glob("*/*")) if path.is_file()]
        self.path = scratch / "dump.txt"

    def input(self):
        sample = self.rng.choice(self.samples)
        if self.rng.random() < 0.1:
            sample += self.rng.choice(self.samples)  # two dumps pasted together
        return mutate_bytes(self.rng, sample)

    def run(self, data):
        from gpubal.doctor.ingest.dumps import snapshot_from_dumps

        self.path.write_bytes(data)
        snapshot = snapshot_from_dumps([str(self.path)]).snapshot
        if self.rng.random() < 0.1:
            _render(evaluate(snapshot, all_rules()))
        else:
            evaluate(snapshot, all_rules())


class SnapshotFile(Target):
    name = "snapshot"

    def __init__(self, rng, scratch):
        super().__init__(rng, scratch)
        from gpubal.snapshot_file import SnapshotError

        self.refused = (SnapshotError, UnicodeDecodeError)
        from gpubal.snapshot_file import snapshot_to_json

        self.samples = [json.loads((ROOT / "examples" / "h200x2-snapshot.json").read_text())]
        self.samples += [json.loads(snapshot_to_json(_recorded_snapshot(name)))
                         for name in ("a100-mig", "hgx8-h100-nvswitch", "lost-gpu")]

    def input(self):
        document = mutate_json(self.rng, self.rng.choice(self.samples))
        text = json_text(self.rng, document)
        return mutate_bytes(self.rng, text) if self.rng.random() < 0.1 else text

    def run(self, data):
        from gpubal.snapshot_file import snapshot_from_text

        snapshot = snapshot_from_text(data.decode("utf-8"))  # the CLI reads UTF-8 (refused: exit 2)
        report = evaluate(snapshot, all_rules())
        if self.rng.random() < 0.1:
            _render(report)


class PolicyText(Target):
    name = "policy"

    def __init__(self, rng, scratch):
        super().__init__(rng, scratch)
        from gpubal.doctor.policy import PolicyError

        self.refused = (PolicyError, UnicodeDecodeError)
        self.samples = [path.read_bytes() for path in sorted((ROOT / "examples" / "policies").glob("*.toml"))]
        self.snapshot = _recorded_snapshot("h200x2")

    def input(self):
        return mutate_bytes(self.rng, self.rng.choice(self.samples))

    def run(self, data):
        from gpubal.doctor.policy import parse_policy

        policy = parse_policy(data.decode("utf-8"), "fuzz.toml")
        evaluate(self.snapshot, all_rules(), policy)


class NvmlProfile(Target):
    name = "nvml-profile"

    def __init__(self, rng, scratch):
        super().__init__(rng, scratch)
        from gpubal.doctor.probes.nvml import ProfileError

        self.refused = (ProfileError,)
        self.names = ["h200x2", "h200x1", "a100-mig-instances", "rtx3090x2-nvlink-bridge", "pcie4-l40s-2numa"]
        self.samples = {name: json.loads((FIXTURES / "nvml" / f"{name}.json").read_text()) for name in self.names}
        self.path = scratch / "profile.json"

    def input(self):
        name = self.rng.choice(self.names)
        document = mutate_json(self.rng, self.samples[name])
        text = json_text(self.rng, document)
        return name.encode() + b"\n" + (mutate_bytes(self.rng, text) if self.rng.random() < 0.2 else text)

    def run(self, data):
        from gpubal.doctor.collect import collect_snapshot
        from gpubal.doctor.probes.files import HostFiles
        from gpubal.doctor.probes.nvml import ReplayAdapter

        name, _, text = data.partition(b"\n")
        self.path.write_bytes(text)
        adapter = ReplayAdapter.from_file(str(self.path))
        root = {"a100-mig-instances": "a100-mig"}.get(name.decode(), name.decode())
        snapshot = collect_snapshot(adapter, HostFiles(str(FIXTURES / "roots" / root)), nvml_deadline_s=HANG_S)
        evaluate(snapshot, all_rules())


class HttpAnswers(Target):
    """A local server answers each connection with the next fuzzed response; the client is gpubal's."""

    name = "http"

    def __init__(self, rng, scratch):
        super().__init__(rng, scratch)
        self.samples = []
        for path in sorted((FIXTURES / "ollama" / "responses").glob("*.json")):
            body = json.dumps(json.loads(path.read_text())["body"]).encode()
            self.samples.append(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + body)
        self.answer = b""
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            connection, _ = self.listener.accept()
            with connection:
                try:
                    connection.recv(65536)
                    connection.sendall(self.answer)
                except OSError:
                    pass

    def input(self):
        sample = self.rng.choice(self.samples)
        if self.rng.random() < 0.05:
            return b"HTTP/1.0 200 OK\r\n\r\n" + b"[" * self.rng.choice((100, 2000, 100000))
        return mutate_bytes(self.rng, sample)

    def run(self, data):
        from gpubal.doctor.collect.ollama import collect_ollama
        from gpubal.model import Known, Reason, Unavailable
        from gpubal.doctor.probes.files import HostFiles
        from gpubal.doctor.probes.http import get_json

        self.answer = data
        collect_ollama(HostFiles(str(self.scratch)), {"OLLAMA_HOST": self.url, "PATH": ""}, Known({}, "fuzz"),
                       lambda argv, timeout: Unavailable(Reason.NOT_FOUND, " ".join(argv)), get_json)


def run_target(target: Target, count: int, keep: Path):
    """`count` inputs through one target: (counts by outcome, crash messages, slowest seconds)."""
    stats: collections.Counter = collections.Counter()
    crashes: collections.Counter = collections.Counter()
    slowest = 0.0
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for number in range(count):
            data = target.input()
            began = time.monotonic()
            signal.setitimer(signal.ITIMER_REAL, HANG_S)
            try:
                target.run(data)
                stats["accepted"] += 1
            except Hang:
                stats["hangs"] += 1
                (keep / f"{target.name}-hang-{number}.bin").write_bytes(data)
            except target.refused:
                stats["refused"] += 1
            except Exception as error:  # noqa: BLE001 - what the fuzzer counts
                stats["crashes"] += 1
                key = f"{type(error).__name__}: {str(error)[:100]}"
                if not crashes[key]:
                    (keep / f"{target.name}-crash-{number}.bin").write_bytes(data)
                crashes[key] += 1
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            slowest = max(slowest, time.monotonic() - began)
    finally:
        signal.signal(signal.SIGALRM, previous)
    return stats, crashes, slowest


TARGETS = {cls.name: cls for cls in (FromDumps, SnapshotFile, PolicyText, NvmlProfile, HttpAnswers)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs in all (default 100,000)")
    parser.add_argument("--target", action="append", choices=sorted(SHARES), help="only these targets")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", default=os.path.join(tempfile.gettempdir(), "gpubal-fuzz"),
                        help="save crashing and hanging inputs here")
    options = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    targets = options.target or sorted(SHARES)
    share = sum(SHARES[name] for name in targets)
    keep = Path(options.keep)
    keep.mkdir(parents=True, exist_ok=True)
    total = collections.Counter()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        for name in targets:
            rng = random.Random(f"{options.seed}-{name}")
            target = TARGETS[name](rng, Path(scratch))
            count = max(1, int(options.inputs * SHARES[name] / share))
            target_started = time.monotonic()
            stats, crashes, slowest = run_target(target, count, keep)
            total.update(stats)
            total["inputs"] += count
            print(f"{name}: {count} inputs in {time.monotonic() - target_started:.0f} s; accepted "
                  f"{stats['accepted']}, refused (exit 2) {stats['refused']}, crashes {stats['crashes']}, "
                  f"hangs over {HANG_S} s {stats['hangs']}, slowest {slowest:.2f} s", flush=True)
            for key, times in crashes.most_common(8):
                print(f"    {times:6d} x {key}", flush=True)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\ninputs: {total['inputs']} in {time.monotonic() - started:.0f} s; crashes: {total['crashes']}; "
          f"hangs over {HANG_S} s: {total['hangs']}; peak memory: {peak_mib:.0f} MiB (ru_maxrss)")
    print(f"crashing and hanging inputs are in {keep}")
    return 1 if total["crashes"] or total["hangs"] else 0


if __name__ == "__main__":
    sys.exit(main())
