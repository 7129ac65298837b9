"""Xid events from the kernel log: journalctl's answer recorded from real lines, /dev/kmsg under a test root,
and the real device of this machine read without waiting (tests/fixtures/kernel_log/README.md names the
public page of every line)."""

import os
import time

from gpubal.doctor.collect.kernel_log import JOURNALCTL, collect_xid_events
from gpubal.model import Known, Reason, Unavailable
from gpubal.doctor.probes.files import HostFiles
from helpers import paths

FIXTURES = paths.FIXTURES / "kernel_log"
JOURNAL = (FIXTURES / "journalctl-k.txt").read_text(encoding="utf-8")
NO_ROOT = HostFiles(str(FIXTURES / "no-such-root"))


def journal_answers(text):
    """A command runner that answers journalctl's recorded output and refuses any other program."""
    def run(argv, timeout_s):
        assert tuple(argv) == JOURNALCTL and timeout_s > 0
        return text
    return run


def journalctl_missing(argv, timeout_s):
    return Unavailable(Reason.NOT_FOUND, " ".join(argv), "journalctl is not installed")


def by_code(fact):
    return {(event.pci_bus_id, event.xid): event for event in fact.value}


def test_each_gpu_and_code_is_one_event_with_its_first_line_as_logged():
    events = by_code(collect_xid_events(NO_ROOT, journal_answers(JOURNAL)))
    fallen = events[("0000:2b:00", 79)]
    assert fallen.first_line == "NVRM: Xid (PCI:0000:2b:00): 79, GPU has fallen off the bus."
    assert fallen.count == 1 and fallen.first_logged_at == "May 18 19:02:39"
    # three Xid 13 lines of one fault on one GPU are one event counted three times
    exceptions = events[("0000:43:00", 13)]
    assert exceptions.count == 3
    assert (exceptions.first_logged_at, exceptions.last_logged_at) == ("[93297.027938]", "[93297.031618]")
    assert exceptions.processes == ()  # pid='<unknown>' names no process
    assert events[("0000:cb:00", 109)].processes == ("pt_main_thread (pid 1797828)",)
    assert events[("0000:dc:00", 45)].processes == ("python3 (pid 1818990)",)  # two lines, one process
    assert events[("0000:10:00", 79)].processes == ()  # pid=0 is the kernel, not a program
    assert events[("0000:07:00", 48)].first_logged_at == "Dec  2 11:38:47"
    assert ("0000:00:00", 149) in events and len(events) == 9


def test_lines_that_are_no_xid_are_not_events():
    text = "May 18 19:02:39 kernel: NVRM: GPU 0000:2b:00.0: GPU has fallen off the bus.\n"
    assert collect_xid_events(NO_ROOT, journal_answers(text)) == Known([], " ".join(JOURNALCTL))


def test_a_journal_without_kernel_messages_is_no_answer_and_kmsg_is_read():
    # what journalctl says in a container without a journal: not "no Xid", as a host always logs at boot
    for answer in ("No journal files were found.\n-- No entries --\n",
                   Unavailable(Reason.ERROR, " ".join(JOURNALCTL), "exit status 1: -- No entries --")):
        fact = collect_xid_events(HostFiles(str(FIXTURES / "root-kmsg")), lambda argv, timeout_s: answer)
        assert fact.source.startswith("/dev/kmsg"), answer


def test_journalctl_that_may_not_read_the_system_falls_back_to_kmsg():
    hint = ("Hint: You are currently not seeing messages from other users and the system.\n"
            "      Users in groups 'adm', 'systemd-journal' can see all messages.\n-- No entries --\n")
    fact = collect_xid_events(HostFiles(str(FIXTURES / "root-kmsg")), journal_answers(hint))
    assert fact.source.startswith("/dev/kmsg")
    assert [(event.pci_bus_id, event.xid) for event in fact.value] == [("0000:01:00", 3), ("0000:03:00", 79)]


def test_kmsg_records_give_seconds_since_boot_and_say_the_buffer_wrapped():
    fact = collect_xid_events(HostFiles(str(FIXTURES / "root-kmsg")), journalctl_missing)
    fallen = by_code(fact)[("0000:03:00", 79)]
    assert fallen.first_logged_at == "5107.644336 s after boot"
    assert fallen.first_line == "NVRM: Xid (PCI:0000:03:00): 79, GPU has fallen off the bus.)"
    assert "older lines were overwritten" in fact.source


def test_neither_readable_is_unavailable_naming_both_and_root(tmp_path):
    hint = "Hint: You are currently not seeing messages from the system.\n-- No entries --\n"
    fact = collect_xid_events(HostFiles(str(tmp_path)), journal_answers(hint))  # and no /dev/kmsg there
    assert isinstance(fact, Unavailable) and fact.reason is Reason.NO_PERMISSION
    assert "journalctl" in fact.detail and "/dev/kmsg" in fact.detail and "root" in fact.detail


def test_this_machines_journalctl_answers_or_says_why_not_in_time():
    from gpubal.doctor.probes.commands import run_command

    started = time.monotonic()
    fact = collect_xid_events(HostFiles("/"), run_command)
    assert time.monotonic() - started < 10
    assert isinstance(fact, Known) or fact.reason in (Reason.NO_PERMISSION, Reason.NOT_FOUND, Reason.ERROR,
                                                      Reason.TIMEOUT)


def test_a_replay_without_a_recorded_ring_buffer_holds_no_kernel_log():
    replay = lambda argv, timeout_s: Unavailable(Reason.NOT_IN_INPUT, " ".join(argv), "not run: a replay")
    assert collect_xid_events(NO_ROOT, replay).reason is Reason.NOT_IN_INPUT


def test_a_fifo_planted_at_dev_kmsg_is_not_read(tmp_path):
    (tmp_path / "dev").mkdir()
    os.mkfifo(tmp_path / "dev" / "kmsg")  # opening it to read would wait for a writer without O_NONBLOCK
    started = time.monotonic()
    answer = HostFiles(str(tmp_path)).read_kernel_log("/dev/kmsg")
    assert isinstance(answer, Unavailable) and "not read" in answer.detail
    assert time.monotonic() - started < 1


def test_this_machines_kmsg_is_read_without_waiting():
    """The real device: its records, or why not (dmesg_restrict, a container without it). Never a wait: a
    blocking read would wait for the next kernel message."""
    started = time.monotonic()
    answer = HostFiles("/").read_kernel_log("/dev/kmsg")
    assert time.monotonic() - started < 5
    assert isinstance(answer, list) or answer.reason in (Reason.NO_PERMISSION, Reason.NOT_FOUND, Reason.ERROR)


def test_a_character_device_other_than_the_kernel_log_is_not_read(tmp_path):
    # /dev/null is a character device like /dev/kmsg (a container may put it, or a console, at that name)
    answer = HostFiles("/").read_kernel_log("/dev/null")
    assert isinstance(answer, Unavailable) and answer.reason is Reason.NOT_FOUND
    assert "1:3" in answer.detail and "1:11" in answer.detail


def test_a_hostile_line_is_read_in_linear_time():
    from gpubal.doctor.ingest.kernel_log import parse_xid_lines

    started = time.monotonic()
    events = parse_xid_lines([("", "NVRM: Xid (PCI:0000:2b:00): " + "9" * 1_000_000 + ", x"),
                              ("", "NVRM: Xid (PCI:0000:2b:00): 79, pid=" + "," * 1_000_000),
                              ("", "NVRM: Xid (PCI:0000:2b:00): 79, pid=1, name=" + "a" * 1_000_000)])
    assert time.monotonic() - started < 2
    assert [(event.xid, event.count) for event in events] == [(79, 2)]
    assert len(events[0].first_line) == 500  # kept to quote, bounded; the count says how many


def test_a_kmsg_that_answers_no_record_is_no_answer(tmp_path):
    """Some containers map /dev/kmsg to /dev/null: a kernel's ring buffer always holds its boot lines, so
    no record at all is no kernel log, not "no Xid since boot"."""
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "kmsg").symlink_to("/dev/null")
    fact = collect_xid_events(HostFiles(str(tmp_path)), journalctl_missing)
    assert isinstance(fact, Unavailable) and fact.reason is Reason.NOT_FOUND
    assert "/dev/kmsg" in fact.detail
