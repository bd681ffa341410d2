"""The supervision state machine and its backoff schedule, with time passed in."""

from __future__ import annotations

import pytest

from mvi._exceptions import InvalidTransition
from mvi.manager.supervision.states import (
    TRANSITIONS,
    RestartPolicy,
    Status,
    Supervision,
    readiness_of,
)

POLICY = RestartPolicy(initial=1.0, maximum=30.0, reset_after=60.0)


def fresh() -> Supervision:
    machine = Supervision(POLICY, Status.BUILDING, since=0.0)
    machine.start_requested(wall=10.0)
    return machine


@pytest.mark.parametrize(
    ("crashes", "delay"),
    [(0, 0.0), (1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (500, 30.0)],
)
def test_backoff_doubles_up_to_the_cap(crashes: int, delay: float) -> None:
    assert POLICY.delay(crashes) == delay


def test_exit_before_ever_ready_is_failed_and_not_restarted() -> None:
    machine = fresh()
    assert machine.exited(wall=11.0, monotonic=1.0, reason="exited with code 1") is None
    assert machine.status == Status.FAILED
    assert machine.since == 11.0 and machine.message == "exited with code 1"


def test_startup_timeout_before_ever_ready_is_failed() -> None:
    machine = fresh()
    assert machine.timed_out(wall=70.0, monotonic=60.0, timeout=60) is None
    assert machine.status == Status.FAILED and "not ready within 60s" in machine.message


def test_crash_after_running_restarts_with_growing_delays() -> None:
    machine = fresh()
    machine.became_ready(wall=12.0, monotonic=2.0)
    assert machine.status == Status.RUNNING and machine.since == 12.0
    delays = []
    for i in range(4):
        delays.append(machine.exited(wall=20.0 + i, monotonic=3.0 + i, reason="killed"))
        assert machine.status == Status.CRASHED
        machine.restarting(wall=21.0 + i)
        assert machine.status == Status.STARTING
    assert delays == [1.0, 2.0, 4.0, 8.0]
    assert machine.restarts == 4


def test_a_crash_while_restarting_keeps_backing_off() -> None:
    machine = fresh()
    machine.became_ready(wall=12.0, monotonic=2.0)
    assert machine.exited(wall=13.0, monotonic=3.0, reason="killed") == 1.0
    machine.restarting(wall=14.0)
    # It dies again before it is ready: still a crash (it ran before), not a failure.
    assert machine.exited(wall=15.0, monotonic=5.0, reason="exited with code 1") == 2.0
    assert machine.status == Status.CRASHED
    machine.restarting(wall=17.0)
    assert machine.timed_out(wall=80.0, monotonic=70.0, timeout=60) == 4.0


def test_backoff_resets_after_running_fine_for_a_while() -> None:
    machine = fresh()
    machine.became_ready(wall=12.0, monotonic=0.0)
    assert machine.exited(wall=13.0, monotonic=1.0, reason="x") == 1.0
    machine.restarting(wall=14.0)
    machine.became_ready(wall=15.0, monotonic=2.0)
    assert machine.exited(wall=16.0, monotonic=3.0, reason="x") == 2.0
    machine.restarting(wall=17.0)
    machine.became_ready(wall=18.0, monotonic=4.0)
    assert machine.exited(wall=99.0, monotonic=4.0 + 60.0, reason="x") == 1.0


def test_start_request_forgets_the_crash_history() -> None:
    machine = fresh()
    machine.became_ready(wall=12.0, monotonic=2.0)
    machine.exited(wall=13.0, monotonic=3.0, reason="x")
    machine.stop_requested(wall=14.0)
    assert machine.status == Status.STOPPED and machine.message == "stopped on request"
    machine.start_requested(wall=15.0)
    assert machine.crashes == 0 and not machine.established
    assert machine.exited(wall=16.0, monotonic=4.0, reason="boom") is None
    assert machine.status == Status.FAILED


def test_adopted_process_counts_as_established() -> None:
    machine = Supervision(POLICY, Status.STOPPED, since=0.0)
    machine.adopted(wall=5.0)
    assert machine.status == Status.STARTING
    assert machine.exited(wall=6.0, monotonic=1.0, reason="gone") == 1.0


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Status.STOPPED, Status.RUNNING),
        (Status.BUILDING, Status.RUNNING),
        (Status.FAILED, Status.RUNNING),
        (Status.RUNNING, Status.FAILED),
        (Status.STOPPED, Status.CRASHED),
    ],
)
def test_transitions_outside_the_table_are_refused(start: Status, target: Status) -> None:
    assert target not in TRANSITIONS[start]
    machine = Supervision(POLICY, start, since=0.0)
    with pytest.raises(InvalidTransition):
        machine._move(target, 1.0, "")


def test_every_status_has_a_way_out_except_into_itself() -> None:
    assert set(TRANSITIONS) == set(Status)
    for status, targets in TRANSITIONS.items():
        assert targets - {status}, status
        assert Status.STOPPED in targets or status == Status.STOPPED


def test_since_changes_only_with_the_status() -> None:
    machine = fresh()
    machine.became_ready(wall=12.0, monotonic=2.0)
    machine.stop_requested(wall=20.0)
    machine.stop_requested(wall=30.0)
    assert machine.since == 20.0
    assert machine.history == [Status.STARTING, Status.RUNNING, Status.STOPPED]


@pytest.mark.parametrize(
    ("web_app", "ready", "root", "verdict"),
    [
        (False, 200, None, True),
        (False, 503, None, False),
        (False, 404, None, False),
        (True, 200, None, True),
        (True, 503, None, False),
        (True, 404, None, None),
        (True, 404, 200, True),
        (True, 405, 307, True),
        (True, 404, 404, True),
        (True, 404, 500, False),
        (True, 404, 502, False),
    ],
    ids=[
        "sdk-ready",
        "sdk-draining",
        "sdk-no-route-yet",
        "web-own-ready",
        "web-own-not-ready",
        "web-ask-root",
        "web-root-200",
        "web-root-redirect",
        "web-root-404-still-answers",
        "web-root-500",
        "web-root-502",
    ],
)
def test_readiness_of_sdk_services_and_web_apps(
    web_app: bool, ready: int, root: int | None, verdict: bool | None
) -> None:
    assert readiness_of(web_app, ready, root) is verdict
