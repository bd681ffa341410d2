"""Which version is a name's main, decided without a database: the successor of a removed
main, and where a rollback goes in the stack of earlier mains."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mvi.manager.registry import MainChange, ServiceVersion, plan_rollback, successor

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def row(number: str, *, main: bool = False, deployed: int = 0, ident: int = 1) -> ServiceVersion:
    """A version deployed ``deployed`` minutes after T0 (made in memory)."""
    return ServiceVersion(
        id=ident,
        name="hello",
        version=number,
        is_main=main,
        deployed_at=T0 + timedelta(minutes=deployed),
    )


def history(*versions: str) -> list[MainChange]:
    """Standing changes of main, oldest first, with ids 1, 2, ..."""
    return [
        MainChange(id=i, name="hello", version=v, reason="assign", assigned_at=T0)
        for i, v in enumerate(versions, 1)
    ]


def test_the_version_deployed_first_succeeds_a_removed_main() -> None:
    rest = [row("2.0.0", deployed=5, ident=3), row("1.1.0", deployed=1, ident=2)]
    promoted = successor(rest)
    assert promoted is not None and promoted.version == "1.1.0"


def test_of_versions_deployed_at_once_the_one_registered_first_succeeds() -> None:
    rest = [row("2.0.0", ident=7), row("1.5.0", ident=4)]
    promoted = successor(rest)
    assert promoted is not None and promoted.version == "1.5.0"


def test_nothing_succeeds_the_last_version() -> None:
    assert successor([]) is None


@pytest.mark.parametrize(
    ("deployed", "main", "standing", "target", "undo", "gone"),
    [
        # 1.0.0 was the main, then 1.1.0: back to 1.0.0
        (["1.0.0", "1.1.0"], "1.1.0", ["1.0.0", "1.1.0"], "1.0.0", [2], []),
        # 1.1.0 was killed in between: it is skipped (and its entry undone)
        (["1.0.0", "1.2.0"], "1.2.0", ["1.0.0", "1.1.0", "1.2.0"], "1.0.0", [3, 2], ["1.1.0"]),
        # assigned back and forth: the entry below the top that names another version
        (["1.0.0", "1.1.0"], "1.0.0", ["1.0.0", "1.1.0", "1.0.0"], "1.1.0", [3], []),
        # the main was always the main: nowhere to go
        (["1.0.0", "1.1.0"], "1.0.0", ["1.0.0"], None, [1], []),
        # every earlier main was killed
        (["1.2.0"], "1.2.0", ["1.0.0", "1.1.0", "1.2.0"], None, [3, 2, 1], ["1.1.0", "1.0.0"]),
    ],
)
def test_a_rollback_returns_to_the_nearest_earlier_main_still_deployed(
    deployed: list[str],
    main: str,
    standing: list[str],
    target: str | None,
    undo: list[int],
    gone: list[str],
) -> None:
    rows = {v: row(v, main=v == main) for v in deployed}
    plan = plan_rollback(rows, history(*standing))
    assert plan.current == main
    assert (plan.target.version if plan.target else None) == target
    assert (plan.undo, plan.gone) == (undo, gone)
