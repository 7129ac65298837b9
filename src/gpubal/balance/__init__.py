"""`gpubal balance`: sample every GPU for a while, then say how evenly the work is spread and why not.

`sampler` is the only part that touches the host (through the NVML adapter, files under a root and
Ollama's HTTP API); `analysis` is a pure function of the samples, like the rules; renderers live in
gpubal.reports.balance.
"""
