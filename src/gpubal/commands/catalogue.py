"""`gpubal rules` and `gpubal explain` without the command line: the catalogue of verdicts, as text."""

from __future__ import annotations

from ..sources import InputError


def rules_listing(output_format: str) -> str:
    """Every rule: one line each (terminal), or the documentation as JSON or Markdown."""
    from ..rules import RENAMED, all_rules

    if output_format == "json":
        from ..reports.rules_doc import render_rules_json

        return render_rules_json(all_rules(), RENAMED)
    if output_format == "markdown":
        from ..reports.rules_doc import render_rules_markdown

        return render_rules_markdown(all_rules(), RENAMED)
    return "".join(f"{rule.id:<36} {rule.area:<9} {rule.scope:<9} {rule.summary}\n" for rule in all_rules())


def explanation(rule_id: str) -> str:
    """A rule's documentation, or InputError naming the closest id."""
    from ..rules import RENAMED, find_rule

    found = find_rule(rule_id)
    if found is None:
        from ..doctor.policy import known_rule_ids
        from .doctor import did_you_mean

        raise InputError(f"no rule {rule_id!r}{did_you_mean(rule_id, known_rule_ids())}; `gpubal rules` lists them")
    renamed = f"({rule_id} is now {found.id})\n\n" if rule_id in RENAMED else ""
    return f"{renamed}{found.id} ({found.area}): {found.summary}\n\n{found.documentation}\n"
