#!/usr/bin/env bash
# Issue 9's proof on a real multi-GPU host, in one go (run from the repository root, PYTHONPATH=src):
# a live NVML profile, `gpubal debug repeat 30`, 30 doctor runs, the same under another program hammering
# NVLink field values, NVLink counters summed by NVML against per link under P2P traffic, the balance load
# proof and the speed ratio. Writes everything under $1 (default ./live-out).
set -u
out=${1:-live-out}; mkdir -p "$out"
export PYTHONPATH=src NO_COLOR=1 NCCL_NVLS_ENABLE=0 PYTHONUNBUFFERED=1
python3 -m compileall -q src >/dev/null 2>&1
nvidia-smi topo -m > "$out/topo-m.txt" 2>&1
python3 -m gpubal debug record-nvml -o "$out/h200x2-live.json" \
  --description "REAL: recorded by gpubal debug record-nvml on the lent 2 x H200 host (HGX, NVSwitch, VM), $(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)" 2>&1
python3 -m gpubal debug repeat 30 > "$out/repeat30.txt" 2>/dev/null; echo "repeat30 rc=$?" >> "$out/repeat30.txt"
: > "$out/doctor30.txt"
for i in $(seq 30); do
  python3 -m gpubal doctor --fail-on never > "$out/doctor-run.txt" 2>&1
  echo "run $i: $(grep -c NV18 "$out/doctor-run.txt") NV18 lines; $(grep -m1 '^Findings' "$out/doctor-run.txt")" >> "$out/doctor30.txt"
done
cp "$out/doctor-run.txt" "$out/doctor-last.txt"; rm "$out/doctor-run.txt"
python3 -m gpubal doctor --format json --fail-on never > "$out/doctor.json" 2>&1
# another program on the host asking NVLink field values without pause, while gpubal collects
python3 bench/nvml_concurrency.py --hammer 40 > "$out/hammer.txt" 2>&1 &
sleep 1
python3 -m gpubal debug repeat 10 > "$out/repeat10-hammered.txt" 2>/dev/null; echo "rc=$?" >> "$out/repeat10-hammered.txt"
python3 -m gpubal doctor --fail-on never > "$out/doctor-hammered.txt" 2>&1
wait
# NVLink traffic (device-to-device copies through torch) while the counters are read both ways
python3 - <<'PY' &
import torch, time
a = torch.empty(256 << 20, dtype=torch.uint8, device="cuda:0"); b = torch.empty_like(a, device="cuda:1")
end = time.time() + 8
while time.time() < end:
    b.copy_(a); a.copy_(b)
torch.cuda.synchronize()
PY
sleep 3
python3 bench/nvml_concurrency.py --aggregate-check 3 > "$out/aggregate-check.txt" 2>&1
wait
python3 bench/balance_load.py --out "$out/balance" > "$out/balance_load.txt" 2>&1
python3 bench/bench_doctor.py --runs 15 --out "$out/bench_doctor.json" > "$out/bench_doctor.txt" 2>&1
