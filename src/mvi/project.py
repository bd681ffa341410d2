"""A service project on disk: its folder, its ``.s2i/environment`` and the app it starts.

The app is named as source-to-image's Python builder names it: ``APP_FILE`` (a Python file,
by default ``service.py``), ``APP_SCRIPT`` (a shell script, run with bash) or ``APP_MODULE``
(an ASGI or WSGI application, ``module:attribute``, served by :mod:`mvi.serving.webapp`);
at most one of them is set (:class:`AppEntry`).

``mvi init`` creates one, ``mvi run`` and ``mvi test`` work in one, and ``mvi deploy`` ships
one to the manager. Parsing is kept free of I/O (:func:`parse_environment`,
:func:`check_project_name`); :meth:`ServiceProject.load` is the one place that reads the disk.

The environment file has one ``KEY=VALUE`` a line; blank lines and lines starting with ``#``
are skipped; the value is everything after the first ``=``, stripped of surrounding spaces and
otherwise literal (quotes are kept, as source-to-image does). Keys are shell variable names
and appear once.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from mvi._exceptions import ProjectError

__all__ = [
    "APP_FILE_VARIABLE",
    "APP_MODULE_VARIABLE",
    "APP_SCRIPT_VARIABLE",
    "APP_VARIABLES",
    "DEFAULT_APP_FILE",
    "ENVIRONMENT_FILE",
    "WEB_APP_RUNNER",
    "AppEntry",
    "AppKind",
    "ServiceProject",
    "check_project_name",
    "parse_environment",
]

ENVIRONMENT_FILE = ".s2i/environment"
"""Where a project keeps the environment of its service, relative to the project folder."""
APP_FILE_VARIABLE = "APP_FILE"
"""The environment variable naming the file that starts the service."""
DEFAULT_APP_FILE = "service.py"
"""The file that starts the service when ``APP_FILE`` is not set."""
APP_SCRIPT_VARIABLE = "APP_SCRIPT"
"""The environment variable naming a shell script (run with bash) that starts the app."""
APP_MODULE_VARIABLE = "APP_MODULE"
"""The environment variable naming an ASGI or WSGI application, ``module:attribute``."""
APP_VARIABLES = (APP_FILE_VARIABLE, APP_SCRIPT_VARIABLE, APP_MODULE_VARIABLE)
"""The variables that say what starts the app; at most one of them is set."""
WEB_APP_RUNNER = "mvi.serving.webapp"
"""The module that serves an ``APP_MODULE`` (``python -m mvi.serving.webapp module:app``)."""

AppKind = Literal["file", "script", "module"]
"""How an app starts: a Python file, a shell script, or an ASGI/WSGI application."""

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_APP_MODULE = re.compile(rf"{_DOTTED}:{_DOTTED}")


@dataclass(frozen=True)
class AppEntry:
    """What starts a version's process, decided from its environment without I/O."""

    kind: AppKind
    target: str
    """The file or script (relative to the project) or ``module:attribute``."""

    @classmethod
    def of(cls, environment: dict[str, str]) -> AppEntry:
        """The entry an ``.s2i/environment`` names (``APP_FILE=service.py`` if none).

        Raises :class:`~mvi._exceptions.ProjectError` if more than one is set, a path
        leaves the project, or ``APP_MODULE`` is not ``module:attribute``.
        """
        given = [name for name in APP_VARIABLES if environment.get(name)]
        if len(given) > 1:
            raise ProjectError(
                f"{ENVIRONMENT_FILE} sets {' and '.join(given)}; keep one of them (APP_FILE for "
                "a Python file, APP_SCRIPT for a shell script, APP_MODULE for module:app)"
            )
        if environment.get(APP_MODULE_VARIABLE):
            target = environment[APP_MODULE_VARIABLE]
            if not _APP_MODULE.fullmatch(target):
                raise ProjectError(
                    f"{APP_MODULE_VARIABLE}={target} in {ENVIRONMENT_FILE} is not module:attribute "
                    "(e.g. APP_MODULE=app:app, or package.web:server for a WSGI app)"
                )
            return cls("module", target)
        if environment.get(APP_SCRIPT_VARIABLE):
            entry = cls("script", environment[APP_SCRIPT_VARIABLE])
        else:
            entry = cls("file", environment.get(APP_FILE_VARIABLE) or DEFAULT_APP_FILE)
        path = PurePosixPath(entry.target)
        if path.is_absolute() or ".." in path.parts:
            raise ProjectError(
                f"{entry.variable}={entry.target} in {ENVIRONMENT_FILE} must be a path inside "
                "the project, relative to its folder"
            )
        return entry

    @classmethod
    def recorded(cls, environment: dict[str, str], target: str) -> AppEntry:
        """The entry of a version deployed earlier (its ``environment`` and the ``target``
        recorded then); never raises: an environment that would be refused now (a
        version deployed before ``APP_SCRIPT`` and ``APP_MODULE`` were read) runs the file."""
        try:
            kind = cls.of(environment).kind
        except ProjectError:
            kind = "file"
        return cls(kind, target)

    @property
    def variable(self) -> str:
        """The environment variable that names this entry."""
        return {"file": APP_FILE_VARIABLE, "script": APP_SCRIPT_VARIABLE}.get(
            self.kind, APP_MODULE_VARIABLE
        )

    @property
    def is_web_app(self) -> bool:
        """Whether the app is a plain web app rather than an SDK service: it is served at
        ``/`` (the gateway strips the root path) and is ready when ``/`` answers."""
        return self.kind != "file"

    def command(self, python: str) -> list[str]:
        """The program and arguments that start the app with the environment's ``python``."""
        if self.kind == "script":
            return ["bash", self.target]
        if self.kind == "module":
            return [python, "-m", WEB_APP_RUNNER, self.target]
        return [python, self.target]


def parse_environment(text: str, source: str = ENVIRONMENT_FILE) -> dict[str, str]:
    """The variables of an environment file's ``text``, in file order.

    Raises :class:`~mvi._exceptions.ProjectError` naming ``source`` and the line number of
    the first line that is not ``KEY=VALUE``, a comment or blank, or that repeats a key.
    """
    variables: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep:
            raise ProjectError(
                f"{source}:{number}: expected KEY=VALUE, got {line!r}; "
                "write one variable a line, or start the line with # to comment it out"
            )
        if not _KEY.fullmatch(key):
            raise ProjectError(
                f"{source}:{number}: {key!r} is not a variable name; use letters, digits "
                "and _ (not starting with a digit)"
            )
        if key in variables:
            raise ProjectError(f"{source}:{number}: {key} is set twice; keep one of them")
        if "\x00" in value:
            raise ProjectError(f"{source}:{number}: the value of {key} contains a NUL byte")
        variables[key] = value.strip()
    return variables


def check_project_name(name: str) -> str:
    """``name`` if it can name a project (a Python identifier, not a keyword).

    Raises :class:`~mvi._exceptions.ProjectError` saying why not otherwise.
    """
    if not name.isidentifier():
        raise ProjectError(
            f"{name!r} is not a valid project name; use letters, digits and _ "
            "and do not start with a digit (e.g. my_project)"
        )
    if keyword.iskeyword(name):
        raise ProjectError(f"{name!r} is a Python keyword; choose another project name")
    return name


@dataclass(frozen=True)
class ServiceProject:
    """A service folder and the environment its ``.s2i/environment`` gives the service."""

    path: Path
    """The project folder (absolute)."""
    environment: dict[str, str] = field(default_factory=dict)
    """The variables of ``.s2i/environment`` (empty when the file does not exist)."""

    @classmethod
    def load(cls, path: str | Path) -> ServiceProject:
        """Read the project at ``path``.

        Raises :class:`~mvi._exceptions.ProjectError` if the folder is missing or the
        environment file cannot be read or parsed (:attr:`app_path` checks ``APP_FILE``).
        """
        folder = Path(path).expanduser().resolve()
        if not folder.is_dir():
            what = "is not a directory" if folder.exists() else "does not exist"
            raise ProjectError(f"{path} {what}; give the folder of a service project")
        env_file = folder / ENVIRONMENT_FILE
        environment: dict[str, str] = {}
        if env_file.is_file():
            try:
                text = env_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ProjectError(f"cannot read {env_file}: {exc}") from exc
            environment = parse_environment(text, str(env_file))
        return cls(folder, environment)

    @property
    def entry(self) -> AppEntry:
        """What starts the app (:meth:`AppEntry.of` the environment; raises
        :class:`~mvi._exceptions.ProjectError` as it does)."""
        return AppEntry.of(self.environment)

    @property
    def app_file(self) -> str:
        """The file or script that starts the app, relative to :attr:`path`, or the
        ``module:attribute`` of an ``APP_MODULE``."""
        return self.entry.target

    @property
    def app_path(self) -> Path:
        """The absolute path of :attr:`app_file` (the project folder for an
        ``APP_MODULE``); a file or script must exist inside the project."""
        entry = self.entry
        if entry.kind == "module":
            return self.path
        app = self.path / entry.target
        if not app.is_file():
            raise ProjectError(
                f"{self.path} has no {entry.target}; create it or set {entry.variable} in "
                f"{ENVIRONMENT_FILE} to the file that starts the service"
            )
        return app
