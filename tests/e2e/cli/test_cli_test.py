"""``mvi test`` and the generated project: its service runs and its own tests pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from tests.conftest import free_port
from tests.e2e.cli.cli_support import EXAMPLE, clean_env

if TYPE_CHECKING:
    from tests.e2e.cli.conftest import MviRunner, ServerStarter

# Each `mvi test` starts pytest, which starts the project's service: under the suite's load
# (pytest -n 3 beside a Ray cluster) one run took two minutes in CI. The child's own limit
# comes first, so that a run that hangs fails with the child's output.
MVI_TEST_SECONDS = 240
pytestmark = pytest.mark.timeout(MVI_TEST_SECONDS + 60)

FAILING_TEST = """\
def test_that_fails():
    assert 1 == 2
"""


@pytest.fixture
def project(mvi: MviRunner, tmp_path: Path) -> Path:
    """A freshly generated project, ``tmp_path/greeter``."""
    result = mvi("init", "--name", "greeter")
    assert result.returncode == 0, result.stderr
    return tmp_path / "greeter"


def test_generated_service_runs_with_python_service_py(
    project: Path, start_server: ServerStarter, tmp_path: Path
) -> None:
    port = free_port()
    env = clean_env(
        MVI_PORT=str(port), MVI_SERVICE_DB_URL=f"sqlite:///{tmp_path / 'monitoring.db'}"
    )
    server = start_server([sys.executable, "service.py"], port=port, cwd=project, env=env)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.post("/hello", json={"name": "Alice"}).json() == "Hello Alice"
        assert client.post("/hello", json={"name": "World"}).json() == "Greeting failed"
        assert client.post("/hello", json={"name": 5}).status_code == 422
    assert server.stop() == 0
    assert "WARNING" in server.log()


def test_generated_project_tests_pass_with_mvi_test(mvi: MviRunner, project: Path) -> None:
    result = mvi("test", str(project), timeout=MVI_TEST_SECONDS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 passed" in result.stdout
    assert not (project / ".mvi").exists()  # the tests keep monitoring data out of the project


def test_mvi_test_runs_the_project_in_the_current_folder_by_default(
    mvi: MviRunner, project: Path
) -> None:
    result = mvi("test", cwd=project, timeout=MVI_TEST_SECONDS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 passed" in result.stdout


def test_mvi_test_passes_the_arguments_after_the_path_to_pytest(
    mvi: MviRunner, project: Path
) -> None:
    result = mvi(
        "test", ".", "--", "-k", "called_as_a_function", cwd=project, timeout=MVI_TEST_SECONDS
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 7 deselected" in result.stdout


def test_example_tests_pass_with_mvi_test(mvi: MviRunner) -> None:
    # No .pytest_cache in the repository's examples/hello: pytest makes it as a temporary
    # folder renamed into place, which a test reading that folder at the same time (pytest -n,
    # tests/unit/cli/test_project_template.py) would find half made.
    result = mvi("test", str(EXAMPLE), "--", "-p", "no:cacheprovider", timeout=MVI_TEST_SECONDS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 passed" in result.stdout


def test_mvi_test_exits_with_the_status_of_pytest(mvi: MviRunner, project: Path) -> None:
    (project / "tests" / "test_broken.py").write_text(FAILING_TEST)
    result = mvi("test", str(project), "--", "tests/test_broken.py", timeout=MVI_TEST_SECONDS)
    assert result.returncode == 1
    assert "1 failed" in result.stdout


@pytest.mark.parametrize(
    ("folder", "message"),
    [("missing", "is not a folder"), ("empty", "has no tests/ folder")],
)
def test_mvi_test_refuses_a_folder_without_tests_with_one_line(
    mvi: MviRunner, tmp_path: Path, folder: str, message: str
) -> None:
    (tmp_path / "empty").mkdir()
    result = mvi("test", folder)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]


def test_mvi_test_says_how_to_install_pytest_when_it_is_missing(
    project: Path, python_without_pytest: Path
) -> None:
    result = subprocess.run(
        [str(python_without_pytest), "-m", "mvi.cli", "test", str(project)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "pytest is not installed" in result.stderr
    assert f"{python_without_pytest} -m pip install pytest" in result.stderr
