"""The fleet's decisions without I/O: what each operation may do to a version, which port a
new version gets, and what the recovery does with each version it finds at start."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from mvi._exceptions import (
    DeployInProgress,
    ForceRequired,
    InvalidArgument,
    ManagerError,
    NotRunning,
    OperationRefused,
    RollbackConflict,
    UnknownService,
)
from mvi.manager.fleet.rules import (
    RecoveryStep,
    check_assignable,
    check_percent,
    check_removable,
    check_shadowable,
    check_startable,
    choose_port,
    kill_order,
    kill_target,
    needs_start,
    ports_in_use,
    recovery_steps,
    rollback_target,
)
from mvi.manager.registry import RollbackPlan, ServiceVersion
from mvi.manager.supervision.states import Status

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def version(
    number: str = "1.0.0",
    *,
    main: bool = False,
    status: Status = Status.RUNNING,
    desired: str = "running",
    env_key: str | None = "env1",
    environment: dict[str, str] | None = None,
) -> ServiceVersion:
    """A registry row made in memory (no database)."""
    return ServiceVersion(
        name="hello",
        version=number,
        is_main=main,
        status=str(status),
        status_since=T0,
        desired=desired,
        env_key=env_key,
        deployed_at=T0,
        environment=environment or {},
    )


# -- start, assign, shadows --------------------------------------------------------------------
LINK = {"MVI_SERVICE_KIND": "link"}


@pytest.mark.parametrize(
    ("environment", "enabled"),
    [({}, True), ({}, False), (LINK, False), (LINK, None), ({"MVI_SERVICE_KIND": "http"}, True)],
)
def test_shadows_may_be_set_except_on_for_a_link_service(
    environment: dict[str, str], enabled: bool | None
) -> None:
    check_shadowable(version(environment=environment), enabled)


def test_a_link_service_cannot_be_a_shadow() -> None:
    with pytest.raises(OperationRefused, match=r"is a link service.*mvi assign") as raised:
        check_shadowable(version(environment=LINK), True)
    assert raised.value.status_code == 403


@pytest.mark.parametrize("status", [s for s in Status if s != Status.BUILDING])
def test_a_built_version_may_be_started(status: Status) -> None:
    check_startable(version(status=status))


def test_a_version_still_being_deployed_cannot_be_started() -> None:
    with pytest.raises(DeployInProgress, match="still being deployed; wait for it") as raised:
        check_startable(version(status=Status.BUILDING))
    assert raised.value.status_code == 409


@pytest.mark.parametrize(
    ("status", "supervised", "restart", "expected"),
    [
        (Status.RUNNING, True, False, False),  # already runs: nothing to do
        (Status.RUNNING, True, True, True),
        (Status.RUNNING, False, False, True),  # recorded running, but nobody watches it
        (Status.STARTING, True, False, True),
        (Status.CRASHED, True, False, True),
        (Status.STOPPED, False, False, True),
        (Status.FAILED, False, False, True),
    ],
)
def test_a_start_does_something_unless_the_version_runs_supervised(
    status: Status, supervised: bool, restart: bool, expected: bool
) -> None:
    row = version(status=status)
    assert needs_start(row, supervised=supervised, restart=restart) is expected


def test_a_running_version_may_become_the_main() -> None:
    check_assignable(version(status=Status.RUNNING))


@pytest.mark.parametrize("status", [s for s in Status if s != Status.RUNNING])
def test_only_a_running_version_may_become_the_main(status: Status) -> None:
    with pytest.raises(NotRunning) as raised:
        check_assignable(version("1.1.0", status=status))
    assert raised.value.status_code == 409
    assert f"hello 1.1.0 is {status}" in raised.value.message
    assert "`mvi start hello 1.1.0`" in raised.value.message


@pytest.mark.parametrize("percent", [None, 0, 1, 50, 100])
def test_a_shadow_share_is_a_percentage(percent: int | None) -> None:
    check_percent(percent)


@pytest.mark.parametrize("percent", [-1, 101, 1000])
def test_a_shadow_share_outside_0_to_100_is_refused(percent: int) -> None:
    with pytest.raises(InvalidArgument, match=f"not {percent}") as raised:
        check_percent(percent)
    assert raised.value.status_code == 422


# -- rollback ----------------------------------------------------------------------------------
def test_a_rollback_goes_to_the_previous_main_when_it_runs() -> None:
    previous = version("1.0.0")
    assert rollback_target("hello", RollbackPlan(current="1.1.0", target=previous)) is previous


@pytest.mark.parametrize(
    ("gone", "said"),
    [([], "hello has no previous main to return to; its main is 1.1.0"), (["1.0.5"], "1.0.5")],
)
def test_a_rollback_without_a_previous_main_is_a_conflict(gone: list[str], said: str) -> None:
    with pytest.raises(RollbackConflict) as raised:
        rollback_target("hello", RollbackPlan(current="1.1.0", gone=gone))
    assert raised.value.status_code == 409 and said in raised.value.message
    assert "`mvi assign hello VERSION`" in raised.value.message


def test_a_rollback_to_a_previous_main_that_is_down_is_refused() -> None:
    plan = RollbackPlan(current="1.1.0", target=version("1.0.0", status=Status.STOPPED))
    with pytest.raises(NotRunning, match=re.escape("The previous main, hello 1.0.0, is stopped")):
        rollback_target("hello", plan)


# -- kill --------------------------------------------------------------------------------------
def test_killing_a_name_with_nothing_deployed_is_unknown() -> None:
    for refuse in (lambda: kill_target("hello", [], None), lambda: kill_order("hello", [])):
        with pytest.raises(UnknownService, match="No service named 'hello' is deployed"):
            refuse()


def test_killing_an_unknown_version_names_the_deployed_ones() -> None:
    rows = [version("1.0.0", main=True), version("2.0.0")]
    with pytest.raises(
        UnknownService, match=re.escape("no version '9.9.9'; deployed: 1.0.0, 2.0.0")
    ):
        kill_target("hello", rows, "9.9.9")


def test_a_kill_without_a_version_removes_the_main_when_it_is_alone() -> None:
    only = version("1.0.0", main=True)
    assert kill_target("hello", [only], None, force=True) is only


def test_a_version_that_is_not_the_main_may_be_killed() -> None:
    rows = [version("1.0.0", main=True), version("2.0.0")]
    assert kill_target("hello", rows, "2.0.0") is rows[1]


@pytest.mark.parametrize("named", [None, "1.0.0"])
def test_the_main_cannot_be_killed_while_other_versions_exist(named: str | None) -> None:
    rows = [version("1.0.0", main=True), version("1.1.0"), version("2.0.0")]
    with pytest.raises(OperationRefused) as raised:
        kill_target("hello", rows, named)
    assert raised.value.status_code == 403
    assert "other versions of hello exist (1.1.0, 2.0.0)" in raised.value.message
    assert "`mvi kill hello --all`" in raised.value.message


def test_killing_every_version_removes_the_main_last() -> None:
    rows = [version("1.0.0"), version("1.1.0", main=True), version("2.0.0")]
    assert [r.version for r in kill_order("hello", rows, force=True)] == ["1.0.0", "2.0.0", "1.1.0"]


@pytest.mark.parametrize(
    "rows", [[version("1.0.0", main=True)], [version("1.0.0", main=True), version("2.0.0")]]
)
def test_killing_every_version_needs_force(rows: list[Any]) -> None:
    with pytest.raises(ForceRequired) as raised:
        kill_order("hello", rows)
    assert raised.value.status_code == 409
    assert "DELETE /api/services/hello?all=true&force=true" in raised.value.message


@pytest.mark.parametrize("named", [None, "1.0.0"])
def test_the_last_version_goes_only_with_force(named: str | None) -> None:
    rows = [version("1.0.0", main=True)]
    with pytest.raises(ForceRequired, match=re.escape("force=true")) as raised:
        kill_target("hello", rows, named)
    assert "is the last version of hello" in raised.value.message
    assert kill_target("hello", rows, named, force=True) is rows[0]


def test_a_version_being_deployed_cannot_be_removed() -> None:
    row = version("1.0.0")
    check_removable(row, {"hello_2.0.0"})
    with pytest.raises(DeployInProgress, match=re.escape("hello 1.0.0 is being deployed")):
        check_removable(row, {"hello_1.0.0"})


def test_every_refusal_is_a_manager_error_with_its_status() -> None:
    for error, status in [
        (DeployInProgress, 409),
        (NotRunning, 409),
        (RollbackConflict, 409),
        (InvalidArgument, 422),
        (OperationRefused, 403),
        (ForceRequired, 409),
        (UnknownService, 404),
    ]:
        assert issubclass(error, ManagerError) and error("x").status_code == status


# -- ports -------------------------------------------------------------------------------------
def test_the_ports_in_use_are_the_registered_the_supervised_and_the_managers() -> None:
    assert ports_in_use({4001, 4002}, {4002, 4003}, 8000) == {4001, 4002, 4003, 8000}


@pytest.mark.parametrize(
    ("offers", "taken", "chosen"),
    [([5000], set(), 5000), ([5000, 5001, 5002], {5000, 5001}, 5002), ([8000, 5000], {8000}, 5000)],
)
def test_a_new_version_gets_the_first_offered_port_not_taken(
    offers: list[int], taken: set[int], chosen: int
) -> None:
    assert choose_port(offers, taken) == chosen


def test_no_port_is_chosen_when_every_offer_is_taken() -> None:
    with pytest.raises(RuntimeError, match="no free port found after 3 tries"):
        choose_port([1, 2, 3], {1, 2, 3})


# -- recovery ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "desired", "found", "steps"),
    [
        (Status.RUNNING, "running", True, (RecoveryStep.ADOPT,)),
        (Status.STARTING, "running", True, (RecoveryStep.ADOPT,)),
        (Status.CRASHED, "running", True, (RecoveryStep.ADOPT,)),
        (Status.RUNNING, "running", False, (RecoveryStep.RESTART,)),
        (Status.CRASHED, "running", False, (RecoveryStep.RESTART,)),
        (Status.STOPPED, "running", False, (RecoveryStep.RESTART,)),
        # failed: it stays down until an operator starts it
        (Status.FAILED, "running", False, ()),
        (Status.FAILED, "running", True, (RecoveryStep.TERMINATE,)),
        # asked to stop: what still runs is stopped, and the registry says so
        (Status.STOPPED, "stopped", False, ()),
        (Status.STOPPED, "stopped", True, (RecoveryStep.TERMINATE,)),
        (Status.RUNNING, "stopped", True, (RecoveryStep.TERMINATE, RecoveryStep.RECORD_STOPPED)),
        (Status.RUNNING, "stopped", False, (RecoveryStep.RECORD_STOPPED,)),
        (Status.CRASHED, "stopped", False, (RecoveryStep.RECORD_STOPPED,)),
    ],
)
def test_recovery_decides_from_the_registry_row_and_the_process_found(
    status: Status, desired: str, found: bool, steps: tuple[RecoveryStep, ...]
) -> None:
    row = version(status=status, desired=desired)
    assert recovery_steps(row, environment_built=True, process_found=found) == steps


@pytest.mark.parametrize("found", [True, False])
def test_a_version_whose_deploy_was_cut_short_is_discarded(found: bool) -> None:
    row = version(status=Status.BUILDING, env_key=None)
    for built in (True, False):
        steps = recovery_steps(row, environment_built=built, process_found=found)
        assert steps == (RecoveryStep.DISCARD,)


@pytest.mark.parametrize("desired", ["running", "stopped"])
def test_a_version_whose_environment_is_missing_is_rebuilt_first(desired: str) -> None:
    row = version(desired=desired)
    steps = recovery_steps(row, environment_built=False, process_found=True)
    assert steps == (RecoveryStep.REBUILD,)
