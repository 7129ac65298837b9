"""The reports that travel — Markdown for issues, self-contained HTML, JUnit XML for CI — compared with
golden files (`pytest --update-goldens` rewrites them; review the diff), read back by `gpubal doctor
--snapshot`, and checked for what must never be in them: markup that runs, secrets, fetches."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import List, Tuple
from xml.etree import ElementTree

import pytest

from helpers import HOSTILE
from helpers.goldens import FROZEN_AT, check_golden, frozen, report_of

from gpubal import __version__
from gpubal.doctor.engine import evaluate
from gpubal.model import Report
from gpubal.snapshot_file import snapshot_from_text
from gpubal.reports.html import render_html
from gpubal.reports.json_report import render_json
from gpubal.reports.junit import render_junit
from gpubal.reports.markdown import GITHUB_ISSUE_LIMIT_CHARS, render_markdown
from gpubal.common.redact import redact_report
from gpubal.rules import all_rules

CASES = ["h200x2", "h200x1", "no-driver", "pcie4-l40s-2numa"]


@pytest.fixture(params=CASES)
def case(request) -> Tuple[str, Report]:
    return request.param, report_of(request.param)


# --- goldens -----------------------------------------------------------------------------------------


def test_markdown_matches_golden(case, update_goldens):
    name, report = case
    check_golden(f"{name}.md", render_markdown(report), update_goldens)


def test_html_matches_golden(case, update_goldens):
    name, report = case
    check_golden(f"{name}.html", render_html(report), update_goldens)


def test_junit_matches_golden(case, update_goldens):
    name, report = case
    check_golden(f"{name}.junit.xml", render_junit(report), update_goldens)


# --- every format names gpubal's version and the matrix's date -----------------------------------------


@pytest.mark.parametrize("render", [render_markdown, render_html, render_junit, render_json],
                         ids=["markdown", "html", "junit", "json"])
def test_every_format_names_the_versions(render):
    report = dataclasses.replace(report_of("h200x1"), matrix_version="2031-02-03")
    text = render(report)
    assert __version__ in text and "2031-02-03" in text


# --- read back ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("render", [render_markdown, render_html], ids=["markdown", "html"])
def test_a_report_reads_back_as_its_snapshot(case, render):
    _, report = case
    assert snapshot_from_text(render(report, redact=False)) == report.snapshot


@pytest.mark.parametrize("render", [render_markdown, render_html], ids=["markdown", "html"])
def test_a_redacted_report_reads_back_as_the_redacted_snapshot(render):
    report = report_of("h200x2")
    back = snapshot_from_text(render(report, redact=True))
    assert back == redact_report(report, True).snapshot
    assert back.host.hostname.value == "host-1"


def test_markdown_pasted_with_crlf_line_ends_reads_back():
    report = report_of("h200x1")
    assert snapshot_from_text(render_markdown(report, redact=False).replace("\n", "\r\n")) == report.snapshot


def test_an_8_gpu_report_fits_a_github_issue_and_still_reads_back():
    report = report_of("hgx8-h100-nvswitch")
    text = render_markdown(report, redact=False)
    assert len(text) <= GITHUB_ISSUE_LIMIT_CHARS
    assert "```base64" in text  # the readable JSON would not have fit
    assert snapshot_from_text(text) == report.snapshot


def test_a_report_whose_snapshot_was_cut_says_so():
    from gpubal.snapshot_file import SnapshotError

    text = render_markdown(report_of("h200x1"), redact=False).replace('"schema_version":1,', '"schema_version":1,,')
    with pytest.raises(SnapshotError, match="embedded snapshot is not JSON"):
        snapshot_from_text(text)
    with pytest.raises(SnapshotError, match="gpubal-snapshot block is missing"):
        snapshot_from_text("## gpubal: a report with its snapshot removed\n")


# --- hostile strings show as text and never run; secrets never show --------------------------------------

SECRETS = ("SECRETVALUE", "hunter2")


@pytest.fixture
def hostile(hostile_snapshot) -> Report:
    return evaluate(frozen(hostile_snapshot), all_rules())


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: List[Tuple[str, dict]] = []
        self.text: List[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag in ("script", "style")

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if not self._in_script:
            self.text.append(data)


def parsed(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


def test_hostile_strings_are_text_in_html(hostile):
    html = render_html(hostile, redact=False)
    page = parsed(html)
    scripts = [attrs for tag, attrs in page.tags if tag == "script"]
    assert scripts == [{"type": "application/json", "id": "gpubal-snapshot"}, {}]  # only gpubal's two
    assert not [tag for tag, _ in page.tags if tag in ("img", "iframe", "object", "embed", "link", "base")]
    assert not [(tag, name) for tag, attrs in page.tags for name in attrs if name.startswith("on")]
    text = "".join(page.text)
    assert f"llama3{HOSTILE}" in text  # the model name, shown as written
    assert "Ubuntu <img src=x onerror=alert(2)> | `rm -rf` **bold**" in text
    assert "</script><script>alert(3)</script>" in text  # an environment value, in the facts table
    assert snapshot_from_text(html) == redact_report(hostile, False).snapshot


def test_hostile_strings_are_text_in_markdown(hostile):
    text = render_markdown(hostile, redact=False)
    outside_code = re.sub(r"(`+)(?:(?!\1).)+?\1", "", re.sub(r"```[a-z0-9]*\n.*?\n```", "", text, flags=re.DOTALL))
    tags = set(re.findall(r"<(/?[a-zA-Z][\w-]*)(?=[\s>/])", outside_code))  # <https://...> is an autolink
    assert tags <= {"details", "/details", "summary", "/summary", "code", "/code"}, tags
    assert "llama3&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in text or "llama3&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert snapshot_from_text(text) == redact_report(hostile, False).snapshot


def test_hostile_strings_are_escaped_in_junit(hostile):
    xml = render_junit(hostile)
    root = ElementTree.fromstring(xml)  # well-formed despite <, >, & and quotes in the facts
    messages = [failure.get("message") for failure in root.iter("failure")]
    assert any(HOSTILE in message for message in messages)


@pytest.mark.parametrize("render", [render_markdown, render_html, render_junit, render_json],
                         ids=["markdown", "html", "junit", "json"])
@pytest.mark.parametrize("redact", [False, True], ids=["plain", "redacted"])
def test_secret_values_never_show(hostile, render, redact):
    text = render(redact_report(hostile, redact)) if render is render_json else render(hostile, redact=redact)
    for secret in SECRETS:
        assert secret not in text
    assert "HF_TOKEN_FOR_TEST" not in text  # the whole variable goes, not only its value


# --- the HTML is one self-contained file -----------------------------------------------------------------


def test_html_loads_nothing_from_outside(case):
    _, report = case
    html = render_html(report)
    page = parsed(html)
    for tag, attrs in page.tags:
        assert "src" not in attrs, (tag, attrs)
        assert tag not in ("link", "iframe", "img", "object", "embed", "base", "audio", "video", "source")
        href = attrs.get("href")
        if href is not None:
            assert tag == "a" and (href.startswith("#") or href.startswith("https://")), (tag, href)
            if href.startswith("https://"):
                assert "noreferrer" in attrs.get("rel", "")
    style = re.search(r"<style>(.*?)</style>", html, re.DOTALL).group(1)
    assert "url(" not in style and "@import" not in style and "@font-face" not in style


def test_html_content_security_policy_allows_only_its_own_style_and_script():
    html = render_html(report_of("h200x1"))
    policy = next(attrs["content"] for tag, attrs in parsed(html).tags
                  if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy")
    assert policy.startswith("default-src 'none';")

    def digest(text: str) -> str:
        return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    style = re.search(r"<style>(.*?)</style>", html, re.DOTALL).group(1)
    script = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)[-1]
    assert f"style-src '{digest(style)}'" in policy and f"script-src '{digest(script)}'" in policy


def test_html_topology_marks_numa_nodes_and_link_problems():
    html = render_html(report_of("pcie4-l40s-2numa"))
    cells = re.findall(r'<td class="link ([a-z ]+)"(?: title="([^"]*)")?>([^<]*)</td>', html)
    assert ("sys problem", "gpu-pair-crosses-numa, p2p-unsupported-between-gpus", "SYS") in cells or any(
        css == "sys problem" and text == "SYS" for css, _, text in cells)
    assert any(css == "pix" and text == "PXB" for css, _, text in cells)
    assert 'class="gpu numa-0' in html and 'class="gpu numa-1' in html


def test_html_findings_carry_severity_and_area_for_the_filters():
    html = render_html(report_of("pcie4-l40s-2numa"))
    articles = re.findall(r'<article class="finding (\w+)" id="finding-\d+" data-severity="(\w+)" data-area="(\w+)"', html)
    assert articles and all(css == severity for css, severity, _ in articles)
    assert {"topology"} <= {area for _, _, area in articles}
    assert '<option value="topology">topology</option>' in html
