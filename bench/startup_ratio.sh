#!/usr/bin/env bash
# Issue 13's start-up ratio on a GPU host (run from the repository root): `gpubal doctor`, `--format json`
# and `gpubal topo` against `nvidia-smi -q`, 15 interleaved runs each, wall and CPU seconds, then where
# an import's time goes. Writes bench_doctor.txt/.json and importtime-*.txt under $1 (default ./startup-out).
# Wheels in .whl/ (carried where the image lacks a package) are installed into /tmp/site first.
set -u -o pipefail
out=${1:-startup-out}; mkdir -p "$out"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} NO_COLOR=1 PYTHONUNBUFFERED=1
python3 -c 'import sys, typer, rich, pynvml, packaging; print("python", sys.version.split()[0], "typer", typer.__version__)' \
  | tee "$out/versions.txt" || exit
# bytecode as `pip install` leaves it: images that set PYTHONDONTWRITEBYTECODE=1 would compile every module every run
for package in pynvml rich typer packaging; do
  python3 -m compileall -q "$(python3 -c "import $package, os; print(os.path.dirname($package.__file__))")" >/dev/null 2>&1
done
python3 -m compileall -q src /tmp/site >/dev/null 2>&1
python3 bench/bench_doctor.py --runs 15 --out "$out/bench_doctor.json" | tee "$out/bench_doctor.txt"
# --root / keeps the collection in the main thread, so that -X importtime's figures are not interleaved
python3 -X importtime -m gpubal doctor --fail-on never --root / > /dev/null 2> "$out/importtime-doctor.txt"
python3 -X importtime -m gpubal topo --root / > /dev/null 2> "$out/importtime-topo.txt"
# where the interpreter's own 66 ms go (site-packages .pth files), and a profile of one doctor run with
# the collection in the main thread (--root /), so that the whole run is seen by one profiler
python3 -X importtime -c pass 2> "$out/importtime-python.txt"
python3 -m cProfile -o "$out/doctor.prof" -m gpubal doctor --fail-on never --root / > /dev/null 2>&1
python3 -c 'import pstats, sys; pstats.Stats(sys.argv[1]).sort_stats("tottime").print_stats(45)' "$out/doctor.prof" \
  > "$out/profile-doctor.txt" 2>&1
python3 bench/bench_phases.py --runs 5 > "$out/phases.txt" 2>&1
