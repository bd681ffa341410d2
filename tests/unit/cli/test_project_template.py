"""The project template of ``mvi init``: what it renders, and where."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from mvi._exceptions import ProjectError
from mvi.cli._template import TEMPLATE_SUFFIX, create_project, render_template
from mvi.project import parse_environment

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "src" / "mvi" / "cli" / "template"
EXAMPLE = ROOT / "examples" / "hello"
PROJECT_FILES = {
    ".s2i/environment",
    ".s2iignore",
    "README.md",
    "requirements.txt",
    "service.py",
    "tests/conftest.py",
    "tests/test_functions.py",
    "tests/test_in_process.py",
    "tests/test_service.py",
}
# Files a run of the example may leave behind; never part of the project.
RUN_LEFTOVERS = {"__pycache__", ".mvi", ".pytest_cache", ".ruff_cache", ".mypy_cache"}


def test_render_template_gives_the_files_of_the_tutorial_project() -> None:
    assert set(render_template("greeter")) == PROJECT_FILES


def test_render_template_puts_the_name_in_and_leaves_no_template_syntax() -> None:
    files = render_template("greeter")
    assert files["README.md"].startswith("# greeter\n")
    assert files["service.py"].startswith('"""greeter: ')
    assert "mvi deploy greeter 1.0.0 ." in files["README.md"]
    for path, text in files.items():
        assert "{{" not in text and "{%" not in text, path
        assert text.endswith("\n"), path


def test_render_template_lowercases_the_name_for_deployment() -> None:
    assert "mvi deploy greeter 1.0.0 ." in render_template("Greeter")["README.md"]


def test_rendered_python_files_parse() -> None:
    for path, text in render_template("greeter").items():
        if path.endswith(".py"):
            ast.parse(text, filename=path)


def test_rendered_environment_runs_service_py() -> None:
    environment = parse_environment(render_template("greeter")[".s2i/environment"])
    assert environment == {"APP_FILE": "service.py"}


@pytest.mark.parametrize("name", ["1x", "my-project", "def", ""])
def test_render_template_refuses_a_bad_name(name: str) -> None:
    with pytest.raises(ProjectError):
        render_template(name)


def test_every_template_file_is_a_jinja_template() -> None:
    for path in TEMPLATE.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            assert path.name.endswith(TEMPLATE_SUFFIX), path


def test_example_hello_is_the_template_rendered_for_hello() -> None:
    found = {
        path.relative_to(EXAMPLE).as_posix(): path.read_text()
        for path in EXAMPLE.rglob("*")
        if path.is_file() and not RUN_LEFTOVERS.intersection(path.relative_to(EXAMPLE).parts)
    }
    expected = render_template("hello")
    assert set(found) == set(expected)
    for path, text in expected.items():
        assert found[path] == text, f"examples/hello/{path} differs from the template"


def test_create_project_writes_the_files_with_the_usual_permissions(tmp_path: Path) -> None:
    target = create_project("greeter", tmp_path)
    assert target == (tmp_path / "greeter").resolve()
    written = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert written == PROJECT_FILES
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["greeter"]  # no staging folder left


def test_create_project_creates_missing_parent_folders(tmp_path: Path) -> None:
    target = create_project("greeter", tmp_path / "a" / "b")
    assert (target / "service.py").is_file()


def test_create_project_refuses_a_taken_folder_and_leaves_it_alone(tmp_path: Path) -> None:
    (tmp_path / "greeter").mkdir()
    (tmp_path / "greeter" / "keep.txt").write_text("mine")
    with pytest.raises(ProjectError, match="already exists and is not empty"):
        create_project("greeter", tmp_path)
    assert [p.name for p in (tmp_path / "greeter").iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["greeter"]


def test_create_project_refuses_a_parent_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ProjectError, match="is not a folder"):
        create_project("greeter", tmp_path / "file")


def test_create_project_with_a_bad_name_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(ProjectError):
        create_project("bad-name", tmp_path / "parent")
    assert list(tmp_path.iterdir()) == []
