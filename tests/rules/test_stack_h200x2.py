"""The Done means of issue 3: on the 2x H200 host's real stack, gpubal lists every copy, says who loads
which, and raises nothing false."""

from helpers import h200x2_stack

from gpubal.doctor.engine import evaluate
from gpubal.model import Outcome, Severity
from gpubal.rules import all_rules


def test_collect_stack_lists_the_h200x2_stack():
    stack = h200x2_stack()
    assert [(t.path, t.version, t.has_nvcc) for t in stack.cuda_toolkits.value] == [
        ("/usr/local/cuda-13.0", "13.0.2", True)]
    torch = next(p for p in stack.python_packages.value if p.name == "torch")
    assert (torch.version, torch.cuda_version) == ("2.11.0", "13.0")  # from torch/version.py, not imported
    copies = {(c.name, c.version, c.origin, c.consumer) for c in stack.libraries.value}
    assert ("cudnn", "9.14.0", "system", "the system loader") in copies
    assert ("cudnn", "9.19.0.56", "wheel", "torch 2.11.0") in copies
    assert ("nccl", "2.28.3", "system", "the system loader") in copies
    assert ("nccl", "2.28.9", "wheel", "torch 2.11.0") in copies
    assert ("cudart", "13.0.96", "system", "the system loader") in copies
    cudnn = next(c for c in stack.libraries.value if c.name == "cudnn" and c.origin == "system")
    assert cudnn.path == "/lib/x86_64-linux-gnu/libcudnn.so.9" and cudnn.version_source == "symlink target"


def test_rules_raise_nothing_false_on_the_h200x2_stack(h200x2_full_snapshot):
    report = evaluate(h200x2_full_snapshot, all_rules())
    assert not [r for r in report.results if r.outcome is Outcome.CRASHED]
    # the only findings: which cuDNN and NCCL each user loads, as information
    assert [(f.rule_id, f.severity, f.subject) for f in report.findings()] == [
        ("library-copies-disagree", Severity.INFO, "lib:cudnn"), ("library-copies-disagree", Severity.INFO, "lib:nccl")]
    cudnn = report.findings()[0].message
    assert "the system loader loads 9.14.0" in cudnn and "torch 2.11.0 loads 9.19.0.56" in cudnn
    missing = {r.rule_id: r.missing_fact for r in report.results if r.outcome is Outcome.NOT_EVALUATED}
    assert "cudnn-cuda-mismatch" not in missing  # judged from NVIDIA's redistrib manifests of 9.14.0 and 9.19.0
    assert missing["nccl-cuda-mismatch"] == "matrix: NCCL 2.28.3"  # no citable source found: not guessed
    passed = {r.rule_id for r in report.results if r.outcome is Outcome.PASSED}
    assert "cudnn-cuda-mismatch" in passed
    assert {"cuda-runtime-exceeds-driver", "gpu-arch-unsupported-by-cuda", "fabric-manager-missing",
            "fabric-manager-version-mismatch", "driver-branch-end-of-life", "nccl-p2p-disabled-with-nvlink"} <= passed
    # the host's /dev/shm is fine, but each container process's own could not be seen: the recording
    # holds no process table
    assert missing["dev-shm-too-small"] == "processes"
