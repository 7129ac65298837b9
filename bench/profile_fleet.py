"""Where one `gpubal fleet` worker spends its time per report: reading the file, parsing it, checking its
nesting, digesting it, and freeing the parsed document; then what the main process spends on the digests.

    python bench/profile_fleet.py                       # 500 reports of /tmp/gpubal-fleet-10000
    python bench/profile_fleet.py --dir DIR --count 2000
    python bench/profile_fleet.py --stdlib-json         # as without gpubal[fast]

CPU time of this process only (time.process_time), so neighbours on a shared machine do not count.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
if "--stdlib-json" in sys.argv:
    sys.modules["orjson"] = None  # type: ignore[assignment]  # gpubal then parses with the standard library

from gpubal.common.bounded import MAX_DEPTH, json_nesting_exceeds  # noqa: E402
from gpubal.fleet.aggregate import FleetBuilder  # noqa: E402
from gpubal.fleet.digest import digest_document  # noqa: E402
from gpubal.fleet.sources import _json_files, _loads  # noqa: E402
from gpubal.reports.fleet import render_fleet_json  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp/gpubal-fleet-10000", help="reports (bench/make_fleet.py writes them)")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--stdlib-json", action="store_true", help="parse with the standard library's json")
    arguments = parser.parse_args()
    files = [path for _, path in zip(range(arguments.count), _json_files(arguments.dir))]
    stages = dict.fromkeys(("read", "parse", "nesting", "digest", "free"), 0.0)
    digests = []
    for path in files:
        started = time.process_time()
        with open(path, "rb") as stream:
            data = stream.read()
        read = time.process_time()
        document = _loads(data)
        parsed = time.process_time()
        json_nesting_exceeds(data, MAX_DEPTH)
        checked = time.process_time()
        digests.append(digest_document(document, path, path))
        digested = time.process_time()
        del document
        freed = time.process_time()
        for stage, seconds in zip(stages, (read - started, parsed - read, checked - parsed, digested - checked,
                                           freed - digested)):
            stages[stage] += seconds
    total = sum(stages.values())
    print(f"{len(files)} reports, {sum(Path(path).stat().st_size for path in files) / len(files) / 1024:.0f} KB each, "
          f"parser {_loads.__module__}")
    for stage, seconds in stages.items():
        print(f"  {stage:8} {seconds / len(files) * 1000:.3f} ms a report ({seconds / total:.0%})")
    started = time.process_time()
    builder = FleetBuilder()
    for digest in digests:
        builder.add(digest)
    render_fleet_json(builder.finish())
    print(f"  main process: aggregate and write JSON {(time.process_time() - started) / len(files) * 1000:.3f} ms a report")


if __name__ == "__main__":
    main()
