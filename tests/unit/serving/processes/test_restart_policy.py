"""When the supervisor starts a dead HTTP process again, and when it gives up."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvi._exceptions import ConfigurationError
from mvi.serving.processes.supervisor import (
    ProcessRestartPolicy,
    ProcessSupervisor,
    stale_metrics_dirs,
)
from mvi.serving.service import Service

POLICY = ProcessRestartPolicy(
    first_delay=0.1, max_delay=10.0, stable_after=10.0, max_start_failures=5
)


@pytest.mark.parametrize("failures", [0, 3, 20])
def test_process_that_served_for_a_while_restarts_at_once_and_forgets_failures(
    failures: int,
) -> None:
    assert POLICY.after_exit(failures, ready=True, lifetime=60.0) == (0, 0.1)


def test_delay_doubles_while_the_process_keeps_dying_young_up_to_the_cap() -> None:
    failures, delays = 0, []
    for _ in range(12):
        failures, delay = POLICY.after_exit(failures, ready=True, lifetime=1.0)
        delays.append(delay)
    assert delays[:5] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6])
    assert delays[-1] == 10.0
    assert failures == 12


def test_service_stops_after_the_fifth_failure_to_start_in_a_row() -> None:
    failures = 0
    for expected in (0.1, 0.2, 0.4, 0.8):
        failures, delay = POLICY.after_exit(failures, ready=False, lifetime=0.2)
        assert delay == pytest.approx(expected)
    assert POLICY.after_exit(failures, ready=False, lifetime=0.2) == (5, None)


def test_a_start_after_young_deaths_of_a_ready_process_can_still_give_up() -> None:
    failures, _ = POLICY.after_exit(3, ready=True, lifetime=0.5)
    assert POLICY.after_exit(failures, ready=False, lifetime=0.1) == (5, None)


@pytest.mark.parametrize("workers", [0, -1, 1.5, "2", True])
def test_serve_refuses_a_bad_number_of_processes(workers: object) -> None:
    with pytest.raises(ConfigurationError, match="workers must be a whole number >= 1"):
        Service().run(workers)  # type: ignore[arg-type]


def test_supervisor_needs_at_least_two_processes() -> None:
    with pytest.raises(ConfigurationError, match="2 or more"):
        ProcessSupervisor(Service(), 1)


def test_metrics_dirs_of_dead_supervisors_are_found_and_others_kept(tmp_path: Path) -> None:
    for name in (
        "mvi-metrics-101-abc",  # supervisor 101 is gone
        "mvi-metrics-202-def",  # supervisor 202 still runs
        "mvi-metrics-303-x_y-z",  # gone, suffix with a dash
        "mvi-metrics-old",  # no pid in the name: not ours to judge
        "other-101-abc",
    ):
        (tmp_path / name).mkdir()
    (tmp_path / "mvi-metrics-404-file").write_text("not a directory")
    stale = stale_metrics_dirs(tmp_path, alive=lambda pid: pid == 202)
    assert [p.name for p in stale] == ["mvi-metrics-101-abc", "mvi-metrics-303-x_y-z"]
