"""Words for people, codes for machines: the one place where a `Reason` becomes what the terminal,
Markdown and HTML reports say. JSON and JUnit keep the raw codes (`not_supported`, `not_in_input`) that
programs match on; people read "n/a", "not in the pasted text", "no answer within 2 s"."""

from __future__ import annotations

import re
from typing import Any, Optional

from ..model import Known, Reason, Unavailable

# In a table cell, where a sentence does not fit. A feature this GPU does not have reads `n/a`, as
# nvidia-smi prints it; every other gap says in a word or two why the value is missing.
SHORT = {
    Reason.NOT_SUPPORTED: "n/a",
    Reason.NO_PERMISSION: "no permission",
    Reason.NOT_FOUND: "not found",
    Reason.API_MISSING: "driver too old",
    Reason.GPU_LOST: "GPU lost",
    Reason.TIMEOUT: "no answer",
    Reason.ERROR: "error",
    Reason.NOT_IN_INPUT: "not in input",
    Reason.INCONSISTENT: "inconsistent",
    Reason.NOT_ASKED: "not asked",
}

# In a sentence ("gpu:1.nvlinks: the GPU is lost (nvmlDeviceGetHandleByIndex)").
PHRASE = {
    Reason.NOT_SUPPORTED: "not supported",
    Reason.NO_PERMISSION: "not readable by this user",
    Reason.NOT_FOUND: "not found",
    Reason.API_MISSING: "the installed driver is too old to report it",
    Reason.GPU_LOST: "the GPU is lost",
    Reason.TIMEOUT: "no answer in time",
    Reason.ERROR: "could not be read",
    Reason.NOT_IN_INPUT: "not in the input",
    Reason.INCONSISTENT: "the source answered differently when asked again",
    Reason.NOT_ASKED: "not asked this time",
}
# A test checks that every reason has a word and a phrase; a reason added without them still prints
# as words (its code with spaces), never crashes a report.

# The patterns here are compiled (and cached by re) on first use, not at import: a JSON report or a run
# with nothing missing never needs them. Literal ones are written in the call, where the regex sweep
# (tests/test_regex_linear.py) finds them.


def short(fact: Unavailable) -> str:
    return SHORT.get(fact.reason) or fact.reason.value.replace("_", " ")


def phrase(fact: Unavailable) -> str:
    """One Unavailable as a person reads it: what is wrong, where it was asked, and the detail when it
    says more than the reason (NVML's own error text only restates it)."""
    reason, source = fact.reason, fact.source
    # no leading \s*: a search with one is quadratic on spaces
    detail = _codes_in_words(re.sub(r" ?\(NVML_ERROR_\w+\)", "", fact.detail).strip())
    said = PHRASE.get(reason) or reason.value.replace("_", " ")
    if reason is Reason.NOT_SUPPORTED:
        said += " on this GPU" if source.startswith("nvmlDevice") else " by this driver" if source.startswith("nvml") else ""
    elif reason is Reason.TIMEOUT and detail.startswith("no answer within"):
        said, detail = detail, ""
    elif reason is Reason.NOT_IN_INPUT:
        return "not in the pasted text" if "pasted" in detail or not detail else f"{said}: {detail}"
    if source.lower().startswith("nvml") and reason not in (Reason.ERROR, Reason.NOT_FOUND):
        detail = ""
    text = f"{said} ({source})"
    return f"{text}: {detail}" if detail else text


# NVML's P2P statuses (nvmlGpuP2PStatus_t), as the snapshot keeps them, in words.
P2P_STATUS = {
    "chipset_not_supported": "not supported by the chipset", "gpu_not_supported": "not supported by the GPU",
    "topology_not_supported": "not supported by the topology", "disabled_by_regkey": "disabled by a registry key",
    "not_supported": "not supported",
}
_CODE = r"\b(" + "|".join(reason.value for reason in Reason if "_" in reason.value) + r")\b"


def _codes_in_words(text: str) -> str:
    """A reason code inside other text ("NVML did not start (not_found)") as its short word."""
    return re.sub(_CODE, lambda match: short(Unavailable(Reason(match.group(1)), "")), text)


_DESCRIBED = (r"(?s)(?P<reason>" + "|".join(r.value for r in Reason) + r") \((?P<source>[^()]*(?:\([^()]*\)[^()]*)*)\)"
              r"(?:: (?P<detail>.*))?")


def described(text: str) -> str:
    """`Unavailable.describe()`'s text (what a rule result stores as its missing reason) in words; any
    other text (a policy's "skipped by site policy X") is already words and stays as it is."""
    match = re.fullmatch(_DESCRIBED, text)
    if match is None:
        # "GPU pairs: not_in_input (dump.txt): ..." in the topology's evidence
        labelled = re.fullmatch(r"(?P<label>[^:()\n]{1,60}): (?P<rest>.+)", text, re.DOTALL)
        if labelled is not None and re.fullmatch(_DESCRIBED, labelled["rest"]):
            return f"{labelled['label']}: {described(labelled['rest'])}"
        return _codes_in_words(text)
    return phrase(Unavailable(Reason(match["reason"]), match["source"], match["detail"] or ""))


def value(item: Any) -> str:
    """An evidence or fact value for people: yes/no for booleans, words for an Unavailable."""
    if isinstance(item, Known):
        item = item.value
    if isinstance(item, bool):
        return "yes" if item else "no"
    if isinstance(item, Unavailable):
        return phrase(item)
    if isinstance(item, str):
        return P2P_STATUS.get(item) or described(item)
    return str(item)
