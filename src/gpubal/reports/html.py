"""The HTML report: one self-contained file to open offline, mail, or keep as a CI artifact.

Inline CSS and a small inline script, nothing else: no CDN, no font, no image, no request leaves the
page. A Content-Security-Policy with `default-src 'none'` says so to the browser too, and lets only this
page's own style and script run (by their SHA-256), so even a string that slipped past escaping could
not run. Jinja2 autoescapes every value from the host (hostnames, environment values, log lines, model
names); the embedded snapshot is JSON with <, > and & written as \\u escapes, so it cannot close its
<script> element.

Findings come first, filterable by severity and area; the topology is a coloured matrix with NVLink
counts, NUMA nodes and link problems marked; facts are searchable; it reads on a phone and prints.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from ..model import Report
from .context import build_context, severities
from . import words
from ..common.redact import redact_report
from .visible import visible


def _static(name: str) -> str:
    from importlib import resources

    return resources.files("gpubal.reports").joinpath("templates", name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def content_security_policy(css: str, js: str) -> str:
    return (f"default-src 'none'; style-src '{_sha256(css)}'; script-src '{_sha256(js)}'; img-src data:; "
            "base-uri 'none'; form-action 'none'")


def _is_link(url: Any) -> bool:
    return isinstance(url, str) and url.startswith(("https://", "http://"))


def _environment() -> Any:
    import jinja2  # imported when a template is rendered, not when gpubal starts

    env = jinja2.Environment(loader=jinja2.PackageLoader("gpubal.reports", "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.tests["link"] = _is_link
    env.filters["words"] = words.value
    return env


def render_html(report: Report, redact: bool = True) -> str:
    import markupsafe

    shown = redact_report(report, redact)
    context = build_context(shown, redacted=redact)
    css, js = _static("report.css"), _static("report.js")
    # control characters in host text show as \u escapes (valid JSON escapes inside the snapshot too)
    return visible(_environment().get_template("report.html.j2").render(
        c=context, severities=severities(), csp=content_security_policy(css, js),
        css=markupsafe.Markup(css), js=markupsafe.Markup(js), snapshot_json=markupsafe.Markup(context.snapshot_json)))
