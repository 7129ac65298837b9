from typing import Dict, List, Tuple

from ..model import Fix, Reason, Severity, Snapshot, Unavailable
from . import finding, rule
from ..common import links as _links
from ._ollama import require_ollama


@rule("ollama-setting-overridden-by-drop-in", scope="host", area="ollama",
      summary="No Environment= setting of the Ollama unit is silently replaced by a later drop-in")
def ollama_setting_overridden_by_drop_in(snapshot: Snapshot):
    """
    What it checks
        The Environment= lines of the Ollama systemd unit and of each drop-in in ollama.service.d under
        /etc/systemd/system, /run/systemd/system and /usr/lib/systemd/system (also /usr/local/lib and
        /lib), in the order systemd applies them: the unit, then the drop-ins sorted by file name
        whichever directory they are in, where a drop-in in /etc replaces a same-named one in /run,
        which replaces one in /usr/lib. A later assignment of a variable replaces an earlier one. It
        reports every variable that two files set to different values.

    Why it matters
        The setting the server runs with is the last one, which is often not the one the admin edited:
        a CUDA_VISIBLE_DEVICES or OLLAMA_SCHED_SPREAD written into one drop-in has no effect when a file
        sorted after it (override.conf from `systemctl edit`) sets it again. A drop-in replacing the
        unit's own line is how overrides are meant to work and is only advice; two drop-ins disagreeing
        is a warning.

    How to fix
        Keep each variable in one place: `sudo systemctl edit ollama` (override.conf), remove it from
        the other drop-ins, then `sudo systemctl daemon-reload` and `sudo systemctl restart ollama`.
        `systemctl show ollama -p Environment` prints what systemd will pass.

    References
        links.SYSTEMD_UNIT
        links.OLLAMA_FAQ
    """
    ollama = require_ollama(snapshot)
    unit = ollama.service_environment_by_file
    if isinstance(unit, Unavailable) and unit.reason is Reason.NOT_FOUND:
        return  # no Ollama unit: no drop-in can replace anything
    by_file = ollama.need("service_environment_by_file")
    assignments: Dict[str, List[Tuple[str, str]]] = {}
    for path, settings in by_file.items():
        for name, value in settings.items():
            assignments.setdefault(name, []).append((path, value))
    for name, entries in sorted(assignments.items()):
        winner_path, winner = entries[-1]
        replaced = [(path, value) for path, value in entries[:-1] if value != winner]
        if not replaced:
            continue
        among_drop_ins = any(not path.endswith("/ollama.service") for path, _ in replaced)
        earlier = "; ".join(f"{name}={value} in {path}" for path, value in replaced)
        yield finding(
            Severity.WARNING if among_drop_ins else Severity.INFO, "ollama",
            f"{name}={winner} in {winner_path} replaces {earlier}: Ollama gets {winner!r}",
            {f"ollama.service_environment_by_file.{path}.{name}": value for path, value in entries},
            Fix(summary=f"Keep {name} in one file; the last one systemd reads wins",
                commands=("systemctl show ollama -p Environment",
                          f"sudo systemctl edit ollama   # under [Service]: Environment={name}=VALUE, and remove "
                          f"it from {', '.join(path for path, _ in replaced)}",
                          "sudo systemctl daemon-reload && sudo systemctl restart ollama"),
                url=_links.SYSTEMD_UNIT),
        )
