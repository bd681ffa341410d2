"""The gate that keeps a fork from landing in the middle of database work."""

from __future__ import annotations

import threading

from mvi.monitoring._forkgate import ForkGate


def test_operations_nest_and_count_once() -> None:
    gate = ForkGate()
    with gate.operation():
        with gate.operation():
            assert gate.active == 1
        assert gate.active == 1
    assert gate.active == 0
    assert gate.close_for_fork(0)


def test_closing_for_a_fork_waits_for_running_work_and_holds_new_work_back() -> None:
    gate = ForkGate()
    inside, leave = threading.Event(), threading.Event()
    later_ran = threading.Event()

    def running() -> None:
        with gate.operation():
            inside.set()
            leave.wait(10)

    def later() -> None:
        with gate.operation():
            later_ran.set()

    first = threading.Thread(target=running)
    first.start()
    assert inside.wait(10)
    assert not gate.close_for_fork(0.05)  # still busy
    leave.set()
    assert gate.close_for_fork(10)
    second = threading.Thread(target=later)
    second.start()
    assert not later_ran.wait(0.1)  # held back while the fork happens
    gate.reopen()
    assert later_ran.wait(10)
    first.join(10)
    second.join(10)
