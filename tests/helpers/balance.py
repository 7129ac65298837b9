"""`gpubal balance` on a recorded series, in virtual time."""

from __future__ import annotations

from typing import Any

from gpubal.model import Known, Reason, Unavailable

from .paths import FIXTURES


def replay_balance(name: str, seconds: float = 10.0, interval_s: float = 0.2, **sampler_options: Any):
    """The Recording `gpubal balance` makes from tests/fixtures/balance/<name>.json (a replayed series)."""
    from gpubal.balance.sampler import Sampler, VirtualClock
    from gpubal.doctor.probes.files import HostFiles
    from gpubal.doctor.probes.nvml import ReplayAdapter

    adapter = ReplayAdapter.from_file(str(FIXTURES / "balance" / f"{name}.json"))
    clock = VirtualClock()
    options = {"clock": clock, "sleep": clock.sleep, **sampler_options}
    sampler = Sampler(adapter, HostFiles(str(FIXTURES / "balance" / "root")),
                      lambda url, timeout: Unavailable(Reason.NOT_FOUND, url, "no server in tests"),
                      Known("http://127.0.0.1:11434", "test"), **options)
    return sampler.run(seconds, interval_s, source=f"nvml-profile:{name}.json")
