"""A service project on disk: its folder, its ``.s2i/environment`` and the app it starts.

The app is named as source-to-image's Python builder names it: ``APP_FILE`` (a Python file,
by default ``service.py``), ``APP_SCRIPT`` (a shell script, run with bash) or ``APP_MODULE``
(an ASGI or WSGI application, ``module:attribute``, served by :mod:`mvi.serving.server.webapp`);
at most one of them is set (:class:`AppEntry`).

``mvi init`` creates one, ``mvi run`` and ``mvi test`` work in one, and ``mvi deploy`` ships
one to the manager. Parsing is kept free of I/O (:func:`parse_environment`,
:func:`check_project_name`, :func:`detect_kind`, :class:`LinkLaunch`); :meth:`ServiceProject.load`
and the properties that look at the project's files are the places that read the disk.

A project's ``APP_FILE`` is an mvi ``Service`` (kind ``http``) or a link service file of
seed 004 (kind ``link``): as ``MVI_SERVICE_KIND`` declares, else detected by a module-level
``connection_models``. A link service runs as ``python -m mvi.links -s APP_FILE`` with the
addresses and config files ``MVI_LINK_ADDRESSES`` and ``MVI_LINK_CONFIG`` name
(``addresses.json`` and ``config.json`` when present), in main mode with
``MVI_LINK_MAIN=true``.

The environment file has one ``KEY=VALUE`` a line; blank lines and lines starting with ``#``
are skipped; the value is everything after the first ``=``, stripped of surrounding spaces and
otherwise literal (quotes are kept, as source-to-image does). Keys are shell variable names
and appear once.
"""

from __future__ import annotations

import ast
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
    "LINK_ADDRESSES_VARIABLE",
    "LINK_CONFIG_VARIABLE",
    "LINK_MAIN_VARIABLE",
    "SERVICE_KIND_VARIABLE",
    "WEB_APP_RUNNER",
    "AppEntry",
    "AppKind",
    "LinkLaunch",
    "ServiceKind",
    "ServiceProject",
    "check_project_name",
    "detect_kind",
    "kind_of",
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
WEB_APP_RUNNER = "mvi.serving.server.webapp"
"""The module that serves an ``APP_MODULE`` (``python -m mvi.serving.server.webapp m:app``)."""

AppKind = Literal["file", "script", "module"]
"""How an app starts: a Python file, a shell script, or an ASGI/WSGI application."""

SERVICE_KIND_VARIABLE = "MVI_SERVICE_KIND"
"""What the ``APP_FILE`` is: ``http`` (an mvi ``Service``) or ``link`` (a link service file)."""
LINK_ADDRESSES_VARIABLE = "MVI_LINK_ADDRESSES"
"""A link service's addresses file, relative to the project (default ``addresses.json``)."""
LINK_CONFIG_VARIABLE = "MVI_LINK_CONFIG"
"""A link service's config file, relative to the project (default ``config.json``)."""
LINK_MAIN_VARIABLE = "MVI_LINK_MAIN"
"""``true``: run a link service in main mode (``-m``)."""

ServiceKind = Literal["http", "link"]
"""The kinds of service a project can hold."""

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


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


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


def detect_kind(source: str) -> ServiceKind:
    """``link`` when ``source`` (a service file's text) assigns ``connection_models`` at
    module level, as seed 004's service files do; ``http`` otherwise (also for a file that
    does not parse: starting it reports that)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return "http"
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == "connection_models" for t in targets):
            return "link"
    return "http"


def kind_of(environment: dict[str, str]) -> ServiceKind:
    """The kind an environment declares (``MVI_SERVICE_KIND``; ``http`` when unset).

    Raises :class:`~mvi._exceptions.ProjectError` for another value.
    """
    value = environment.get(SERVICE_KIND_VARIABLE, "").strip().lower()
    if value in ("", "http"):
        return "http"
    if value == "link":
        return "link"
    raise ProjectError(
        f"{SERVICE_KIND_VARIABLE}={environment[SERVICE_KIND_VARIABLE]} in {ENVIRONMENT_FILE} "
        "is not a kind of service; write http (an mvi Service) or link (a link service file)"
    )


def _inside(name: str, variable: str) -> str:
    if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts:
        raise ProjectError(
            f"{variable}={name} in {ENVIRONMENT_FILE} must be a path inside the project"
        )
    return name


@dataclass(frozen=True)
class LinkLaunch:
    """How the manager starts a link service: ``python -m mvi.links`` with its files."""

    app_file: str
    """The service file, relative to the project."""
    addresses: str | None = None
    """The addresses file (``-a``), relative to the project."""
    config: str | None = None
    """The config file (``-c``), relative to the project."""
    main: bool = False
    """Main mode (``-m``)."""

    @classmethod
    def from_environment(cls, app_file: str, environment: dict[str, str]) -> LinkLaunch:
        """The launch an environment (as :meth:`environment` wrote it) describes.

        Raises :class:`~mvi._exceptions.ProjectError` for a file outside the project or a
        ``MVI_LINK_MAIN`` that is not a boolean.
        """
        main = environment.get(LINK_MAIN_VARIABLE, "").strip().lower()
        if main not in _TRUE | _FALSE:
            raise ProjectError(
                f"{LINK_MAIN_VARIABLE}={environment[LINK_MAIN_VARIABLE]} in "
                f"{ENVIRONMENT_FILE} is not a boolean; write true or false"
            )
        addresses = environment.get(LINK_ADDRESSES_VARIABLE) or None
        config = environment.get(LINK_CONFIG_VARIABLE) or None
        return cls(
            app_file=_inside(app_file, APP_FILE_VARIABLE),
            addresses=addresses and _inside(addresses, LINK_ADDRESSES_VARIABLE),
            config=config and _inside(config, LINK_CONFIG_VARIABLE),
            main=main in _TRUE,
        )

    def arguments(self) -> list[str]:
        """The arguments after ``python``: ``-m mvi.links -s FILE [-a A] [-c C] [-m]``."""
        args = ["-m", "mvi.links", "-s", self.app_file]
        if self.addresses:
            args += ["-a", self.addresses]
        if self.config:
            args += ["-c", self.config]
        if self.main:
            args.append("-m")
        return args

    def environment(self) -> dict[str, str]:
        """The variables that record this launch (the kind and the resolved files)."""
        recorded = {SERVICE_KIND_VARIABLE: "link", LINK_MAIN_VARIABLE: str(self.main).lower()}
        if self.addresses:
            recorded[LINK_ADDRESSES_VARIABLE] = self.addresses
        if self.config:
            recorded[LINK_CONFIG_VARIABLE] = self.config
        return recorded


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

    @property
    def kind(self) -> ServiceKind:
        """What :attr:`app_file` is: as ``MVI_SERVICE_KIND`` says, ``http`` for a web app, else
        :func:`detect_kind` of its text. Raises :class:`~mvi._exceptions.ProjectError` as
        :attr:`app_path` does, or for an unknown kind."""
        if self.environment.get(SERVICE_KIND_VARIABLE, "").strip():
            return kind_of(self.environment)
        if self.entry.kind != "file":  # a web app (APP_SCRIPT, APP_MODULE) is no link service
            return "http"
        try:
            source = self.app_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProjectError(f"cannot read {self.app_path}: {exc}") from exc
        return detect_kind(source)

    def link_launch(self) -> LinkLaunch:
        """How a link service project is started: its files from ``MVI_LINK_ADDRESSES``
        and ``MVI_LINK_CONFIG``, or ``addresses.json`` and ``config.json`` when present.

        Raises :class:`~mvi._exceptions.ProjectError` when a named file is missing.
        """
        launch = LinkLaunch.from_environment(self.app_file, self.environment)
        files: dict[str, str | None] = {}
        for variable, given, default in (
            (LINK_ADDRESSES_VARIABLE, launch.addresses, "addresses.json"),
            (LINK_CONFIG_VARIABLE, launch.config, "config.json"),
        ):
            if given is None:
                files[variable] = default if (self.path / default).is_file() else None
            elif not (self.path / given).is_file():
                raise ProjectError(
                    f"{self.path} has no {given}; create it or correct {variable} in "
                    f"{ENVIRONMENT_FILE}"
                )
            else:
                files[variable] = given
        return LinkLaunch(
            app_file=launch.app_file,
            addresses=files[LINK_ADDRESSES_VARIABLE],
            config=files[LINK_CONFIG_VARIABLE],
            main=launch.main,
        )

    def deployed_environment(self) -> dict[str, str]:
        """The environment the manager records for the version: the file's variables and,
        for a link service, its kind and resolved launch (:meth:`LinkLaunch.environment`)."""
        environment = dict(self.environment)
        if self.kind == "link":
            environment.update(self.link_launch().environment())
        return environment
