"""Registry databases for the manager's integration tests: every test that takes one runs
on a SQLite file and on the real PostgreSQL server (in a schema of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from mvi.manager.migrations import upgrade
from mvi.manager.registry import Registry, create_registry_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database: a SQLite file, or a schema of its own on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    made = create_registry_engine(url, pool_size=10)  # room for the tests' threads
    try:
        yield made
    finally:
        made.dispose()


@pytest.fixture
def registry(engine: Engine) -> Registry:
    """A migrated, empty registry."""
    upgrade(engine)
    return Registry(engine)
