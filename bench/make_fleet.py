"""Generate N hosts' gpubal reports for `gpubal fleet` benchmarks and demos.

The hosts are real reports: a few variants of recorded hosts (tests/fixtures: an 8x H100 NVSwitch
node, a 2x H200 node, a 4x L40S PCIe node, a host without a driver) are edited the way fleets drift
(an older driver, a link downtrained to x8, an NVLink down, MIG left on, persistence mode off), each
variant is run through gpubal's rules once, and each host gets one variant with its own name and time
of collection (some days stale). The mix and the names come from a seeded random generator, so the
same N gives the same files.

    python bench/make_fleet.py 10000 /tmp/fleet            # /tmp/fleet/rack-NN/node-NNNNN.json
    python bench/make_fleet.py 200 /tmp/fleet.tar.gz        # one tarball
    python bench/make_fleet.py 50 - > fleet.jsonl           # JSON lines on stdout
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import random
import sys
import tarfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
FIXTURES = REPO / "tests" / "fixtures"

from gpubal.doctor.collect import collect_snapshot  # noqa: E402
from gpubal.doctor.engine import evaluate  # noqa: E402
from gpubal.snapshot_file import to_jsonable  # noqa: E402
from gpubal.snapshot_file import snapshot_from_dict
from gpubal.doctor.probes.files import HostFiles  # noqa: E402
from gpubal.doctor.probes.nvml import ReplayAdapter  # noqa: E402
from gpubal.reports.json_report import render_json  # noqa: E402
from gpubal.rules import all_rules  # noqa: E402

NEWEST = datetime(2026, 11, 30, 6, 0, tzinfo=timezone.utc)


def _recorded(profile: str, root: str) -> Dict[str, Any]:
    snapshot = collect_snapshot(ReplayAdapter.from_file(str(FIXTURES / "nvml" / f"{profile}.json")),
                                HostFiles(str(FIXTURES / "roots" / root)), origin=f"nvml-profile:{profile}.json")
    return to_jsonable(snapshot)


def _driver(version: str, cuda: str) -> Callable[[Dict[str, Any]], None]:
    def edit(snapshot: Dict[str, Any]) -> None:
        for name in ("version", "kernel_module_version"):
            if "value" in snapshot["driver"][name]:
                snapshot["driver"][name]["value"] = version
        if "value" in snapshot["driver"]["cuda_driver_version"]:
            snapshot["driver"]["cuda_driver_version"]["value"] = cuda
    return edit


def _downtrain(gpu_index: int) -> Callable[[Dict[str, Any]], None]:
    def edit(snapshot: Dict[str, Any]) -> None:
        snapshot["gpus"]["value"][gpu_index]["pcie_link_width_current"]["value"] = 8
    return edit


def _nvlink_down(gpu_index: int) -> Callable[[Dict[str, Any]], None]:
    def edit(snapshot: Dict[str, Any]) -> None:
        links = snapshot["gpus"]["value"][gpu_index]["nvlinks"]["value"]
        links[-1]["active"]["value"] = False
        for pair in snapshot["pairs"]["value"]:
            if gpu_index in (pair["gpu_a"], pair["gpu_b"]) and "value" in pair["nvlink_count"]:
                pair["nvlink_count"]["value"] -= 1
    return edit


def _mig_on(gpu_index: int) -> Callable[[Dict[str, Any]], None]:
    def edit(snapshot: Dict[str, Any]) -> None:
        gpu = snapshot["gpus"]["value"][gpu_index]
        gpu["mig_enabled_current"]["value"] = True
        gpu["mig_enabled_pending"]["value"] = True
        gpu["mig_instances"] = {"value": [], "source": "nvmlDeviceGetMaxMigDeviceCount"}
    return edit


def _persistence_off(snapshot: Dict[str, Any]) -> None:
    for gpu in snapshot["gpus"]["value"]:
        gpu["persistence_mode"]["value"] = False
    snapshot["driver"]["persistenced_running"]["value"] = False


CURRENT = _driver("580.95.05", "13.0")
OLDER = _driver("570.172.08", "12.8")

# (name, recorded host, edits, weight): most hosts are healthy 8-GPU nodes on the current driver
VARIANTS: List[Tuple[str, Tuple[str, str], Tuple[Callable[[Dict[str, Any]], None], ...], float]] = [
    ("hgx8", ("hgx8-h100-nvswitch", "hgx8-h100-nvswitch"), (CURRENT,), 70.0),
    ("hgx8-older-driver", ("hgx8-h100-nvswitch", "hgx8-h100-nvswitch"), (OLDER,), 8.0),
    ("hgx8-downtrained", ("hgx8-h100-nvswitch", "hgx8-h100-nvswitch"), (CURRENT, _downtrain(3)), 2.0),
    ("hgx8-nvlink-down", ("hgx8-h100-nvswitch", "hgx8-h100-nvswitch"), (CURRENT, _nvlink_down(5)), 1.5),
    ("hgx8-mig-left-on", ("hgx8-h100-nvswitch", "hgx8-h100-nvswitch"), (CURRENT, _mig_on(2)), 1.5),
    ("hgx8-persistence-off", ("hgx8-h100-nvswitch", "hgx8-h100-nvswitch"), (CURRENT, _persistence_off), 2.0),
    ("h200x2", ("h200x2", "h200x2"), (CURRENT,), 8.0),
    ("l40s", ("pcie4-l40s-2numa", "pcie4-l40s-2numa"), (CURRENT,), 6.0),
    ("no-driver", ("no-driver", "h200x1"), (), 1.0),
]


def build_variants() -> List[Tuple[str, Dict[str, Any], float]]:
    rules = all_rules()
    recorded: Dict[Tuple[str, str], Dict[str, Any]] = {}
    built = []
    for name, (profile, root), edits, weight in VARIANTS:
        if (profile, root) not in recorded:
            recorded[(profile, root)] = _recorded(profile, root)
        snapshot = copy.deepcopy(recorded[(profile, root)])
        for edit in edits:
            edit(snapshot)
        report = json.loads(render_json(evaluate(snapshot_from_dict(snapshot), rules)))
        built.append((name, report, weight))
    return built


def hosts(count: int, seed: int = 15):
    """(relative path, report text) for each host, one at a time."""
    generator = random.Random(seed)
    variants = build_variants()
    names = [name for name, _, _ in variants]
    weights = [weight for _, _, weight in variants]
    reports = {name: report for name, report, _ in variants}
    for number in range(1, count + 1):
        variant = generator.choices(names, weights)[0]
        report = reports[variant]
        host = f"node-{number:05d}"
        moment = NEWEST - timedelta(minutes=generator.randrange(0, 120))
        if generator.random() < 0.01:  # a node whose cron job stopped days ago
            moment -= timedelta(days=generator.randrange(2, 9))
        snapshot = report["snapshot"]
        saved = (snapshot["host"]["hostname"], snapshot["collected_at"])
        snapshot["host"]["hostname"] = {"value": host, "source": "/proc/sys/kernel/hostname"}
        snapshot["collected_at"] = moment.isoformat()
        text = json.dumps(report, indent=1) + "\n"
        snapshot["host"]["hostname"], snapshot["collected_at"] = saved
        yield f"rack-{(number - 1) // 40 + 1:03d}/{host}.json", text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("target", help="a directory, a .tar.gz file, or - for JSON lines on stdout")
    parser.add_argument("--seed", type=int, default=15)
    arguments = parser.parse_args()
    if arguments.target == "-":
        for _, text in hosts(arguments.count, arguments.seed):
            sys.stdout.write(json.dumps(json.loads(text)) + "\n")
        return
    if arguments.target.endswith((".tar.gz", ".tgz")):
        with tarfile.open(arguments.target, "w:gz") as archive:
            for path, text in hosts(arguments.count, arguments.seed):
                data = text.encode("utf-8")
                member = tarfile.TarInfo(path)
                member.size = len(data)
                archive.addfile(member, io.BytesIO(data))
        return
    target = Path(arguments.target)
    for path, text in hosts(arguments.count, arguments.seed):
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
