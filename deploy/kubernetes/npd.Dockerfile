# node-problem-detector with gpubal in it, for npd-gpubal-plugin.json. From the repository root:
#   docker build -f deploy/kubernetes/npd.Dockerfile -t node-problem-detector-gpubal:0.1.0 .
#   docker build -f deploy/kubernetes/npd.Dockerfile --build-arg NPD_IMAGE=registry.k8s.io/node-problem-detector/node-problem-detector:vX.Y.Z ...
# The default is the NPD image named in NPD's own deployment/node-problem-detector.yaml. That image is
# Debian bookworm (registry.k8s.io/build-image/debian-base) with its clean-install helper, which NPD's
# Dockerfile uses itself; bookworm's python3 is 3.11, inside gpubal's requires-python.
ARG NPD_IMAGE=registry.k8s.io/node-problem-detector/node-problem-detector:v0.8.19
FROM ${NPD_IMAGE}

RUN clean-install python3 python3-venv

# Only what the package needs: no tests, fixtures or local virtual environments in the image.
COPY pyproject.toml README.md /tmp/gpubal-src/
COPY src /tmp/gpubal-src/src
RUN python3 -m venv /opt/gpubal \
    && /opt/gpubal/bin/pip install --no-cache-dir '/tmp/gpubal-src[fast]' \
    && rm -rf /tmp/gpubal-src \
    && ln -s /opt/gpubal/bin/gpubal /usr/local/bin/gpubal \
    && gpubal --version

# The path npd-gpubal-plugin.json runs; its conditions join NPD's own kernel monitor.
COPY deploy/kubernetes/npd-gpubal-plugin.json /config/npd-gpubal-plugin.json
# NVML through the NVIDIA container runtime (runtimeClassName: nvidia), as the gpubal DaemonSet reaches it
ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=utility PYTHONDONTWRITEBYTECODE=1
ENTRYPOINT ["/node-problem-detector", "--config.system-log-monitor=/config/kernel-monitor.json", "--config.custom-plugin-monitor=/config/npd-gpubal-plugin.json"]
