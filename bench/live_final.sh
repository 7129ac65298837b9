#!/usr/bin/env bash
# The end-of-session proof on a real multi-GPU host, in one go (run from the repository root):
# repeat 30, doctor 30 times, a real torch process seen by the process table, speed against nvidia-smi -q,
# import times, and the balance proof with a profile of the sampler. Writes everything under $1.
set -u
out=${1:-live-out}; mkdir -p "$out"
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} NO_COLOR=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 PYTHONUNBUFFERED=1
python3 -m compileall -q src /tmp/site "$(python3 -c 'import pynvml, os; print(os.path.dirname(pynvml.__file__))')" >/dev/null 2>&1
nvidia-smi topo -m > "$out/topo-m.txt" 2>&1
python3 -m gpubal debug repeat 30 > "$out/repeat30.txt" 2>/dev/null; echo "repeat30 rc=$?" >> "$out/repeat30.txt"
: > "$out/doctor30.txt"
for i in $(seq 30); do
  python3 -m gpubal doctor --fail-on never > "$out/doctor-run.txt" 2>&1
  echo "run $i: $(grep -c NV18 "$out/doctor-run.txt") NV18 lines; $(grep -m1 -i '^Findings' "$out/doctor-run.txt")" >> "$out/doctor30.txt"
done
mv "$out/doctor-run.txt" "$out/doctor.txt"
# a real GPU process: torch on GPU 1 only, pinned to CPUs 0-3
CUDA_VISIBLE_DEVICES=1 CUDA_DEVICE_ORDER=PCI_BUS_ID taskset -c 0-3 \
  python3 -c "import torch,time; x=torch.ones(1<<28,device='cuda'); torch.cuda.synchronize(); time.sleep(120)" &
torch_pid=$!
for _ in $(seq 60); do nvidia-smi --query-compute-apps=pid --format=csv,noheader | grep -q . && break; sleep 1; done
python3 -m gpubal doctor --fail-on never > "$out/doctor-with-process.txt" 2>&1
python3 -m gpubal doctor --fail-on never -o "$out/doctor-with-process.md" > /dev/null 2>&1 \
  || python3 -m gpubal doctor --fail-on never --format markdown > "$out/doctor-with-process.md" 2>&1
nvidia-smi > "$out/nvidia-smi-with-process.txt" 2>&1
kill $torch_pid 2>/dev/null; wait $torch_pid 2>/dev/null
python3 bench/bench_doctor.py --runs 15 --out "$out/bench_doctor.json" > "$out/bench_doctor.txt" 2>&1
python3 -X importtime -m gpubal doctor --fail-on never > /dev/null 2> "$out/importtime.txt"
python3 -m cProfile -s tottime -m gpubal balance --seconds 4 --format json > "$out/balance-profile.txt" 2>&1
python3 bench/balance_load.py --out "$out/balance" > "$out/balance_load.txt" 2>&1
