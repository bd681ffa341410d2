"""``mvi.project``: the ``.s2i/environment`` parser, project names and ``APP_FILE``."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvi import ConfigurationError
from mvi._exceptions import ProjectError
from mvi.project import (
    LinkLaunch,
    ServiceProject,
    check_project_name,
    detect_kind,
    kind_of,
    parse_environment,
)


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


# -- the kind of a project: an mvi Service or a link service --------------------------------
LINK_FILE = """
from mvi.links import get_logger

connection_models = {"out": {}}
"""


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        (LINK_FILE, "link"),
        ("connection_models: dict = {}\n", "link"),
        ("from mvi import service\n\n@service.entrypoint\ndef f() -> int:\n    return 1\n", "http"),
        ("def f():\n    connection_models = {}\n", "http"),
        ("connection_models ==== broken\n", "http"),
        ("", "http"),
    ],
    ids=["assigned", "annotated", "service", "only-in-a-function", "syntax-error", "empty"],
)
def test_the_kind_is_detected_from_a_module_level_connection_models(source: str, kind: str) -> None:
    assert detect_kind(source) == kind


@pytest.mark.parametrize(
    ("environment", "kind"),
    [
        ({}, "http"),
        ({"MVI_SERVICE_KIND": "link"}, "link"),
        ({"MVI_SERVICE_KIND": " HTTP "}, "http"),
    ],
)
def test_a_declared_kind_is_read(environment: dict[str, str], kind: str) -> None:
    assert kind_of(environment) == kind


def test_an_unknown_kind_is_refused_naming_the_choices() -> None:
    with pytest.raises(ProjectError, match=r"MVI_SERVICE_KIND=grpc.*http.*link"):
        kind_of({"MVI_SERVICE_KIND": "grpc"})


def project(
    tmp_path: Path, source: str, environment: str = "", files: tuple[str, ...] = ()
) -> ServiceProject:
    (tmp_path / ".s2i").mkdir()
    (tmp_path / ".s2i" / "environment").write_text(environment)
    (tmp_path / "service.py").write_text(source)
    for name in files:
        (tmp_path / name).write_text("{}")
    return ServiceProject.load(tmp_path)


def test_a_detected_link_project_finds_its_files_by_their_default_names(tmp_path: Path) -> None:
    found = project(tmp_path, LINK_FILE, files=("addresses.json", "config.json"))
    assert found.kind == "link"
    launch = found.link_launch()
    assert launch.arguments() == [
        "-m", "mvi.links", "-s", "service.py", "-a", "addresses.json", "-c", "config.json",
    ]  # fmt: skip
    assert found.deployed_environment() == {
        "MVI_SERVICE_KIND": "link",
        "MVI_LINK_MAIN": "false",
        "MVI_LINK_ADDRESSES": "addresses.json",
        "MVI_LINK_CONFIG": "config.json",
    }


def test_a_declared_link_project_uses_the_files_and_mode_it_names(tmp_path: Path) -> None:
    environment = (
        "MVI_SERVICE_KIND=link\nMVI_LINK_MAIN=true\nMVI_LINK_ADDRESSES=wiring/a.json\n"
        "MVI_LINK_CONFIG=c.json\n"
    )
    (tmp_path / "wiring").mkdir()
    found = project(tmp_path, "x = 1\n", environment, files=("wiring/a.json", "c.json"))
    launch = found.link_launch()
    assert (launch.addresses, launch.config, launch.main) == ("wiring/a.json", "c.json", True)
    assert launch.arguments()[-5:] == ["-a", "wiring/a.json", "-c", "c.json", "-m"]
    recorded = found.deployed_environment()
    assert LinkLaunch.from_environment("service.py", recorded) == launch


def test_a_link_project_without_files_runs_without_them(tmp_path: Path) -> None:
    launch = project(tmp_path, LINK_FILE).link_launch()
    assert launch.arguments() == ["-m", "mvi.links", "-s", "service.py"]


def test_an_http_project_records_nothing_more(tmp_path: Path) -> None:
    found = project(tmp_path, "from mvi import service\n", "A=1\n", files=("config.json",))
    assert (found.kind, found.deployed_environment()) == ("http", {"A": "1"})


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ("MVI_LINK_CONFIG=missing.json\n", "has no missing.json.*MVI_LINK_CONFIG"),
        ("MVI_LINK_ADDRESSES=../outside.json\n", "MVI_LINK_ADDRESSES=../outside.json.*inside"),
        ("MVI_LINK_ADDRESSES=/etc/passwd\n", "inside the project"),
        ("MVI_LINK_MAIN=sometimes\n", "MVI_LINK_MAIN=sometimes.*true or false"),
    ],
    ids=["missing-file", "dot-dot", "absolute", "not-a-boolean"],
)
def test_bad_link_settings_are_refused_with_what_to_fix(
    tmp_path: Path, environment: str, message: str
) -> None:
    with pytest.raises(ProjectError, match=message):
        project(tmp_path, LINK_FILE, environment).deployed_environment()


@pytest.mark.parametrize(
    ("environment", "files"),
    [("APP_MODULE=web:app\n", {"web.py": "app = None\n"}), ("APP_SCRIPT=run.sh\n", {"run.sh": ""})],
    ids=["app-module", "app-script"],
)
def test_a_web_app_project_is_an_http_service_not_a_link_service(
    tmp_path: Path, environment: str, files: dict[str, str]
) -> None:
    (tmp_path / ".s2i").mkdir()
    (tmp_path / ".s2i" / "environment").write_text(environment)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert ServiceProject.load(tmp_path).kind == "http"
