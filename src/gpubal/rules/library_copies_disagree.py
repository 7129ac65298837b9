from typing import Dict, List

from ..model import Fix, LibraryCopy, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ._stack import LIBRARY_NAMES, copies_by_consumer, short_version


@rule("library-copies-disagree", scope="host", area="stack",
      summary="Several versions of libcudart, cuDNN or NCCL are reachable: which one each user loads")
def library_copies_disagree(snapshot: Snapshot):
    """
    What it checks
        Whether more than one version of libcudart, cuDNN or NCCL can be loaded on the host, and for
        each user (the system loader, processes started with LD_LIBRARY_PATH, each Python framework with
        its wheels, Ollama) which copy it loads. Different users with different copies is common and
        fine (a system cuDNN next to torch's own wheel): that is reported as information. It is a
        warning when one user can load two different versions: two loader directories holding different
        versions, or a copy on LD_LIBRARY_PATH that shadows a framework's wheel.

    Why it matters
        The dynamic loader searches LD_LIBRARY_PATH before a library's RUNPATH and before the ld.so
        cache, so a copy on LD_LIBRARY_PATH wins over the one a framework ships. A program that gets
        another cuDNN or NCCL than it was built with fails to load a symbol, refuses to start ("cuDNN
        version incompatibility"), or behaves differently from the same program elsewhere.

    How to fix
        Nothing, when each user loads the copy it was built with. Otherwise remove the directory that
        shadows from LD_LIBRARY_PATH (or the stale copy), and check which copy a running process really
        mapped in /proc/PID/maps.

    References
        links.LD_SO
    """
    copies = snapshot.stack.need("libraries")
    for library, label in LIBRARY_NAMES.items():
        found = [copy for copy in copies if copy.name == library]
        if len({short_version(copy.version) for copy in found}) < 2:
            continue
        per_user = copies_by_consumer(found)
        loads = {user: copies[0] for user, copies in per_user.items()}  # in the loader's search order
        ambiguous: Dict[str, List[LibraryCopy]] = {
            user: copies for user, copies in per_user.items() if len({short_version(c.version) for c in copies}) > 1}
        shadowing = [copy for copy in found if copy.origin == "LD_LIBRARY_PATH"]
        for copy in found:
            if copy.origin == "wheel" and any(short_version(s.version) != short_version(copy.version) for s in shadowing):
                ambiguous.setdefault(copy.consumer, [copy]).extend(shadowing)
        versions = sorted({short_version(copy.version) for copy in found})
        who = "; ".join(f"{user} loads {copy.version} ({copy.path})" for user, copy in loads.items())
        evidence = {f"{library} copies": [f"{copy.version} {copy.path} [{copy.origin}] for {copy.consumer}"
                                          for copy in found]}
        if ambiguous:
            user, options = next(iter(ambiguous.items()))
            yield finding(
                Severity.WARNING, f"lib:{library}",
                f"{label}: {user} can load {len({short_version(c.version) for c in options})} different versions "
                f"({', '.join(f'{c.version} at {c.path}' for c in options)}); the first one the loader finds wins",
                evidence,
                Fix(summary="Keep one copy per user: drop the shadowing directory from LD_LIBRARY_PATH or remove "
                            "the stale copy, then check what a running process mapped",
                    commands=(f"ldconfig -p | grep lib{library}", f"grep lib{library} /proc/PID/maps"),
                    url=_links.LD_SO),
            )
            continue
        yield finding(
            Severity.INFO, f"lib:{library}",
            f"{label}: {len(versions)} versions are installed ({', '.join(versions)}), each user loads its own: {who}",
            evidence,
            Fix(summary="Nothing to do while each program loads the copy it was built with; to see which copy a "
                        "running process mapped, read its /proc/PID/maps",
                commands=(f"ldconfig -p | grep lib{library}", f"grep lib{library} /proc/PID/maps"),
                url=_links.LD_SO),
        )
