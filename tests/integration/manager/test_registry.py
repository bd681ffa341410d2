"""The registry on a real SQLite file and on the real PostgreSQL server: the migrations
give exactly the models' schema, and the queries keep one main per name."""

from __future__ import annotations

import hashlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import IntegrityError

from mvi.manager.migrations import alembic_config, upgrade
from mvi.manager.registry import Base, Registry, ServiceVersion


def add(registry: Registry, name: str, version: str, port: int = 1) -> ServiceVersion:
    return registry.add(
        name,
        version,
        status="building",
        port=port,
        app_file="service.py",
        environment={"K": "V"},
        source_sha256="0" * 64,
    )


def test_upgrade_head_gives_exactly_the_models_schema(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, Base.metadata) == []
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert context.get_current_revision() == head
    tables = set(inspect(engine).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_upgrade_is_idempotent(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)
    registry = Registry(engine)
    add(registry, "hello", "1.0.0")
    upgrade(engine)
    assert [r.version for r in registry.versions()] == ["1.0.0"]


def test_the_first_version_is_main_and_main_moves(engine: Engine) -> None:
    upgrade(engine)
    registry = Registry(engine)
    assert add(registry, "hello", "1.0.0").is_main
    assert not add(registry, "hello", "1.10.0").is_main
    assert not add(registry, "hello", "1.2.0").is_main
    assert add(registry, "other", "0.1.0").is_main
    assert [r.version for r in registry.versions("hello")] == ["1.0.0", "1.2.0", "1.10.0"]
    assert registry.set_main("hello", "1.2.0")
    assert registry.main_of("hello").version == "1.2.0"  # type: ignore[union-attr]
    assert sum(r.is_main for r in registry.versions("hello")) == 1
    assert not registry.set_main("hello", "9.9.9")


def test_removing_the_main_promotes_the_oldest_remaining(engine: Engine) -> None:
    upgrade(engine)
    registry = Registry(engine)
    add(registry, "hello", "1.0.0")
    add(registry, "hello", "2.0.0")
    add(registry, "hello", "1.5.0")
    promoted = registry.remove("hello", "1.0.0")
    assert promoted is not None and promoted.version == "2.0.0"  # deployed first of the rest
    assert registry.main_of("hello").version == "2.0.0"  # type: ignore[union-attr]
    assert registry.remove("hello", "1.5.0") is None  # not the main: nobody promoted
    assert registry.remove("hello", "1.5.0") is None  # already gone


def test_name_and_version_are_unique_and_one_main_per_name(engine: Engine) -> None:
    upgrade(engine)
    registry = Registry(engine)
    add(registry, "hello", "1.0.0")
    with pytest.raises(IntegrityError):
        add(registry, "hello", "1.0.0")
    second = add(registry, "hello", "2.0.0")
    with pytest.raises(IntegrityError):
        registry.update("hello", second.version, is_main=True)
    assert sum(r.is_main for r in registry.versions("hello")) == 1


def test_columns_round_trip(engine: Engine) -> None:
    upgrade(engine)
    registry = Registry(engine)
    row = add(registry, "hello", "1.0.0", port=4242)
    updated = registry.update(
        "hello", "1.0.0", status="running", pid=123, pid_started=2**40, env_key="k" * 24
    )
    assert updated is not None
    fetched = registry.get("hello", "1.0.0")
    assert fetched is not None
    assert (fetched.status, fetched.pid, fetched.pid_started, fetched.port) == (
        "running",
        123,
        2**40,
        4242,
    )
    assert fetched.environment == {"K": "V"}
    assert fetched.deployed_at == row.deployed_at and fetched.deployed_at.tzinfo is not None
    assert registry.used_ports() == {4242} and registry.env_keys() == {"k" * 24}
    assert registry.update("nothing", "1.0.0", status="x") is None


def test_0007_keeps_the_hash_of_each_stored_token_not_the_token(engine: Engine) -> None:
    upgrade(engine, "0006_deploy_sources")
    token = "eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiIxIn0.c2lnbmF0dXJl"
    registry = Registry(engine)  # 0007 changes no column: the models fit 0006
    registry.add("hello", "1.0.0", status="running", port=1, app_file="service.py",
                 environment={}, source_sha256="0" * 64, access_token=token)  # fmt: skip
    add(registry, "bare", "1.0.0", port=2)
    upgrade(engine)
    upgrade(engine)  # a hash is not hashed again
    stored = {row.name: row.access_token for row in Registry(engine).versions()}
    assert stored == {"hello": hashlib.sha256(token.encode()).hexdigest(), "bare": None}
