"""``mvi.project``: the ``.s2i/environment`` parser, project names and ``APP_FILE``."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvi import ConfigurationError
from mvi._exceptions import ProjectError
from mvi.project import ServiceProject, check_project_name, parse_environment


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("APP_FILE=service.py\n", {"APP_FILE": "service.py"}),
        ("APP_FILE=service.py", {"APP_FILE": "service.py"}),
        ("# a comment\n\n   \nA=1\n  # indented comment\nB=2\n", {"A": "1", "B": "2"}),
        ("  KEY  =  spaced value  \n", {"KEY": "spaced value"}),
        ("URL=postgresql://u:p@h/db?x=1\n", {"URL": "postgresql://u:p@h/db?x=1"}),
        ("EMPTY=\n", {"EMPTY": ""}),
        ('QUOTED="kept"\n', {"QUOTED": '"kept"'}),
        ("HASH=a#b\n", {"HASH": "a#b"}),
        ("A=1\r\nB=2\r\n", {"A": "1", "B": "2"}),
        ("_under_9=x\n", {"_under_9": "x"}),
    ],
    ids=[
        "empty",
        "one",
        "no-final-newline",
        "comments-and-blanks",
        "spaces-around",
        "equals-in-value",
        "empty-value",
        "quotes-are-literal",
        "hash-inside-value",
        "crlf",
        "underscore-key",
    ],
)
def test_parse_environment_reads_key_value_lines(text: str, expected: dict[str, str]) -> None:
    assert parse_environment(text) == expected


def test_parse_environment_keeps_file_order() -> None:
    assert list(parse_environment("B=1\nA=2\nC=3\n")) == ["B", "A", "C"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A=1\nnot a pair\n", "env:2: expected KEY=VALUE, got 'not a pair'"),
        ("=value\n", "env:1: '' is not a variable name"),
        ("1ABC=x\n", "env:1: '1ABC' is not a variable name"),
        ("MY-KEY=x\n", "env:1: 'MY-KEY' is not a variable name"),
        ("export A=1\n", "env:1: 'export A' is not a variable name"),
        ("A=1\n# c\nA=2\n", "env:3: A is set twice"),
        ("A=x\x00y\n", "env:1: the value of A contains a NUL byte"),
    ],
    ids=["no-equals", "no-key", "digit-first", "dash", "export", "duplicate", "nul"],
)
def test_parse_environment_refuses_a_malformed_line_naming_it(text: str, message: str) -> None:
    with pytest.raises(ProjectError) as caught:
        parse_environment(text, source="env")
    assert str(caught.value).startswith(message)


def test_project_error_is_a_configuration_error() -> None:
    assert issubclass(ProjectError, ConfigurationError)


@pytest.mark.parametrize("name", ["my_project", "hello", "_private", "Greeter2", "café"])
def test_check_project_name_accepts_identifiers(name: str) -> None:
    assert check_project_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "not a valid project name"),
        ("1st", "not a valid project name"),
        ("my-project", "not a valid project name"),
        ("my project", "not a valid project name"),
        ("a.b", "not a valid project name"),
        ("class", "keyword"),
        ("None", "keyword"),
    ],
)
def test_check_project_name_refuses_non_identifiers_and_keywords(name: str, reason: str) -> None:
    with pytest.raises(ProjectError, match=reason):
        check_project_name(name)


def test_service_project_reads_its_environment_and_app_file(tmp_path: Path) -> None:
    (tmp_path / ".s2i").mkdir()
    (tmp_path / ".s2i" / "environment").write_text("APP_FILE=src/app.py\nX=1\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("")
    project = ServiceProject.load(tmp_path)
    assert project.path == tmp_path.resolve()
    assert project.environment == {"APP_FILE": "src/app.py", "X": "1"}
    assert project.app_file == "src/app.py"
    assert project.app_path == tmp_path.resolve() / "src" / "app.py"


def test_service_project_without_environment_file_runs_service_py(tmp_path: Path) -> None:
    (tmp_path / "service.py").write_text("")
    project = ServiceProject.load(tmp_path)
    assert project.environment == {}
    assert project.app_path == tmp_path.resolve() / "service.py"


@pytest.mark.parametrize(
    ("app_file", "message"),
    [
        ("missing.py", "has no missing.py"),
        ("../escape.py", "must be a path inside the project"),
        ("/etc/passwd", "must be a path inside the project"),
    ],
)
def test_service_project_refuses_an_app_file_it_cannot_run(
    tmp_path: Path, app_file: str, message: str
) -> None:
    (tmp_path / "escape.py").write_text("")  # exists, but outside the project
    (tmp_path / "proj" / ".s2i").mkdir(parents=True)
    (tmp_path / "proj" / ".s2i" / "environment").write_text(f"APP_FILE={app_file}\n")
    project = ServiceProject.load(tmp_path / "proj")
    with pytest.raises(ProjectError, match=message):
        _ = project.app_path


def test_service_project_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="does not exist"):
        ServiceProject.load(tmp_path / "nope")


def test_service_project_names_the_file_of_a_malformed_line(tmp_path: Path) -> None:
    (tmp_path / ".s2i").mkdir()
    (tmp_path / ".s2i" / "environment").write_text("OK=1\nbroken\n")
    with pytest.raises(ProjectError, match=r"\.s2i/environment:2: expected KEY=VALUE"):
        ServiceProject.load(tmp_path)


def test_service_project_refuses_an_environment_file_that_is_not_text(tmp_path: Path) -> None:
    (tmp_path / ".s2i").mkdir()
    (tmp_path / ".s2i" / "environment").write_bytes(b"A=\xff\xfe\n")
    with pytest.raises(ProjectError, match="cannot read"):
        ServiceProject.load(tmp_path)
