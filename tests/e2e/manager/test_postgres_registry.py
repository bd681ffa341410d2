"""A manager whose registry is on the real PostgreSQL server (MVI_MANAGER_DB_URL)."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from tests.conftest import POSTGRES_URL
from tests.e2e.manager.conftest import Manager, new_manager


@pytest.fixture
def pg_manager(tmp_path: Path) -> Iterator[Manager]:
    schema = f"mvi_e2e_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    handle = new_manager(tmp_path / "pg", MVI_MANAGER_DB_URL=url)
    try:
        handle.start()
        yield handle
    finally:
        handle.cleanup()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_deploy_and_restart_with_a_postgres_registry(pg_manager: Manager, greeter: Path) -> None:
    m = pg_manager
    m.ok("deploy", "pg_hello", "1.0.0", str(greeter))
    m.ok("deploy", "pg_hello", "1.1.0", str(greeter))
    assert not (m.data_dir / "registry.db").exists()
    info = m.http.get("/api/manager").json()
    assert info["registry"] == "postgresql" and info["services"] == 2
    before = m.versions("pg_hello")
    assert m.stop(signal.SIGKILL) == -signal.SIGKILL
    m.start()
    after = [m.wait_status("pg_hello", v, "running") for v in ("1.0.0", "1.1.0")]
    assert [(r["version"], r["main"], r["pid"]) for r in after] == [
        (r["version"], r["main"], r["pid"]) for r in before
    ]
    assert m.call("pg_hello/hello", name="pg").json() == "Hello pg from 1.0.0"
    m.ok("kill", "pg_hello", "--all", "--yes")
