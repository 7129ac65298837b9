import datetime

from ..model import Fix, Severity, Snapshot
from . import finding, rule
from ..common import links as _links
from ..matrix import Matrix, branch_is_end_of_life, driver_branch, driver_branch_name
from ._stack import matrix_lacks


@rule("driver-branch-end-of-life", scope="host", area="driver",
      summary="The driver's branch still gets fixes from NVIDIA (not end of life)",
      inputs=("matrix",))
def driver_branch_end_of_life(snapshot: Snapshot, matrix: Matrix):
    """
    What it checks
        The driver's branch (R535, R580, ...) against NVIDIA's list of data-center driver branches and
        their end-of-life dates, on the date the snapshot was taken. A branch the matrix has no row
        for is end of life when it is older than every branch NVIDIA still dates (NVIDIA: "All other
        previous driver branches not listed in the table above ... are end of life"); a newer branch
        without a row is not evaluated.

    Why it matters
        An end-of-life branch gets no more security or bug fixes, and new CUDA releases (and the
        frameworks built with them) need newer branches.

    How to fix
        Move to a supported branch, preferably a Long Term Support Branch, with the driver packages of
        your distribution or NVIDIA's repository, and reboot.

    References
        links.DRIVER_LIFECYCLE
    """
    version = snapshot.driver.need("version")
    branch = driver_branch(matrix, version)
    on = datetime.date.fromisoformat(snapshot.collected_at[:10])
    if branch is None:
        yield from _unlisted(version, matrix, on)
        return
    listed_on = dict(matrix.matrix_dates).get("driver_branches", "")
    if branch.status == "end_of_life" and not branch.end_of_life and on.isoformat() < listed_on:
        # an undated "end of life" is known only as of the edition it was read in; a dump dated
        # earlier (its own timestamp) may predate it
        matrix_lacks(f"the date {branch.branch} reached end of life (listed as ended in the edition read on "
                     f"{listed_on}; this snapshot is dated {on.isoformat()})", "driver_branches.toml")
    ended = branch_is_end_of_life(branch, on)
    if ended is None:
        matrix_lacks(f"the end of life of {branch.branch}", "driver_branches.toml")
    if not ended:
        return
    supported = [b.branch for b in matrix.driver_branches
                 if b.type == "Long Term Support Branch" and branch_is_end_of_life(b, on) is False]
    yield finding(
        Severity.WARNING, "host",
        f"Driver {version} is on branch {branch.branch}, which NVIDIA lists as end of life"
        + (f" since {branch.end_of_life}" if branch.end_of_life else ""),
        {"driver.version": version, "branch": branch.branch, "end_of_life": branch.end_of_life or "yes",
         **({"snapshot date": on.isoformat()} if branch.end_of_life else {})},
        Fix(summary="Move to a supported driver branch" + (f" (Long Term Support: {', '.join(supported)})" if supported else ""),
            commands=("nvidia-smi --query-gpu=driver_version --format=csv,noheader",),
            url=branch.source),
    )


def _unlisted(version: str, matrix: Matrix, on: datetime.date):
    name = driver_branch_name(version)
    listed = [b for b in matrix.driver_branches if b.end_of_life and b.status != "end_of_life"]
    note = next((b for b in matrix.driver_branches if b.status == "end_of_life"), None)
    edition = datetime.date.fromisoformat(dict(matrix.matrix_dates).get("driver_branches", "9999-12-31"))
    # the note speaks for its edition: a dump older than it may come from when the branch was supported
    if (not name[1:].isdigit() or not listed or note is None or on < edition
            or int(name[1:]) >= min(b.number for b in listed)):
        matrix_lacks(f"driver branch {name}", "driver_branches.toml")
    oldest = min(listed, key=lambda b: b.number)
    supported = [b.branch for b in matrix.driver_branches if b.type == "Long Term Support Branch" and b.end_of_life]
    yield finding(
        Severity.WARNING, "host",
        f"Driver {version} is on branch {name}, older than every branch NVIDIA still lists ({oldest.branch} is the "
        "oldest): NVIDIA counts such branches as end of life",
        {"driver.version": version, "branch": name, "oldest branch NVIDIA lists": oldest.branch,
         "end_of_life": "yes (not listed; older than every listed branch)"},
        Fix(summary="Move to a supported driver branch" + (f" (Long Term Support: {', '.join(supported)})" if supported else ""),
            commands=("nvidia-smi --query-gpu=driver_version --format=csv,noheader",),
            url=note.source),
    )
