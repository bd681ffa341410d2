"""A deployed service cannot reach the manager's data (hardening item 1): through a real
manager, a version's code tries to read the signing key, the registry and another
version's files, to write outside its own folders and to signal the manager; every
attempt fails, while its own folder stays its to use."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from tests.e2e.manager.conftest import Manager, make_project, new_manager

# each module starts its own manager, whose first build may be slow on a loaded machine
pytestmark = pytest.mark.timeout(600)

ATTACKER = """\
import os
from pathlib import Path

from mvi import service


HERE = Path.cwd()
DATA = HERE.parents[2]


def attempt(action):
    try:
        action()
    except OSError as exc:
        return type(exc).__name__
    return "ok"


def write(path):
    return lambda: Path(path).write_text("owned")


@service.entrypoint
def attempts() -> dict:
    victim = DATA / "services" / "victim" / "1.0.0"
    return {
        "read secret.key": attempt(lambda: (DATA / "secret.key").read_bytes()),
        "read registry.db": attempt(lambda: (DATA / "registry.db").read_bytes()),
        "read another version": attempt(lambda: (victim / "service.py").read_text()),
        "list the services": attempt(lambda: os.listdir(DATA / "services")),
        "read the manager's log": attempt(lambda: (DATA / "logs" / "manager.log").read_text()),
        "read the manager's environment": attempt(
            lambda: Path(f"/proc/{os.getppid()}/environ").read_bytes()
        ),
        "write in the data dir": attempt(write(DATA / "evil")),
        "write in another version": attempt(write(victim / "evil")),
        "write in the environments": attempt(write(DATA / "envs" / "evil")),
        "replace the key": attempt(lambda: os.rename(HERE / "service.py", DATA / "secret.key")),
        "signal the manager": attempt(lambda: os.kill(os.getppid(), 0)),
        "write its own folder": attempt(write(HERE / "mine.txt")),
        "read its own folder": attempt(lambda: (HERE / "service.py").read_text()),
    }


if __name__ == "__main__":
    service.run()
"""

ALLOWED = {"write its own folder", "read its own folder"}


@pytest.fixture(scope="module")
def isolated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    """A manager (isolation auto) with a victim and an attacker version deployed."""
    base = tmp_path_factory.mktemp("isolation")
    handle = new_manager(base)
    handle.start()
    try:
        handle.ok("deploy", "victim", "1.0.0", str(make_project(base / "victim")))
        handle.ok("deploy", "attacker", "1.0.0", str(make_project(base / "attacker", ATTACKER)))
        yield handle
    finally:
        handle.cleanup()


def test_the_manager_says_which_isolation_is_in_force(isolated: Manager) -> None:
    health = isolated.http.get("/api/health").json()
    info = isolated.http.get("/api/manager").json()
    assert health["isolation"] == info["isolation"]
    assert info["isolation"] in ("user", "landlock"), info
    assert info["isolation_reason"]
    assert f"isolation of the services: {info['isolation']}" in isolated.log_path.read_text()


def test_a_service_cannot_reach_the_managers_data_nor_signal_it(isolated: Manager) -> None:
    response = isolated.call("attacker/attempts")
    assert response.status_code == 200, response.text
    outcomes = response.json()
    assert {name for name, outcome in outcomes.items() if outcome == "ok"} == ALLOWED, outcomes
    assert not (isolated.data_dir / "evil").exists()
    assert not (isolated.data_dir / "services" / "victim" / "1.0.0" / "evil").exists()
    assert isolated.call("victim/hello", name="x").status_code == 200


def test_the_key_and_the_registry_are_the_managers_alone(isolated: Manager) -> None:
    for name in ("secret.key", "registry.db"):
        mode = (isolated.data_dir / name).stat().st_mode & 0o777
        assert mode == 0o600, (name, oct(mode))
    for folder in ("logs", "tmp"):
        assert (isolated.data_dir / folder).stat().st_mode & 0o077 == 0


def test_no_token_row_in_the_registry_is_the_token(isolated: Manager) -> None:
    token = isolated.call("attacker/environment").json()
    assert token == {} or "MVI_SERVICE_ACCESS_TOKEN" not in token  # the attacker has none
    env = isolated.call("victim/environment").json()
    service_token = env["MVI_SERVICE_ACCESS_TOKEN"]
    assert isolated.token is not None
    with sqlite3.connect(isolated.data_dir / "registry.db") as db:
        stored = [str(v) for row in db.execute("SELECT * FROM service_versions") for v in row]
        stored += [str(v) for row in db.execute("SELECT * FROM access_tokens") for v in row]
    for secret in (service_token, isolated.token):
        assert not any(secret in value for value in stored)
