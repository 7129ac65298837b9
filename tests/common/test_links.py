"""gpubal/common/links.py is the one place a documentation URL is written: code uses its constants and
rule docstrings name them (`links.NVML_API`), so a moved page is mended once."""

import ast
import re
from pathlib import Path

import pytest

import gpubal
from gpubal.common import links
from gpubal.rules import all_rules

PACKAGE = Path(gpubal.__file__).parent
URLS = {name: value for name, value in vars(links).items() if name.isupper() and isinstance(value, str)}


def test_every_constant_is_an_https_url_and_none_repeats_another():
    assert URLS, "links.py defines no URL"
    for name, url in URLS.items():
        assert re.match(r"^https://[\w.-]+\.[a-z]{2,}(/\S*)?$", url), f"links.{name} = {url!r}"
    by_url = {}
    for name, url in URLS.items():
        by_url.setdefault(url, []).append(name)
    assert [names for names in by_url.values() if len(names) > 1] == []


def test_expand_names_writes_the_url_for_each_name():
    text = "References\n    links.NVML_API\n    links.OLLAMA_FAQ\n    https://example.org/kept"
    assert links.expand_names(text) == (f"References\n    {links.NVML_API}\n    {links.OLLAMA_FAQ}\n"
                                        "    https://example.org/kept")


def test_a_misspelt_name_is_an_error_not_printed_text():
    with pytest.raises(LookupError, match="links.NVML_APi"):
        links.expand_names("links.NVML_APi")


@pytest.mark.parametrize("rule", all_rules(), ids=lambda rule: rule.id)
def test_a_rule_docstring_names_a_known_page_instead_of_repeating_its_url(rule):
    written = rule.check.__doc__ or ""
    repeated = [name for name, url in URLS.items() if url in written.split()]
    assert repeated == [], f"{rule.id}: write links.{repeated[0]} in References, not the URL"


def _string_constants(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_no_code_writes_a_documentation_url_that_links_holds():
    wanted = set(URLS.values())
    repeated = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "common" / "links.py":
            continue
        for line, value in _string_constants(path):
            if value in wanted:
                repeated.append(f"{path.relative_to(PACKAGE)}:{line}: {value}")
    assert repeated == [], "use the constant in gpubal.common.links:\n" + "\n".join(repeated)


@pytest.mark.parametrize("name", sorted(URLS))
def test_redaction_leaves_a_documentation_page_as_it_is(name, h200x2_snapshot):
    # a message or a pasted log may quote one of gpubal's own pages; its host names no site
    from gpubal.common.redact import Redactor

    text = f"see {URLS[name]} for the fix"
    assert Redactor(h200x2_snapshot).text(text) == text
