"""Less noise by default: findings come first, passed checks are one line (listed with -v), and one
problem on many GPUs with one fix is one entry, not a screen per GPU."""

from __future__ import annotations

import io

from rich.console import Console

from gpubal.doctor.engine import evaluate
from gpubal.reports.terminal import render_terminal
from gpubal.rules import all_rules

from helpers import known, real_snapshot, with_gpu
from helpers.cli import H200X2, gpubal
from helpers.goldens import replays_and_persistence_off_on_eight_gpus


def _text(report, verbose: bool = False) -> str:
    buffer = io.StringIO()
    render_terminal(report, Console(file=buffer, width=100, no_color=True, highlight=False), verbose=verbose)
    return buffer.getvalue()


def _persistence_off_on_eight_gpus():
    snapshot = real_snapshot("hgx8-h100-nvswitch")
    for index in range(8):
        snapshot = with_gpu(snapshot, index, persistence_mode=known(False))
    return evaluate(snapshot, all_rules())


def test_one_problem_on_eight_gpus_is_one_entry():
    text = _text(_persistence_off_on_eight_gpus())
    assert text.count("persistence-mode-off") == 1
    assert "WARNING persistence-mode-off  gpu:0, gpu:1, gpu:2, gpu:3, gpu:4, gpu:5, gpu:6, gpu:7" in text
    assert "(the same on the other 7, with their own evidence: -v shows each)" in text
    assert text.count("$ sudo systemctl enable --now nvidia-persistenced") == 1
    assert "Findings: 0 errors, 9 warnings, 0 info" in text  # the count still counts each GPU


def test_verbose_shows_each_gpu():
    text = _text(_persistence_off_on_eight_gpus(), verbose=True)
    assert text.count("  WARNING persistence-mode-off  gpu:") == 8


def test_findings_come_before_the_tables_and_passed_checks_are_one_line():
    result = gpubal("doctor", *H200X2)
    text = result.stdout
    assert text.index("Findings:") < text.index("GPUs:") < text.index("Passed:")
    passed = text.split("Passed:", 1)[1].split("\n\n", 1)[0]
    assert passed.strip().endswith("(-v lists them)") and "\n" not in passed.strip()
    listed = gpubal("doctor", *H200X2, "-v").stdout.split("Passed:", 1)[1].split("\n\n", 1)[0]
    assert "  ok  persistence-mode-off (gpu:0, gpu:1)" in listed


def test_checks_that_missed_one_fact_name_each_rule_once():
    import re

    text = _text(evaluate(real_snapshot("hgx8-h100-nvswitch"), all_rules()))
    ollama = text.split("  --  ollama:", 1)[1]
    count = int(re.search(r"needed by (\d+) checks:", ollama).group(1))
    assert count >= 14  # the count still counts each (rule, GPU): 8 GPUs for ollama-gpu-unsupported alone
    needed = " ".join(ollama.split("checks:", 1)[1].split("\n  --")[0].split("\n\n")[0].split())
    assert needed.count("ollama-gpu-unsupported") == 1
    assert "ollama-gpu-unsupported (gpu:0, gpu:1, gpu:2, gpu:3, gpu:4, gpu:5, gpu:6, gpu:7)" in needed


# --- Markdown and HTML: one entry per group, every finding still in it -----------------------------------

def test_markdown_groups_one_problem_on_eight_gpus_and_keeps_each_finding():
    from gpubal.reports.markdown import render_markdown

    text = render_markdown(replays_and_persistence_off_on_eight_gpus())
    findings = text.split("### Findings", 1)[1].split("### Topology", 1)[0]
    assert findings.count("#### ") == 3  # the driver's end of life, then one entry per problem
    assert "#### 3. WARNING `persistence-mode-off` · 8 GPUs" in findings
    assert ("| 3 | WARNING | `persistence-mode-off` | `gpu:0`, `gpu:1`, `gpu:2`, `gpu:3`, `gpu:4`, `gpu:5`, `gpu:6`, "
            "`gpu:7` |") in findings
    assert "| Subject | Message | `persistence_mode` | `driver.persistenced_running` |" in findings
    for index in range(8):
        assert (f"| `gpu:{index}` | Persistence is off on GPU {index}: the driver re-initialises it for every new "
                f"program | `no` | `yes` |") in findings
        # each GPU's own count, uncut, and its own command (the commands differ, so each is shown)
        assert f"| `gpu:{index}` | GPU {index} PCIe link retransmitted 1000000{index} packets" in findings
        assert f"| `1000000{index}` | `86400` |" in findings
        assert f"For `gpu:{index}`:\n\n```sh\nnvidia-smi -q -d PCIE -i {index}\n```" in findings
    # what every GPU's fix has in common is said once, where the fix says it: after each GPU's own
    assert "For `gpu:7`:\n\n```sh\nnvidia-smi -q -d PCIE -i 7\n```\n\nThen, once for all 8:\n\n```sh\n" \
           "sudo dmesg | grep -iE 'AER|Xid'\n```" in findings
    assert findings.count("sudo dmesg") == 1
    assert findings.count("sudo systemctl enable --now nvidia-persistenced") == 1  # the same for all: once
    assert "0 errors, 17 warnings, 0 info" in text  # the counts still count each GPU


def test_html_groups_one_problem_on_eight_gpus_and_keeps_each_finding():
    from gpubal.reports.html import render_html

    page = render_html(replays_and_persistence_off_on_eight_gpus())
    assert page.count("<article class=\"finding") == 3
    before, persistence = page.split('<code class="rule">persistence-mode-off</code>', 1)
    persistence = persistence.split("</article>", 1)[0]
    assert 'data-count="8"' in before.rsplit("<article", 1)[1]  # the filter's count counts each GPU
    for index in range(8):
        assert (f'<th scope="row" class="mono">gpu:{index}</th><td data-label="Message">Persistence is off on '
                f'GPU {index}:') in persistence
    assert persistence.count("<td class=\"mono\" data-label=\"persistence_mode\">no</td>") == 8
    assert persistence.count("sudo systemctl enable --now nvidia-persistenced") == 1
    replays = page.split('<code class="rule">pcie-replay-errors</code>', 1)[1].split("</article>", 1)[0]
    for index in range(8):
        assert f'<td class="mono" data-label="pcie_replay_count">1000000{index}</td>' in replays
        assert replays.count(f"<code>nvidia-smi -q -d PCIE -i {index}</code>") == 1
    assert replays.count("<code>sudo dmesg | grep -iE &#39;AER|Xid&#39;</code>") == 1  # the same for all: once
    assert replays.index("For <span class=\"mono\">gpu:7</span>") < replays.index("Then, once for all 8:") \
        < replays.index("sudo dmesg")


def test_a_group_whose_evidence_differs_in_shape_keeps_every_key():
    from gpubal.model import Finding, Fix, Severity
    from gpubal.reports.context import _finding_group

    fix = Fix("Do the thing", ("thing --all",))
    group = _finding_group([
        Finding("some-rule", Severity.INFO, "gpu:0", "zero", {"gpu:0.a": 1, "host.b": 2}, fix),
        Finding("some-rule", Severity.INFO, "gpu:1", "one", {"gpu:1.a": 3, "gpu:0.c": 4}, fix),
    ], 1, {})
    assert group.evidence_keys == ()  # no common columns: each row lists its own keys
    assert [row.evidence for row in group.rows] == [(("a", 1), ("host.b", 2)), (("a", 3), ("gpu:0.c", 4))]
    assert group.message == "" and group.overview == "zero (and 1 more like it, each below)"
    assert group.same_commands


def test_a_key_that_would_read_like_another_stays_whole():
    from gpubal.model import Finding, Fix, Severity
    from gpubal.reports.context import _finding_group

    fix = Fix("Do the thing")
    group = _finding_group([
        Finding("some-rule", Severity.INFO, "gpu:0", "zero", {"gpu:0.a": 1, "a": 2}, fix),
        Finding("some-rule", Severity.INFO, "gpu:1", "one", {"gpu:1.a": 3, "a": 4}, fix),
    ], 1, {})
    assert [row.evidence for row in group.rows] == [(("gpu:0.a", 1), ("a", 2)), (("gpu:1.a", 3), ("a", 4))]
    assert group.evidence_keys == ()  # the keys differ per row: each row lists its own


def test_junit_keeps_one_testcase_per_gpu():
    from gpubal.reports.junit import render_junit

    xml = render_junit(replays_and_persistence_off_on_eight_gpus())
    for index in range(8):
        assert f'name="persistence-mode-off [gpu:{index}]"' in xml
    assert xml.count('<failure type="warning"') == 17


def test_an_ignored_rule_leaves_one_line_per_rule_in_every_report():
    # --ignore on both GPUs: the terminal counts it (and -v names it), Markdown and HTML list the rule once
    # with its subjects, not once per GPU
    terminal = gpubal("doctor", "--snapshot", "example", "--ignore", "persistence-mode-off").stdout
    assert "Does not apply: 4 checks of 2 rules (-v lists them)" in terminal
    listed = gpubal("doctor", "--snapshot", "example", "--ignore", "persistence-mode-off", "-v").stdout
    assert "  ..  persistence-mode-off (gpu:0, gpu:1): ignored on the command line (--ignore)" in listed
    markdown = gpubal("doctor", "--snapshot", "example", "--ignore", "persistence-mode-off", "-f", "markdown").stdout
    assert markdown.count("- `persistence-mode-off` (gpu:0, gpu:1) does not apply: ignored on the command line "
                          "(--ignore)") == 1
    page = gpubal("doctor", "--snapshot", "example", "--ignore", "persistence-mode-off", "-f", "html").stdout
    assert page.count("<li><code>persistence-mode-off</code> <span class=\"muted\">(gpu:0, gpu:1)</span> does not "
                      "apply: ignored on the command line (--ignore)</li>") == 1


def test_a_group_with_its_own_keys_per_row_shows_every_key_and_value_in_markdown_and_html():
    import dataclasses

    from gpubal.model import Finding, Fix, Outcome, RuleResult, Severity
    from gpubal.reports.html import render_html
    from gpubal.reports.markdown import render_markdown

    fix = Fix("Do the thing", ("thing --all",))
    report = _persistence_off_on_eight_gpus()
    odd = [Finding("some-rule", Severity.ERROR, "gpu:0", "zero <b>", {"gpu:0.a": 1, "host.b": "x|y"}, fix),
           Finding("some-rule", Severity.ERROR, "gpu:1", "one", {"gpu:1.a": 3, "gpu:0.c": 4}, fix)]
    report = dataclasses.replace(report, results=report.results + tuple(
        RuleResult("some-rule", f.subject, Outcome.FINDING, (f,)) for f in odd))
    markdown = render_markdown(report, redact=False)
    assert "| Subject | Message | Evidence |" in markdown
    assert "| `gpu:0` | zero &lt;b&gt; | `a` = `1`; `host.b` = `x\\|y` |" in markdown
    assert "| `gpu:1` | one | `a` = `3`; `gpu:0.c` = `4` |" in markdown
    page = render_html(report, redact=False)
    assert ('<td class="mono" data-label="Evidence"><div>a = 1</div><div>host.b = x|y</div></td>' in page)
    assert "<td data-label=\"Message\">zero &lt;b&gt;</td>" in page


def test_commands_shared_at_the_start_and_the_end_are_said_once_in_their_place():
    from gpubal.model import Finding, Fix, Severity
    from gpubal.reports.context import _finding_group

    def fix(index):
        return Fix("Drain, reset, check", ("drain --all", f"reset -i {index}", f"check -i {index}", "undrain --all"))

    group = _finding_group([Finding("some-rule", Severity.ERROR, f"gpu:{index}", "m", {}, fix(index))
                            for index in range(3)], 1, {})
    assert group.commands_first == ("drain --all",) and group.commands_last == ("undrain --all",)
    assert [row.commands for row in group.rows] == [(f"reset -i {i}", f"check -i {i}") for i in range(3)]
    assert not group.same_commands
    same = _finding_group([Finding("some-rule", Severity.ERROR, f"gpu:{index}", "m", {}, Fix("x", ("a", "b")))
                           for index in range(3)], 1, {})
    assert same.same_commands and same.commands_first == ("a", "b") and same.commands_last == ()


def test_the_terminal_groups_findings_whose_commands_name_their_gpu():
    # PCIe replays on 8 GPUs: one entry; each GPU's own command marked with its subject (a shell comment,
    # so the line still runs when copied), the command the same for all once, where the fix puts it
    text = _text(replays_and_persistence_off_on_eight_gpus())
    assert text.count("WARNING pcie-replay-errors  gpu:0, gpu:1, gpu:2, gpu:3, gpu:4, gpu:5, gpu:6, gpu:7") == 1
    commands = text.split("WARNING pcie-replay-errors", 1)[1].split("docs:", 1)[0]
    expected = [f"      $ nvidia-smi -q -d PCIE -i {index}  # gpu:{index}" for index in range(8)]
    expected.append("      $ sudo dmesg | grep -iE 'AER|Xid'")
    assert [line for line in commands.splitlines() if line.startswith("      $ ")] == expected
    verbose = _text(replays_and_persistence_off_on_eight_gpus(), verbose=True)
    assert verbose.count("WARNING pcie-replay-errors  gpu:") == 8 and "# gpu:" not in verbose
