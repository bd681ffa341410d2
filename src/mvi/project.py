"""A service project on disk: its folder, its ``.s2i/environment`` and the ``APP_FILE`` it names.

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

from mvi._exceptions import ProjectError

__all__ = [
    "APP_FILE_VARIABLE",
    "DEFAULT_APP_FILE",
    "ENVIRONMENT_FILE",
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

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
    def app_file(self) -> str:
        """The file that starts the service, relative to :attr:`path`."""
        return self.environment.get(APP_FILE_VARIABLE) or DEFAULT_APP_FILE

    @property
    def app_path(self) -> Path:
        """The absolute path of :attr:`app_file`; it must be a file inside the project."""
        name = self.app_file
        if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts:
            raise ProjectError(
                f"{APP_FILE_VARIABLE}={name} in {ENVIRONMENT_FILE} must be a path inside the "
                f"project, relative to {self.path}"
            )
        app = self.path / name
        if not app.is_file():
            raise ProjectError(
                f"{self.path} has no {name}; create it or set {APP_FILE_VARIABLE} in "
                f"{ENVIRONMENT_FILE} to the file that starts the service"
            )
        return app
