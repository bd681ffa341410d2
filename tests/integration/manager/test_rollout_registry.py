"""The rollout part of the registry, on a real SQLite file and the real PostgreSQL server:
shadow settings, the history of mains, and what a rollback returns to."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from mvi.manager.migrations import upgrade
from mvi.manager.registry import Registry, create_registry_engine


def add(registry: Registry, name: str, *versions: str) -> None:
    for version in versions:
        registry.add(
            name,
            version,
            status="running",
            port=1000 + len(registry.versions()),
            app_file="service.py",
            environment={},
            source_sha256="0" * 64,
        )


def history(registry: Registry, name: str) -> list[tuple[str, str, bool]]:
    return [(c.version, c.reason, c.rolled_back_at is None) for c in registry.main_history(name)]


def main(registry: Registry, name: str) -> str | None:
    row = registry.main_of(name)
    return row.version if row else None


def test_new_versions_are_shadows_at_full_share_and_settings_are_kept(
    registry: Registry,
) -> None:
    add(registry, "hello", "1.0.0", "2.0.0")
    row = registry.get("hello", "2.0.0")
    assert row is not None and (row.shadow, row.shadow_percent) == (True, 100)
    registry.update("hello", "2.0.0", shadow=False, shadow_percent=25)
    row = registry.get("hello", "2.0.0")
    assert row is not None and (row.shadow, row.shadow_percent) == (False, 25)


def test_every_change_of_main_is_kept_in_order(registry: Registry) -> None:
    add(registry, "hello", "1.0.0", "2.0.0", "3.0.0")
    add(registry, "other", "1.0.0")
    registry.set_main("hello", "2.0.0")
    registry.set_main("hello", "3.0.0")
    assert history(registry, "hello") == [
        ("1.0.0", "deploy", True),
        ("2.0.0", "assign", True),
        ("3.0.0", "assign", True),
    ]
    assert history(registry, "other") == [("1.0.0", "deploy", True)]
    assert not registry.set_main("hello", "9.9.9")
    assert len(history(registry, "hello")) == 3


def test_rollback_undoes_the_last_standing_change_each_time(registry: Registry) -> None:
    add(registry, "hello", "1.0.0", "2.0.0", "3.0.0")
    registry.set_main("hello", "2.0.0")
    registry.set_main("hello", "3.0.0")
    for expected in ("2.0.0", "1.0.0"):
        plan = registry.rollback_plan("hello")
        assert plan.target is not None and plan.target.version == expected
        assert registry.rollback("hello", plan)
        assert main(registry, "hello") == expected
    last = registry.rollback_plan("hello")
    assert (last.current, last.target, last.gone) == ("1.0.0", None, [])
    assert not registry.rollback("hello", last)
    assert history(registry, "hello") == [
        ("1.0.0", "deploy", True),
        ("2.0.0", "assign", False),
        ("3.0.0", "assign", False),
    ]


def test_rollback_skips_mains_that_were_killed(registry: Registry) -> None:
    add(registry, "hello", "1.0.0", "2.0.0", "3.0.0")
    registry.set_main("hello", "2.0.0")
    registry.set_main("hello", "3.0.0")
    registry.remove("hello", "2.0.0")
    plan = registry.rollback_plan("hello")
    assert plan.target is not None and plan.target.version == "1.0.0"
    assert plan.gone == ["2.0.0"]
    assert registry.rollback("hello", plan)
    assert main(registry, "hello") == "1.0.0"
    registry.remove("hello", "3.0.0")
    plan = registry.rollback_plan("hello")
    assert plan.target is None


def test_a_rollback_planned_before_the_main_moved_changes_nothing(registry: Registry) -> None:
    add(registry, "hello", "1.0.0", "2.0.0", "3.0.0")
    registry.set_main("hello", "2.0.0")
    plan = registry.rollback_plan("hello")
    registry.set_main("hello", "3.0.0")
    assert not registry.rollback("hello", plan)
    assert main(registry, "hello") == "3.0.0"
    assert all(standing for _, _, standing in history(registry, "hello"))


def test_a_promoted_main_is_recorded_and_a_name_killed_leaves_no_standing_history(
    registry: Registry,
) -> None:
    add(registry, "hello", "1.0.0", "2.0.0")
    promoted = registry.remove("hello", "1.0.0")
    assert promoted is not None and promoted.version == "2.0.0"
    assert history(registry, "hello")[-1] == ("2.0.0", "promoted", True)
    registry.remove("hello", "2.0.0")
    assert all(not standing for _, _, standing in history(registry, "hello"))
    add(registry, "hello", "2.0.0", "3.0.0")  # a new life for the name
    registry.set_main("hello", "3.0.0")
    plan = registry.rollback_plan("hello")
    assert plan.target is not None and plan.target.version == "2.0.0"
    registry.remove("hello", "2.0.0")
    assert registry.rollback_plan("hello").target is None  # not the 2.0.0 of the old life


def test_upgrading_a_registry_from_0001_keeps_its_versions_and_seeds_the_history(
    tmp_path: Path,
) -> None:
    engine = create_registry_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    with engine.begin() as connection:
        for version, is_main in (("1.0.0", False), ("2.0.0", True)):
            connection.execute(
                text(
                    "INSERT INTO service_versions (name, version, is_main, status, "
                    "status_since, desired, message, restarts, app_file, environment, "
                    "source_sha256, deployed_at, created_at) VALUES ('hello', :v, :m, "
                    "'running', '2026-01-01', 'running', '', 0, 'service.py', '{}', '', "
                    "'2026-01-01', '2026-01-01')"
                ),
                {"v": version, "m": is_main},
            )
    upgrade(engine)
    registry = Registry(engine)
    rows = {r.version: r for r in registry.versions("hello")}
    assert {v: (r.shadow, r.shadow_percent) for v, r in rows.items()} == {
        "1.0.0": (True, 100),
        "2.0.0": (True, 100),
    }
    assert history(registry, "hello") == [("2.0.0", "deploy", True)]
    engine.dispose()
