"""The data directory stays private: a real manager started on an existing directory of
mode 0755 makes every file 0600 and every folder 0700, and warns that the directory
itself is readable by others."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.manager.conftest import Manager, make_project, new_manager

# each module starts its own manager, whose first build may be slow on a loaded machine
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def open_dir_manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    """A manager whose data directory existed, empty, with mode 0755; one version deployed."""
    handle = new_manager(tmp_path_factory.mktemp("modes"))
    handle.data_dir.mkdir(mode=0o755)
    handle.data_dir.chmod(0o755)
    handle.start()
    try:
        project = make_project(handle.data_dir.parent / "project")
        handle.ok("deploy", "modes", "1.0.0", str(project))
        assert handle.call("modes/hello", name="x").status_code == 200
        yield handle
    finally:
        handle.cleanup()


def _made_by_manager(data_dir: Path) -> Iterator[Path]:
    """Every path below the data directory but the virtual environments (which the
    services read; see docs/security.md)."""
    for path in data_dir.rglob("*"):
        if path.relative_to(data_dir).parts[0] != "envs":
            yield path


def test_every_file_the_manager_creates_is_0600(open_dir_manager: Manager) -> None:
    data = open_dir_manager.data_dir
    files = {p.relative_to(data).as_posix(): p for p in _made_by_manager(data) if p.is_file()}
    expected = ["registry.db", "registry.db-wal", "registry.db-shm", "secret.key", "manager.lock"]
    for name in [*expected, "logs/manager.log", "logs/services/modes_1.0.0.log"]:
        assert name in files, sorted(files)
    loose = {
        name: oct(stat.S_IMODE(path.stat().st_mode))
        for name, path in files.items()
        if stat.S_IMODE(path.stat().st_mode) & 0o077
    }
    assert loose == {}


def test_every_folder_the_manager_creates_is_0700(open_dir_manager: Manager) -> None:
    data = open_dir_manager.data_dir
    loose = {
        path.relative_to(data).as_posix(): oct(stat.S_IMODE(path.stat().st_mode))
        for path in _made_by_manager(data)
        if path.is_dir() and stat.S_IMODE(path.stat().st_mode) & 0o077
    }
    assert loose == {}


def test_the_manager_warns_that_the_data_dir_is_readable_by_others(
    open_dir_manager: Manager,
) -> None:
    log = open_dir_manager.log_path.read_text()
    assert f"the data directory {open_dir_manager.data_dir} is readable by other users" in log
    assert "chmod 700" in log
