"""Notebook services: write a notebook cell out as a service project, ready for ``mvi deploy``.

In a Jupyter or IPython session (``pip install 'mvi[notebook]'``)::

    %load_ext mvi.notebook

    %%service_cell my_service
    from mvi import service
    import numpy as np

    @service.entrypoint
    def total(values: list[float]) -> float:
        return float(np.sum(values))

writes ``my_service/service.py`` (the cell, plus the ``service.run()`` that starts it when
the cell has none), ``my_service/requirements.txt`` (the packages the cell imports, pinned
to the versions installed in the kernel) and ``my_service/.s2i/environment`` (kept if it
exists). The cell is written, not run: running it would start serving inside the kernel.
Serve the folder with ``mvi run my_service`` or deploy it with ``mvi deploy NAME VERSION
my_service``. Running the cell again rewrites ``service.py`` and ``requirements.txt``.
"""

from __future__ import annotations

import ast
import os
import shlex
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from mvi._exceptions import ProjectError
from mvi.project import (
    APP_FILE_VARIABLE,
    DEFAULT_APP_FILE,
    ENVIRONMENT_FILE,
    parse_environment,
)

__all__ = ["ServiceCell", "load_ipython_extension", "requirements_of", "write_service"]

_RUN = '\n\nif __name__ == "__main__":\n    service.run()\n'
_ENVIRONMENT = (
    "# The service's environment, one KEY=VALUE a line; read by `mvi run` and `mvi deploy`.\n"
    f"{APP_FILE_VARIABLE}={DEFAULT_APP_FILE}\n"
)
_REQUIREMENTS_HEADER = (
    "# Written by %%service_cell from the cell's imports, pinned to the kernel's versions;\n"
    "# running the cell again rewrites this file. mvi itself is provided where it runs.\n"
)


@dataclass(frozen=True)
class ServiceCell:
    """What :func:`write_service` wrote: the project folder and its requirements."""

    path: Path
    """The project folder."""
    requirements: tuple[str, ...]
    """The pinned requirements (``numpy==2.1.0``, ...)."""
    unknown: tuple[str, ...]
    """Imported modules that no installed distribution provides."""
    added_run: bool
    """Whether ``service.run()`` was appended to the cell."""


def _parse(source: str) -> ast.Module:
    try:
        return ast.parse(source, filename=DEFAULT_APP_FILE)
    except SyntaxError as exc:
        hint = ""
        line = (exc.text or "").strip()
        if line.startswith(("%", "!")):
            hint = " (a magic or shell command: a service file must be plain Python)"
        raise ProjectError(
            f"line {exc.lineno} of the cell is not Python{hint}: {exc.msg}"
        ) from None


def _imported_modules(tree: ast.Module) -> list[str]:
    """Top-level names of the absolute imports in ``tree``, in order of first import."""
    found: list[str] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top not in found:
                found.append(top)
    return found


def requirements_of(source: str, folder: Path | None = None) -> tuple[list[str], list[str]]:
    """The requirements of a service's ``source``: the installed distributions of the
    modules it imports, pinned (``name==version``), and the imported modules that none
    provides. The standard library, mvi, and modules found in ``folder`` are left out.
    """
    provided = metadata.packages_distributions()
    requirements: list[str] = []
    unknown: list[str] = []
    for module in _imported_modules(_parse(source)):
        if module in sys.stdlib_module_names or module in {"__future__", "mvi"}:
            continue
        if folder is not None and (
            (folder / f"{module}.py").is_file() or (folder / module).is_dir()
        ):
            continue
        distributions = provided.get(module)
        if not distributions:
            unknown.append(module)
            continue
        for distribution in distributions:
            pinned = f"{distribution}=={metadata.version(distribution)}"
            if distribution.lower() != "mvi" and pinned not in requirements:
                requirements.append(pinned)
    return requirements, unknown


def _runs_service(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "run"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "service"
        for node in ast.walk(tree)
    )


def _binds_service(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and any(
            (alias.asname or alias.name) == "service" for alias in node.names
        ):
            return True
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "service" for target in node.targets
        ):
            return True
    return False


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_service(path: str | Path, source: str) -> ServiceCell:
    """Write ``source`` (a cell) as the service project ``path``: ``service.py``,
    ``requirements.txt`` and ``.s2i/environment`` (kept when it exists).

    Raises :class:`mvi._exceptions.ProjectError`, writing nothing, if the cell is not
    Python, has no ``service`` to run, or ``path`` cannot hold the project.
    """
    folder = Path(path).expanduser()
    tree = _parse(source)
    added_run = not _runs_service(tree)
    if added_run and not _binds_service(tree):
        raise ProjectError(
            "the cell has no service to run: start it with `from mvi import service` and "
            "decorate its functions with @service.entrypoint"
        )
    if folder.exists() and not folder.is_dir():
        raise ProjectError(f"{folder} is a file; give a folder for the service project")
    environment_file = folder / ENVIRONMENT_FILE
    if environment_file.is_file():
        text = environment_file.read_text(encoding="utf-8")
        app_file = parse_environment(text, str(environment_file)).get(APP_FILE_VARIABLE)
        if app_file not in (None, "", DEFAULT_APP_FILE):
            raise ProjectError(
                f"{environment_file} runs {APP_FILE_VARIABLE}={app_file}, not the cell's "
                f"{DEFAULT_APP_FILE}; remove that line or choose another folder"
            )
    requirements, unknown = requirements_of(source, folder)
    lines = [_REQUIREMENTS_HEADER, *(f"{r}\n" for r in requirements)]
    lines += [f"# {m}: imported, but no installed package provides it; add it\n" for m in unknown]
    code = source.rstrip("\n") + (_RUN if added_run else "\n")
    try:
        environment_file.parent.mkdir(parents=True, exist_ok=True)
        _write(folder / DEFAULT_APP_FILE, code)
        _write(folder / "requirements.txt", "".join(lines))
        if not environment_file.exists():
            _write(environment_file, _ENVIRONMENT)
    except OSError as exc:
        raise ProjectError(f"cannot write the service project {folder}: {exc}") from exc
    return ServiceCell(folder, tuple(requirements), tuple(unknown), added_run)


def _path_of(line: str) -> str:
    """The PATH of a ``%%service_cell PATH`` line (shell quoting allowed)."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise ProjectError(f"{exc}; use %%service_cell PATH") from None
    if len(words) != 1:
        raise ProjectError("use %%service_cell PATH (one folder; quote it if it has spaces)")
    return words[0]


def service_cell(line: str, cell: str) -> None:
    """The ``%%service_cell PATH`` cell magic: write the cell as the service project PATH."""
    from IPython.core.error import UsageError

    try:
        written = write_service(_path_of(line), cell)
    except ProjectError as exc:
        raise UsageError(str(exc)) from None
    shown = written.path
    pinned = ", ".join(written.requirements) or "nothing to install"
    print(f"Wrote {shown}/{DEFAULT_APP_FILE}, requirements.txt ({pinned}), {ENVIRONMENT_FILE}")
    if written.added_run:
        print('Added `service.run()` at the end, under `if __name__ == "__main__":`')
    for module in written.unknown:
        print(f"Warning: no installed package provides {module!r}; add it to requirements.txt")
    print(f"Serve it with `mvi run {shown}`, deploy it with `mvi deploy NAME VERSION {shown}`")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext mvi.notebook``: register the ``%%service_cell`` magic."""
    ipython.register_magic_function(service_cell, magic_kind="cell", magic_name="service_cell")
