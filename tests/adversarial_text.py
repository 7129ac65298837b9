"""Text built to make a backtracking regex take quadratic (or worse) time, one family of gpubal's regexes
at a time, run through the real code that applies them. tests/test_regex_linear.py runs every case at
1 MB under a hang guard; bench/bench_regex.py times them at 100 KB and 1 MB.

The shapes are the classic ones for Python's backtracking engine: a long run that a greedy or lazy
quantifier takes and then gives back at every start position (`aaaa…` for `[\\w.]*=`), a prefix repeated
with no terminator (`NVRM version: NVRM version: …` for `NVRM version:.*?\\s`), and a run of spaces
between two quantifiers that both take spaces (`a` + spaces + `b` for `(\\S.*?)\\s*:`).
"""

from __future__ import annotations

import functools
from typing import Callable, Dict, List, Tuple


def repeat(piece: str, size: int) -> str:
    return (piece * (size // len(piece) + 1))[:size]


def pad(prefix: str, piece: str, suffix: str, size: int) -> str:
    return prefix + repeat(piece, max(size - len(prefix) - len(suffix), 0)) + suffix


# one-line shapes: every line parser and every search pattern gets each of them
LINE_SHAPES: Dict[str, Callable[[int], str]] = {
    "word": lambda n: repeat("a", n),
    "digits": lambda n: repeat("0", n),
    "dots": lambda n: repeat("1.", n),
    "colons": lambda n: repeat("0:", n),
    "slashes": lambda n: repeat("/", n),
    "spaces-between": lambda n: pad("a", " ", "b", n),
    "spaces-after-colon": lambda n: pad("a:b", " ", "c", n),
    "gpu-spaces": lambda n: pad("GPU 0: x", " ", "y", n),
    "link-spaces": lambda n: pad("Link 0: x", " ", "y", n),
    "table-row": lambda n: pad("| 0 a", " ", "b", n),
    "table-row2": lambda n: pad("| x | 1MiB / 2MiB | a b", " ", "c", n),
    "uuid-open": lambda n: pad("GPU 0: x", " (UUID: ", "", n),
    "nvrm": lambda n: repeat("NVRM version: NVIDIA ", n),
    "device": lambda n: repeat("Device 0: ", n),
    "server-config": lambda n: repeat('server config env="map[', n),
    "buffer": lambda n: pad("", "a", " model buffer", n),
    "key-value": lambda n: repeat("a=", n),
    "quotes": lambda n: pad('a="', "\\", "", n),
    "flags": lambda n: repeat("--a", n),
    "escape": lambda n: repeat("\x1b[", n),
    "osc": lambda n: repeat("\x1b]", n),
    "url-scheme": lambda n: repeat("a", n - 3) + "://",
    "url-userinfo": lambda n: pad("a://b:", "c", "", n),
    "home": lambda n: repeat("/home/", n),
    "hex-colons": lambda n: repeat("aa:", n),
    "ip-dots": lambda n: repeat("1.1.", n),
    "cudnn-path": lambda n: pad("", "/", "libcudnn.so.1", n),
    "arch": lambda n: pad("Ubuntu", " ", "(x86_64)x", n),
    "sizes": lambda n: pad("", "1", " KiB", n),
    "bracket": lambda n: repeat("[", n),
    "secret-assign": lambda n: repeat("TOKEN=", n),
    "bearer": lambda n: repeat("Bearer ", n),
    "jwt": lambda n: repeat("eyJ", n),
}


def line_cases(size: int) -> List[Tuple[str, str]]:
    return [(name, make(size)) for name, make in LINE_SHAPES.items()]


def embedded_snapshot_cases(size: int) -> List[Tuple[str, str]]:
    """Report files whose snapshot block never closes, its opening repeated."""
    html = '<script type="application/json" id="gpubal-snapshot">'
    markdown_header = "<!-- gpubal-snapshot v1 -->\n```json\n"
    return [
        ("html-open-script", repeat(html, size)),
        ("html-open-tag", repeat("<script id=", size)),
        ("markdown-open-block", repeat(markdown_header + "{", size)),
        ("markdown-open-comment", repeat("<!-- gpubal-snapshot", size)),
        ("markdown-shrinking-fences", _shrinking_fences(size)),
    ]


def _shrinking_fences(size: int) -> str:
    blocks, count = [], 3
    while sum(map(len, blocks)) < size:
        blocks.append(f"<!-- gpubal-snapshot -->\n{'`' * count}json\n{{}}\n")
        count += 1
    return "".join(reversed(blocks))[:size]


# --- the code that applies gpubal's regexes, one family each ------------------------------------------------

@functools.lru_cache(maxsize=None)
def source_patterns():
    """Every regex literal in src/ (module constants and inline calls), as compiled patterns: found by
    reading the source, so a new regex is swept without being listed here."""
    import ast
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "src" / "gpubal"
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"
                    and node.func.attr in ("compile", "search", "match", "fullmatch", "sub", "findall",
                                           "finditer", "split")):
                continue
            if not node.args or not isinstance(node.args[0], ast.Constant) or not isinstance(node.args[0].value, str):
                continue  # a pattern built at run time (an escaped hostname): checked through the redactor
            flags = 0
            for sub in ast.walk(node):
                if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "re" \
                        and sub.attr in ("MULTILINE", "DOTALL", "IGNORECASE", "VERBOSE"):
                    flags |= getattr(re, sub.attr)
            where = f"{path.relative_to(root.parent)}:{node.lineno}"
            found.append((where, re.compile(node.args[0].value, flags)))
    return tuple(found)


@functools.lru_cache(maxsize=None)
def sample_snapshot():
    from pathlib import Path

    from gpubal.snapshot_file import snapshot_from_text

    golden = Path(__file__).resolve().parent / "goldens" / "h200x2.json"
    return snapshot_from_text(golden.read_text(encoding="utf-8"))


def run_redaction(text: str, snapshot) -> None:
    from gpubal.common.redact import Redactor, _drop_secrets

    Redactor(snapshot).text(_drop_secrets(text))


def run_host_list_redaction(text: str, snapshot) -> None:
    from gpubal.common.redact import Redactor

    Redactor(snapshot).text(text, field_name="HTTPS_PROXY")  # a variable naming hosts: every word is a host


def run_line_parsers(text: str) -> None:
    from gpubal.doctor.ingest.registry import FORMATS, detect

    detect(text)
    for fmt in FORMATS:
        parser = fmt.parser()
        parser.feed(text)
        parser.finish()


def run_embedded_snapshot(text: str) -> None:
    from gpubal.snapshot_file import SnapshotError, snapshot_from_text

    try:
        snapshot_from_text(text)
    except SnapshotError:
        pass


def run_pattern(pattern, text: str) -> None:
    for _ in pattern.finditer(text):
        pass
