"""`gpubal fleet`: digests of real reports (the goldens), aggregation (verdicts, findings by host, drift,
stale and missing hosts), every input kind, the renderers against goldens, and the command's exit codes."""

from __future__ import annotations

import copy
import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any, Dict, List

import pytest
from typer.testing import CliRunner

from gpubal.cli import app
from gpubal.fleet.aggregate import FleetBuilder, parse_duration, read_expected_hosts
from gpubal.fleet.digest import DRIFT_KEYS, Unknown, digest_document
from gpubal.fleet.sources import SourceError, Unreadable, read_all, read_stream
from gpubal.reports.fleet import (render_fleet_html, render_fleet_json, render_fleet_markdown,
                                  render_fleet_terminal)
from helpers.paths import REPO

GOLDENS = REPO / "tests" / "goldens"
H200X2 = json.loads((GOLDENS / "h200x2.json").read_text(encoding="utf-8"))
NO_DRIVER = json.loads((GOLDENS / "no-driver.json").read_text(encoding="utf-8"))


def host_report(name: str, collected_at: str = "2026-11-30T06:00:00+00:00", driver: str = "", base=H200X2):
    """A real report (the h200x2 golden) as another host would have sent it."""
    report = copy.deepcopy(base)
    report["snapshot"]["host"]["hostname"] = {"value": name, "source": "/proc/sys/kernel/hostname"}
    report["snapshot"]["collected_at"] = collected_at
    if driver:
        report["snapshot"]["driver"]["version"]["value"] = driver
    return report


def fact(digest, key: str):
    return digest.facts[DRIFT_KEYS.index(key)]


def build(reports: List[Dict[str, Any]], **options):
    builder = FleetBuilder()
    for number, report in enumerate(reports):
        builder.add(digest_document(report, f"r{number}.json", f"r{number}"))
    return builder.finish(**options)


# --- digests -------------------------------------------------------------------------------------------


def test_digest_reads_a_reports_verdict_findings_and_facts():
    digest = digest_document(H200X2, "h200x2.json", "h200x2")
    snapshot = H200X2["snapshot"]
    assert digest.host == snapshot["host"]["hostname"]["value"]
    assert digest.gpu_model == snapshot["gpus"]["value"][0]["name"]["value"]
    assert digest.verdict == "partly-checked"  # the golden has no findings and 8 rules not evaluated
    assert digest.not_evaluated == H200X2["verdict"]["not_evaluated"]
    assert fact(digest, "driver_version") == snapshot["driver"]["version"]["value"]
    assert fact(digest, "gpu_count") == str(len(snapshot["gpus"]["value"]))


def test_digest_of_a_host_without_a_driver_keeps_unknown_facts_unknown():
    digest = digest_document(NO_DRIVER, "no-driver.json", "no-driver")
    assert digest.verdict == "error"
    assert [rule for rule, _, _ in digest.findings] == [f["rule_id"] for f in NO_DRIVER["findings"]]
    assert isinstance(fact(digest, "driver_version"), Unknown)
    assert isinstance(fact(digest, "gpu_count"), Unknown)


def test_a_bare_snapshot_is_judged_by_the_rules_first():
    snapshot = json.loads((REPO / "examples" / "h200x2-snapshot.json").read_text(encoding="utf-8"))
    digest = digest_document(snapshot, "snap.json", "snap")
    assert digest.gpu_model.startswith("NVIDIA")
    assert digest.errors + digest.warnings + digest.infos + digest.not_evaluated > 0 or digest.verdict == "healthy"


def test_a_redacted_report_is_named_after_its_file():
    report = host_report("host-1")  # what --redact writes for every host
    assert digest_document(report, "racks/a/node07.json", "racks/a/node07").host == "racks/a/node07"


def test_a_document_that_is_not_a_report_is_refused_with_a_reason():
    from gpubal.fleet.digest import DigestError

    with pytest.raises(DigestError, match="neither"):
        digest_document({"hello": 1}, "x", "x")
    wrong = copy.deepcopy(H200X2)
    wrong["snapshot"]["schema_version"] = 99
    with pytest.raises(DigestError, match="schema_version 99"):
        digest_document(wrong, "x", "x")


def test_pcie_width_and_nvlinks_spread_names_the_odd_gpu():
    report = host_report("a")
    report["snapshot"]["gpus"]["value"][1]["pcie_link_width_current"]["value"] = 8
    digest = digest_document(report, "a", "a")
    assert fact(digest, "pcie_width") == "x16 (1 GPU); x8 (gpu:1)"


# --- aggregation ---------------------------------------------------------------------------------------


def test_drift_names_the_majority_and_the_outliers():
    fleet = build([host_report("n1"), host_report("n2"), host_report("n3", driver="570.172.08")])
    (drift,) = [d for d in fleet.drift if d.fact == "driver_version"]
    assert drift.majority.value == H200X2["snapshot"]["driver"]["version"]["value"]
    assert drift.majority.hosts == ("n1", "n2")
    assert [(o.value, o.hosts) for o in drift.outliers] == [("570.172.08", ("n3",))]
    assert fleet.hosts[0].host == "n3" and "driver_version" in fleet.hosts[0].drift  # worst first


def test_a_tie_has_no_majority():
    fleet = build([host_report("n1"), host_report("n2", driver="570.172.08")])
    (drift,) = [d for d in fleet.drift if d.fact == "driver_version"]
    assert drift.majority is None and len(drift.outliers) == 2


def test_hosts_that_could_not_read_a_fact_are_not_drift():
    unknown = host_report("n3")
    unknown["snapshot"]["driver"]["version"] = {"unavailable": "no_permission", "source": "nvml", "detail": ""}
    fleet = build([host_report("n1"), host_report("n2"), unknown])
    assert not [d for d in fleet.drift if d.fact == "driver_version"]
    (agreed,) = [a for a in fleet.agreements if a.fact == "driver_version"]
    assert agreed.hosts == 2 and agreed.unknown_hosts == 1


def test_a_host_on_another_vbios_is_drift_and_a_report_without_one_is_unknown_not_drift():
    # the h200x2 golden's VBIOS is the real host's (96.00.A5.00.1A); the other build is an edit, as a
    # reflashed board would report it
    reflashed = host_report("n3")
    reflashed["snapshot"]["gpus"]["value"][1]["vbios_version"]["value"] = "96.00.A5.00.1B"
    older = host_report("n4")  # written before gpubal read the VBIOS
    for gpu in older["snapshot"]["gpus"]["value"]:
        del gpu["vbios_version"]
    fleet = build([host_report("n1"), host_report("n2"), reflashed, older])
    (drift,) = [d for d in fleet.drift if d.fact == "vbios_version"]
    assert (drift.label, drift.majority.value, drift.majority.hosts) == ("VBIOS", "96.00.A5.00.1A", ("n1", "n2"))
    assert [(o.value, o.hosts) for o in drift.outliers] == \
        [("96.00.A5.00.1A (1 GPU); 96.00.A5.00.1B (gpu:1)", ("n3",))]
    assert [(u.value, u.hosts) for u in drift.unknown] == [("unknown (absent)", ("n4",))]
    assert "vbios_version" in {row.host: row.drift for row in fleet.hosts}["n3"]


def test_hosts_of_different_gpu_models_are_not_compared():
    other = host_report("l40s")
    for gpu in other["snapshot"]["gpus"]["value"]:
        gpu["name"]["value"] = "NVIDIA L40S"
    other["snapshot"]["driver"]["version"]["value"] = "570.172.08"
    fleet = build([host_report("n1"), host_report("n2"), other])
    assert not fleet.drift
    assert {m.gpu_model for m in fleet.models} == {"NVIDIA H200", "NVIDIA L40S"}


def test_findings_list_the_hosts_that_have_them_and_verdicts_group_hosts():
    fleet = build([host_report("n1"), host_report("n2", base=NO_DRIVER), host_report("n10", base=NO_DRIVER)])
    group = [g for g in fleet.findings if g.rule_id == "no-nvidia-driver"][0]
    assert group.severity == "error" and group.hosts == ("n2", "n10")  # natural order: n2 before n10
    assert fleet.by_verdict["error"] == ("n2", "n10")
    assert fleet.by_verdict["partly-checked"] == ("n1",)
    assert fleet.worst_verdict() == "error"


def test_stale_is_measured_from_the_newest_report_not_the_clock():
    fleet = build([host_report("n1"), host_report("old", collected_at="2026-11-27T06:00:00+00:00")],
                  stale_after_seconds=parse_duration("2d"))
    assert [row.host for row in fleet.stale] == ["old"]
    assert fleet.stale[0].age_seconds == 3 * 86400
    assert not build([host_report("n1"), host_report("old", collected_at="2026-11-29T07:00:00+00:00")],
                     stale_after_seconds=parse_duration("2d")).stale


def test_missing_hosts_are_those_expected_without_a_report():
    expected = read_expected_hosts("# rack 1\nn1\nn2  # spare\n\nn3\n")
    fleet = build([host_report("n1"), host_report("n3")], expected_hosts=expected)
    assert fleet.missing == ("n2",)


def test_a_newer_report_of_the_same_host_replaces_the_older():
    older = host_report("n1", collected_at="2026-11-29T06:00:00+00:00", driver="570.172.08")
    fleet = build([host_report("n1"), older])
    assert len(fleet.hosts) == 1 and fleet.duplicates == (("n1", "r1.json"),)
    assert not fleet.drift


@pytest.mark.parametrize("text,seconds", [("90m", 5400), ("6h", 21600), ("2d", 172800), ("3600", 3600)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_a_bad_duration_is_refused():
    with pytest.raises(ValueError):
        parse_duration("soon")


# --- inputs --------------------------------------------------------------------------------------------


def write(path: Path, report: Dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_directory_tree_is_read_in_order_with_unreadable_files_named(tmp_path, jobs):
    for number in range(1, 21):
        write(tmp_path / f"rack-{number % 3}" / f"n{number}.json", host_report(f"n{number}"))
    (tmp_path / "rack-0" / "broken.json").write_text("{ not json", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    items = list(read_all([str(tmp_path)], jobs=jobs))
    unreadable = [item for item in items if isinstance(item, Unreadable)]
    assert len(items) == 21 and len(unreadable) == 1
    assert unreadable[0].source.endswith("broken.json") and "not JSON" in unreadable[0].reason


def test_a_tarball_is_read_as_a_stream(tmp_path):
    archive_path = tmp_path / "reports.tar.gz"
    with tarfile.open(archive_path, "w:gz") as archive:
        for name in ("a", "b"):
            data = json.dumps(host_report("host-1")).encode()  # redacted: named after the member
            member = tarfile.TarInfo(f"./reports/{name}.json")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    fleet_hosts = sorted(item.host for item in read_all([str(archive_path)]))
    assert fleet_hosts == ["reports/a", "reports/b"]


def test_a_glob_expands_and_a_missing_name_is_an_error(tmp_path):
    write(tmp_path / "n1.json", host_report("n1"))
    write(tmp_path / "n2.json", host_report("n2"))
    assert sorted(item.host for item in read_all([str(tmp_path / "n*.json")])) == ["n1", "n2"]
    with pytest.raises(SourceError, match="no file matches"):
        list(read_all([str(tmp_path / "x*.json")]))
    with pytest.raises(SourceError, match="no such file"):
        list(read_all([str(tmp_path / "absent.json")]))


def test_stdin_takes_json_lines_and_pretty_documents_alike():
    text = (json.dumps(host_report("n1")) + "\n\n" + json.dumps(host_report("n2"), indent=1) + "\n"
            + "not json\n" + json.dumps(host_report("n3")) + "\n")
    items = list(read_stream(io.StringIO(text), "stdin"))
    assert [getattr(item, "host", None) for item in items] == ["n1", "n2", None, "n3"]
    assert items[2].source == "stdin:" + str(text.splitlines().index("not json") + 1)


def test_stdin_that_ends_inside_a_document_says_so():
    text = json.dumps(host_report("n1"), indent=1)[:500]
    (item,) = list(read_stream(io.StringIO(text), "stdin"))
    assert isinstance(item, Unreadable) and "ended inside" in item.reason


# --- renderers and the command -------------------------------------------------------------------------


def sample_fleet():
    mig = host_report("gpu-07")
    mig["snapshot"]["gpus"]["value"][0]["mig_enabled_current"]["value"] = True
    reports = [host_report(f"gpu-{n:02d}") for n in range(1, 7)] + [
        host_report("gpu-08", driver="570.172.08"), mig,
        host_report("gpu-09", collected_at="2026-11-26T06:00:00+00:00"),
        host_report("gpu-10", base=NO_DRIVER),
        host_report("gpu-11<b>|*x*", driver="570.172.08")]  # a hostile name must stay text
    return build(reports, expected_hosts=["gpu-12"])


def check_golden(name: str, text: str, update: bool) -> None:
    path = GOLDENS / name
    if update:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run pytest --update-goldens"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden: review, then --update-goldens"


def test_terminal_matches_golden(update_goldens):
    from rich.console import Console

    buffer = io.StringIO()
    render_fleet_terminal(sample_fleet(), Console(file=buffer, width=100, no_color=True, highlight=False))
    text = "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"
    check_golden("fleet.txt", text, update_goldens)


def test_markdown_matches_golden(update_goldens):
    check_golden("fleet.md", render_fleet_markdown(sample_fleet()), update_goldens)


def test_json_names_every_host_and_round_trips():
    document = json.loads(render_fleet_json(sample_fleet()))
    assert document["hosts_total"] == 11
    assert document["missing"] == ["gpu-12"]
    assert document["by_verdict"]["error"] == ["gpu-10"]
    drift = {d["fact"]: d for d in document["drift"]}
    assert drift["driver_version"]["outliers"][0]["hosts"] == ["gpu-08", "gpu-11<b>|*x*"]
    assert drift["mig"]["outliers"][0]["hosts"] == ["gpu-07"]
    assert [s["host"] for s in document["stale"]] == ["gpu-09"]


def test_html_is_self_contained_and_escapes_host_strings():
    page = render_fleet_html(sample_fleet())
    assert "gpu-11&lt;b&gt;|*x*" in page and "gpu-11<b>" not in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    import html

    assert "default-src 'none'" in html.unescape(page)


def run_cli(*args, input=None):
    return CliRunner().invoke(app, ["fleet", *args], input=input)


def test_cli_exit_codes(tmp_path):
    write(tmp_path / "ok" / "n1.json", host_report("n1"))
    write(tmp_path / "bad" / "n2.json", host_report("n2", base=NO_DRIVER))
    assert run_cli(str(tmp_path / "ok")).exit_code == 0
    assert run_cli(str(tmp_path / "bad")).exit_code == 1  # a host with an error
    assert run_cli(str(tmp_path / "bad"), "--fail-on", "never").exit_code == 0
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("n1\nn9\n", encoding="utf-8")
    assert run_cli(str(tmp_path / "ok"), "--expect-hosts", str(hosts)).exit_code == 1  # n9 is missing
    result = run_cli(str(tmp_path / "nowhere"))
    assert result.exit_code == 2 and "no such file" in result.output
    result = run_cli(str(tmp_path / "ok"), "--stale-after", "soon")
    assert result.exit_code == 2 and "--stale-after" in result.output


def test_cli_reads_stdin_and_picks_the_format_from_the_extension(tmp_path):
    lines = "".join(json.dumps(host_report(f"n{n}")) + "\n" for n in range(3))
    out = tmp_path / "fleet.html"
    result = run_cli("-", "-o", str(out), input=lines)
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    result = run_cli("-", "--format", "json", input=lines)
    assert json.loads(result.stdout)["hosts_total"] == 3


def test_make_fleet_generates_the_variations_the_bench_relies_on(tmp_path):
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import make_fleet
    finally:
        sys.path.remove(str(REPO / "bench"))
    builder = FleetBuilder()
    for path, text in make_fleet.hosts(300):
        builder.add(digest_document(json.loads(text), path, path))
    fleet = builder.finish()
    drifting = {d.fact for d in fleet.drift}
    assert {"driver_version", "pcie_width", "nvlinks_up", "mig", "persistence_mode"} <= drifting
    assert fleet.stale and fleet.by_verdict["error"]
    rules = {g.rule_id for g in fleet.findings}
    assert {"pcie-link-downtrained", "nvlink-link-inactive", "no-nvidia-driver"} <= rules


@pytest.mark.parametrize("width, mobile", [(1280, False), (390, True)], ids=["desktop", "phone"])
def test_the_html_page_opens_cleanly_offline_at_desktop_and_phone_widths(tmp_path, width, mobile):
    from chromium import Browser, find_chromium

    if find_chromium() is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    page_file = tmp_path / "fleet.html"
    page_file.write_text(render_fleet_html(sample_fleet()), encoding="utf-8")
    with Browser() as browser:
        page = browser.open(page_file, width=width, mobile=mobile,
                            script="document.documentElement.scrollWidth <= window.innerWidth")
    assert page.requests == [page.url]  # nothing fetched but the page itself
    assert not page.console and not page.exceptions
    assert page.evaluated is True  # no sideways scrolling of the page itself at this width
    assert "gpu-11&lt;b&gt;|*x*" in page.dom  # a hostile host name stays text


def test_markdown_and_html_reports_are_read_through_their_embedded_snapshot():
    items = list(read_all([str(GOLDENS / "h200x1.md"), str(GOLDENS / "h200x1.html")]))
    assert all(not isinstance(item, Unreadable) for item in items), items
    # redacted reports (Markdown and HTML are, by default): each host is named after its file
    assert [item.host for item in items] == ["h200x1", "h200x1"]
    assert [item.gpu_model for item in items] == ["NVIDIA H200", "NVIDIA H200"]


def test_workers_are_not_forked_while_another_thread_runs(tmp_path):
    """A fork copies a lock another thread holds, and the child can wait on it forever: with a second
    thread alive the workers come from a fork server, and read the same."""
    import threading

    from gpubal.fleet.sources import start_method

    for number in range(1, 21):
        write(tmp_path / f"n{number}.json", host_report(f"n{number}"))
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        assert start_method() == ("forkserver" if sys.platform.startswith("linux") else "spawn")
        items = list(read_all([str(tmp_path)], jobs=2))
    finally:
        stop.set()
        other.join()
    assert sorted(item.host for item in items) == sorted(f"n{number}" for number in range(1, 21))
