"""common.background: a call in a thread of its own, its answer or its exception fetched later."""

from __future__ import annotations

import threading

import pytest

from gpubal.common.background import Background, all_results


def test_the_answer_comes_back():
    assert Background(lambda a, b: a + b, 2, 3).result() == 5


def test_an_exception_is_raised_in_the_callers_thread():
    def fails():
        raise KeyError("in the thread")

    with pytest.raises(KeyError, match="in the thread"):
        Background(fails).result()


def test_a_call_still_running_is_a_timeout():
    release = threading.Event()
    running = Background(release.wait, 30, daemon=True)
    with pytest.raises(TimeoutError):
        running.result(timeout=0.05)
    release.set()
    assert running.result() is True


def test_all_results_waits_for_every_call_before_raising_the_first_failure_in_order():
    release, finished = threading.Event(), []

    def slow():
        release.wait(30)
        finished.append("slow")
        return "slow"

    def fails():
        release.set()
        raise ValueError("second")

    with pytest.raises(ValueError, match="second"):
        all_results([Background(slow), Background(fails)])
    assert finished == ["slow"]
