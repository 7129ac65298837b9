"""docs/rules.md: every rule's documentation, rendered from the same docstrings that `gpubal rules` and
`gpubal explain` print (`gpubal rules --markdown > docs/rules.md`; a test fails when the file drifts).

A renderer like the others: the command line hands it the rules (objects with id, area, scope, summary,
documentation and policy_key) and the renamed ids; it imports neither the rules nor the doctor."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence

Rule = Any  # gpubal.rules.Rule, by its attributes: a renderer does not import the rules


def render_rules_markdown(rules: Sequence[Rule], renamed: Mapping[str, str]) -> str:
    policy_checks = [rule for rule in rules if rule.policy_key]
    by_area: Dict[str, List[Rule]] = {}
    for rule in rules:
        by_area.setdefault(rule.area, []).append(rule)
    lines = [
        "# gpubal rules",
        "",
        "<!-- Generated from the rules' docstrings by `gpubal rules --markdown > docs/rules.md`; do not edit. -->",
        "",
        f"{len(rules)} rules. `gpubal rules` lists them; `gpubal explain ID` prints one. Each finding names its rule;",
        "a site policy (`--policy`, see [ci.md](ci.md)) can skip a rule or re-grade its findings. Rules of scope",
        "`balance` judge what `gpubal balance` sampled; the others judge a host's snapshot (`gpubal doctor`).",
        "",
        "| Rule | Area | What it checks |",
        "|---|---|---|",
    ]
    lines += [f"| [`{rule.id}`](#{rule.id}) | {rule.area} | {rule.summary} |" for rule in rules]
    for area in sorted(by_area):
        lines += ["", f"## {area}"]
        for rule in by_area[area]:
            lines += ["", f"### {rule.id}", "", f"*{rule.summary}* (scope: {rule.scope})", ""]
            section = ""
            for line in rule.documentation.splitlines():
                if line and not line[0].isspace():
                    section = line.strip()
                    lines += ([""] if lines[-1] != "" else []) + [f"**{section}**", ""]
                elif section == "References" and line.strip():
                    lines.append(f"- <{line.strip()}>" if line.strip().startswith("https://") else f"- {line.strip()}")
                else:
                    lines.append(line.strip())
            while lines[-1] == "":
                lines.pop()
    lines += ["", "## Site policy checks", "",
              "These run only with `--policy FILE`, for the keys the policy's `[expect]` table sets. A mismatch is",
              "an error finding that says \"actual X, expected Y\" (re-grade it under `[rules.severity]`).", "",
              "| Check | Policy key | What it checks |", "|---|---|---|"]
    lines += [f"| [`{rule.id}`](#{rule.id}) | `{rule.policy_key}` | {rule.summary} |" for rule in policy_checks]
    if renamed:
        lines += ["", "## Renamed rules", "", "| Old id | Now |", "|---|---|"]
        lines += [f"| `{old}` | [`{new}`](#{new}) |" for old, new in sorted(renamed.items())]
    return "\n".join(lines) + "\n"


RULES_JSON_SCHEMA_VERSION = 1


def render_rules_json(rules: Sequence[Rule], renamed: Mapping[str, str]) -> str:
    """`gpubal rules --format json`: the same catalogue for programs (policy checks and renamed ids included)."""
    import json

    catalogue = {
        "schema_version": RULES_JSON_SCHEMA_VERSION,
        "rules": [{"id": rule.id, "area": rule.area, "scope": rule.scope, "summary": rule.summary,
                   "documentation": rule.documentation} for rule in rules],
        "policy_checks": [{"id": rule.id, "policy_key": rule.policy_key, "summary": rule.summary}
                          for rule in rules if rule.policy_key],
        "renamed": dict(sorted(renamed.items())),
    }
    return json.dumps(catalogue, indent=2) + "\n"
