#!/usr/bin/env bash
# One device session's proof on a real multi-GPU host (run from the repository root; writes under $1):
# the start-up ratio against nvidia-smi -q, repeat 30, a real torch process in the process table, the
# kernel's Xid events and the VBIOS as collected live, then the CPU-bound benchmarks on an idle machine:
# the 100 MB Ollama log on one CPU and the 10,000-host fleet on two.
set -u
out=${1:-live-out}; mkdir -p "$out"
bash bench/startup_ratio.sh "$out/startup" > "$out/startup.log" 2>&1
if ls .whl/*.whl >/dev/null 2>&1; then export PYTHONPATH=/tmp/site; fi
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} NO_COLOR=1 PYTHONUNBUFFERED=1
python3 -m gpubal debug repeat 30 > "$out/repeat30.txt" 2>&1; echo "repeat30 rc=$?" >> "$out/repeat30.txt"
CUDA_VISIBLE_DEVICES=1 CUDA_DEVICE_ORDER=PCI_BUS_ID taskset -c 0-3 \
  python3 -c "import torch,time; x=torch.ones(1<<28,device='cuda'); torch.cuda.synchronize(); time.sleep(90)" &
torch_pid=$!
for _ in $(seq 60); do nvidia-smi --query-compute-apps=pid --format=csv,noheader | grep -q . && break; sleep 1; done
python3 -m gpubal doctor --fail-on never > "$out/doctor-with-process.txt" 2>&1
python3 -m gpubal doctor --fail-on never --format json -o "$out/doctor-with-process.json" > /dev/null 2>&1
kill $torch_pid 2>/dev/null; wait $torch_pid 2>/dev/null
python3 - "$out/doctor-with-process.json" > "$out/live-facts.txt" 2>&1 <<'PY'
import json, sys
snapshot = json.load(open(sys.argv[1]))["snapshot"]
print("xid_events:", json.dumps(snapshot.get("xid_events")))
for gpu in snapshot["gpus"]["value"]:
    print("gpu", gpu["index"], "vbios_version:", json.dumps(gpu.get("vbios_version")))
PY
nvidia-smi -q | grep -i "vbios" >> "$out/live-facts.txt" 2>&1
(journalctl -k -b --no-pager 2>&1 | grep -c . ; echo "journalctl rc=$?") > "$out/journal-lines.txt" 2>&1
taskset -c 0 python3 bench/bench_ingest.py --megabytes 100 > "$out/bench_ingest.txt" 2>&1
timeout 300 taskset -c 0,1 python3 bench/bench_fleet.py --hosts 10000 > "$out/bench_fleet.txt" 2>&1; echo "rc=$?" >> "$out/bench_fleet.txt"
