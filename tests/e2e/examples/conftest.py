"""One real manager per test module, and the examples/ folders to deploy to it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.manager.conftest import Manager, new_manager

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

# Models take longer to import and requirements longer to install than the greeter does.
SLOW_STARTS = {
    "MVI_MANAGER_STARTUP_TIMEOUT": "180",
    "MVI_MANAGER_DEPLOY_WAIT": "900",
    "MVI_MANAGER_GATEWAY_TIMEOUT": "60",
}


def copy_example(name: str, destination: Path) -> Path:
    """A copy of ``examples/NAME`` (without caches), for a test that changes a file of it."""
    ignore = shutil.ignore_patterns("__pycache__", ".mvi", ".pytest_cache")
    return Path(shutil.copytree(EXAMPLES / name, destination / name, ignore=ignore))


@pytest.fixture(scope="module")
def manager_env() -> dict[str, str]:
    """More settings of this module's manager (a module overrides this fixture)."""
    return {}


@pytest.fixture(scope="module")
def manager(
    tmp_path_factory: pytest.TempPathFactory, manager_env: dict[str, str]
) -> Iterator[Manager]:
    """A manager for this module alone (auth on, the admin logged in)."""
    handle = new_manager(tmp_path_factory.mktemp("manager"), **SLOW_STARTS, **manager_env)
    handle.start()
    try:
        yield handle
    finally:
        handle.cleanup()
