"""``mvi.project.AppEntry``: what starts an app (``APP_FILE``, ``APP_SCRIPT``, ``APP_MODULE``)."""

from __future__ import annotations

import pytest

from mvi._exceptions import ProjectError
from mvi.project import AppEntry


@pytest.mark.parametrize(
    ("environment", "kind", "target", "command", "web_app"),
    [
        ({}, "file", "service.py", ["py", "service.py"], False),
        ({"APP_FILE": "main.py"}, "file", "main.py", ["py", "main.py"], False),
        ({"APP_SCRIPT": "run.sh"}, "script", "run.sh", ["bash", "run.sh"], True),
        (
            {"APP_MODULE": "web.app:server"},
            "module",
            "web.app:server",
            ["py", "-m", "mvi.serving.server.webapp", "web.app:server"],
            True,
        ),
        ({"APP_FILE": "", "APP_MODULE": "app:app"}, "module", "app:app", None, True),
    ],
    ids=["default", "file", "script", "module", "empty-ones-ignored"],
)
def test_entry_names_how_the_app_starts(
    environment: dict[str, str],
    kind: str,
    target: str,
    command: list[str] | None,
    web_app: bool,
) -> None:
    entry = AppEntry.of(environment)
    assert (entry.kind, entry.target, entry.is_web_app) == (kind, target, web_app)
    if command is not None:
        assert entry.command("py") == command


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"APP_FILE": "a.py", "APP_SCRIPT": "run.sh"}, "sets APP_FILE and APP_SCRIPT"),
        ({"APP_MODULE": "app"}, "is not module:attribute"),
        ({"APP_MODULE": "app:app; rm -rf /"}, "is not module:attribute"),
        ({"APP_MODULE": "1app:app"}, "is not module:attribute"),
        ({"APP_SCRIPT": "../run.sh"}, "APP_SCRIPT=../run.sh in .s2i/environment must be a path"),
        ({"APP_FILE": "/etc/passwd"}, "must be a path inside the project"),
    ],
    ids=["two-entries", "no-attribute", "shell-in-module", "digit-module", "script-up", "absolute"],
)
def test_bad_entry_is_a_project_error_naming_the_fix(
    environment: dict[str, str], message: str
) -> None:
    with pytest.raises(ProjectError, match=message.replace("(", r"\(").replace(".", r"\.")):
        AppEntry.of(environment)


@pytest.mark.parametrize(
    ("environment", "target", "kind"),
    [
        ({"APP_SCRIPT": "run.sh"}, "run.sh", "script"),
        ({"APP_MODULE": "app:app"}, "app:app", "module"),
        ({"APP_FILE": "main.py", "APP_SCRIPT": "run.sh"}, "main.py", "file"),
        ({}, "service.py", "file"),
    ],
    ids=["script", "module", "refused-now-runs-the-file", "default"],
)
def test_recorded_entry_never_raises(environment: dict[str, str], target: str, kind: str) -> None:
    assert AppEntry.recorded(environment, target) == AppEntry(kind, target)
