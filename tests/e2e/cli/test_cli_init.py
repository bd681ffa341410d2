"""``mvi --version`` and ``mvi init``: the project of the tutorial, from the template."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mvi import __version__
from mvi.project import ServiceProject

if TYPE_CHECKING:
    from tests.e2e.cli.conftest import MviRunner

SEED_LISTING = {".s2i", ".s2iignore", "README.md", "requirements.txt", "service.py", "tests"}


def listing(folder: Path) -> set[str]:
    return {entry.name for entry in folder.iterdir()}


def test_version_prints_the_package_version(mvi: MviRunner) -> None:
    result = mvi("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"mvi {__version__}"


def test_init_asks_for_the_project_name_and_creates_the_tutorial_project(
    mvi: MviRunner, tmp_path: Path
) -> None:
    result = mvi("init", input="my_first_mvi_project\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("project_name [my_project]: ")
    assert listing(tmp_path) == {"my_first_mvi_project"}
    assert listing(tmp_path / "my_first_mvi_project") == SEED_LISTING


def test_init_takes_the_default_name_when_the_answer_is_empty(
    mvi: MviRunner, tmp_path: Path
) -> None:
    assert mvi("init", input="\n").returncode == 0
    assert listing(tmp_path / "my_project") == SEED_LISTING


def test_init_with_name_does_not_prompt(mvi: MviRunner, tmp_path: Path) -> None:
    result = mvi("init", "--name", "hello")
    assert result.returncode == 0, result.stderr
    assert "project_name" not in result.stdout
    assert listing(tmp_path / "hello") == SEED_LISTING


def test_init_creates_the_project_inside_path(mvi: MviRunner, tmp_path: Path) -> None:
    assert mvi("init", "projects/new", "--name", "greeter").returncode == 0
    assert listing(tmp_path / "projects" / "new") == {"greeter"}
    assert listing(tmp_path / "projects" / "new" / "greeter") == SEED_LISTING


@pytest.mark.parametrize("name", ["1st_project", "my-project", "my project", "class", "", "a.b"])
@pytest.mark.parametrize("how", ["option", "prompt"])
def test_init_refuses_a_name_that_is_not_an_identifier_and_creates_nothing(
    mvi: MviRunner, tmp_path: Path, name: str, how: str
) -> None:
    if how == "option":
        result = mvi("init", "sub", "--name", name)
    elif name == "":
        return  # an empty answer to the prompt means the default name (tested above)
    else:
        result = mvi("init", "sub", input=f"{name}\n")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "project name" in lines[0] or "keyword" in lines[0]
    assert listing(tmp_path) == set()


def test_init_refuses_a_folder_that_is_not_empty_and_leaves_it_untouched(
    mvi: MviRunner, tmp_path: Path
) -> None:
    existing = tmp_path / "taken"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine")
    result = mvi("init", "--name", "taken")
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "already exists" in result.stderr
    assert listing(tmp_path) == {"taken"}
    assert listing(existing) == {"notes.txt"}
    assert (existing / "notes.txt").read_text() == "mine"


def test_init_refuses_a_file_in_the_way(mvi: MviRunner, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("mine")
    result = mvi("init", "--name", "taken")
    assert result.returncode != 0
    assert "not a folder" in result.stderr
    assert (tmp_path / "taken").read_text() == "mine"
    assert listing(tmp_path) == {"taken"}


def test_init_fills_an_existing_empty_folder(mvi: MviRunner, tmp_path: Path) -> None:
    (tmp_path / "ready").mkdir()
    assert mvi("init", "--name", "ready").returncode == 0
    assert listing(tmp_path / "ready") == SEED_LISTING


def test_generated_project_has_the_files_the_tutorial_describes(
    mvi: MviRunner, tmp_path: Path
) -> None:
    assert mvi("init", "--name", "greeter").returncode == 0
    project = tmp_path / "greeter"
    service = (project / "service.py").read_text()
    assert len(service.splitlines()) < 25
    for part in ("add_parameter(", "@service.entrypoint", "notify(", "service.run()"):
        assert part in service
    compile(service, "service.py", "exec")
    requirements = (project / "requirements.txt").read_text().splitlines()
    assert [line for line in requirements if line.strip() and not line.startswith("#")] == []
    loaded = ServiceProject.load(project)
    assert loaded.environment == {"APP_FILE": "service.py"}
    assert any(
        line.startswith("# ") and "=" in line
        for line in (project / ".s2i" / "environment").read_text().splitlines()
    )
    ignored = (project / ".s2iignore").read_text().splitlines()
    assert {"tests/", "__pycache__/", ".mvi/", ".venv/"} <= set(ignored)
    readme = (project / "README.md").read_text()
    assert readme.startswith("# greeter\n")
    for command in ("mvi run .", "mvi test .", "mvi deploy greeter 1.0.0 ."):
        assert command in readme
    assert {p.name for p in (project / "tests").iterdir()} >= {"conftest.py", "test_service.py"}


@pytest.mark.parametrize(
    "command", [["check"], ["format", "--check"]], ids=["ruff-check", "ruff-format"]
)
def test_generated_project_is_clean_under_ruff_defaults(
    mvi: MviRunner, tmp_path: Path, command: list[str]
) -> None:
    assert mvi("init", "--name", "greeter").returncode == 0
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--isolated", "--no-cache", "."],
        cwd=tmp_path / "greeter",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
