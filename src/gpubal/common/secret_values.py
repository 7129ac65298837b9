"""What looks like a secret: environment variable names (their values are dropped wherever gpubal meets
them, collected, pasted or reported, redaction or not: one list, so the three places agree), and values
whose shape gives them away under any name (a bearer token, a Hugging Face or OpenAI key, an AWS access
key id, a JWT, an inline `HF_TOKEN=…` in a command line)."""

from __future__ import annotations

import re

from .lazy import lazy

SECRET_WORDS = ("TOKEN", "KEY", "SECRET", "PASS", "AUTH", "CREDENTIAL", "COOKIE", "SESSION", "HEADER", "BEARER",
                "PRIVATE", "SIGNATURE")
# words that hold a secret word without being about secrets (NCCL_..._BYPASS, a GPU passthrough setting)
NOT_SECRET_WORDS = ("BYPASS", "PASSTHROUGH", "PASSTHRU", "COMPASS", "PASSIVE", "KEYBOARD")

REDACTED = "[redacted]"


def looks_secret(name: str) -> bool:
    upper = name.upper()
    for word in NOT_SECRET_WORDS:
        upper = upper.replace(word, "")
    return any(word in upper for word in SECRET_WORDS)


# Each pattern starts where no character of its own kind precedes it (a lookbehind), so a long run is
# scanned once, not once per position: linear time on any input (tests/test_regex_linear.py).
# Each comes with words one of which any match contains: a string that holds none of them is not searched
# with the pattern (most strings of a report hold none), and a pattern no string needs is never compiled.
SECRET_SHAPES = (
    # Authorization schemes: keep the scheme word, drop the credential
    (("earer", "EARER", "asic", "ASIC"),
     lazy(lambda: re.compile(r"(?<![\w-])(?P<keep>(?:[Bb]earer|BEARER|[Bb]asic|BASIC)\s+)[A-Za-z0-9._~+/=-]{8,}"))),
    (("hf_",), lazy(lambda: re.compile(r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{20,}"))),  # Hugging Face access tokens
    # OpenAI-style API keys (sk-..., sk-proj-...)
    (("sk-",), lazy(lambda: re.compile(r"(?<![\w-])sk-[A-Za-z0-9_-]{16,}"))),
    # AWS access key ids
    (("AKIA", "ASIA"), lazy(lambda: re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"))),
    # JWTs: base64url of '{"' . payload . signature
    (("eyJ",), lazy(lambda: re.compile(r"(?<![\w-])eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*"))),
    (("gh",), lazy(lambda: re.compile(r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{30,}"))),  # GitHub tokens
    (("xox",), lazy(lambda: re.compile(r"(?<![\w-])xox[abpr]-[A-Za-z0-9-]{10,}"))),  # Slack tokens
)
# NAME=value and --name value / --name=value, the value dropped when the name looks secret (a value in
# parentheses is the collector's own note, "(secret dropped)")
_ASSIGNMENT = lazy(lambda: re.compile(
    r"(?<![\w.-])(?P<name>[A-Za-z_][\w.-]*)=(?P<value>\"[^\"]*\"|'[^']*'|[^\s\"'&;,(][^\s\"'&;,]*)"))
_FLAG = lazy(lambda: re.compile(r"(?<![\w-])--(?P<name>[A-Za-z][\w-]*)(?P<separator>=|\s+)(?P<value>[^\s(-][^\s]*)"))
# scheme://user:password@
_URL_PASSWORD = lazy(lambda: re.compile(r"(?<![\w+.-])(?P<scheme>[a-zA-Z][\w+.-]*://)[^/\s:@]+:[^/\s@]+@"))


# any of the words above, found in one pass: most strings hold none, and are returned as they are
_ANY_WORD = lazy(lambda: re.compile(r"://|=|--|earer|EARER|asic|ASIC|hf_|sk-|AKIA|ASIA|eyJ|gh|xox"))


def drop_secret_values(text: str) -> str:
    """text with every secret-shaped value replaced by [redacted]; everything else unchanged."""
    if not text or _ANY_WORD().search(text) is None:
        return text
    if "://" in text:
        text = _URL_PASSWORD().sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    if "=" in text:
        text = _ASSIGNMENT().sub(lambda m: f"{m.group('name')}={REDACTED}" if looks_secret(m.group("name"))
                                 else m.group(0), text)
    if "--" in text:
        text = _FLAG().sub(lambda m: f"--{m.group('name')}{m.group('separator')}{REDACTED}"
                           if looks_secret(m.group("name")) else m.group(0), text)
    for words, pattern in SECRET_SHAPES:
        if any(word in text for word in words):
            text = pattern().sub(lambda m: (m.groupdict().get("keep") or "") + REDACTED, text)
    return text
