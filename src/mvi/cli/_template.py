"""The project template that ``mvi init`` renders (the files under ``mvi/cli/template/``).

Every template file ends in ``.jinja`` (so that linters and type checkers leave it alone) and
is rendered with Jinja2; the rendered file drops that suffix. A project is written into a
hidden sibling folder first and renamed into place, so a failure leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import uuid
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import jinja2

from mvi._exceptions import ProjectError
from mvi.project import check_project_name

__all__ = ["TEMPLATE_SUFFIX", "create_project", "render_template"]

TEMPLATE_SUFFIX = ".jinja"
"""Suffix of every template file; the rendered file's name is the name without it."""


def _template_files(folder: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found: list[tuple[str, Traversable]] = []
    for entry in folder.iterdir():
        if entry.is_dir():
            if entry.name != "__pycache__":
                found += _template_files(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(TEMPLATE_SUFFIX):
            found.append((prefix + entry.name.removesuffix(TEMPLATE_SUFFIX), entry))
    return sorted(found, key=lambda item: item[0])


def render_template(project_name: str) -> dict[str, str]:
    """The files of a new project named ``project_name``: relative POSIX path -> text.

    Raises :class:`~mvi._exceptions.ProjectError` if the name cannot name a project.
    """
    check_project_name(project_name)
    context = {"project_name": project_name, "service_name": project_name.lower()}
    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    root = files("mvi.cli").joinpath("template")
    return {
        path: environment.from_string(source.read_text(encoding="utf-8")).render(context)
        for path, source in _template_files(root)
    }


def create_project(project_name: str, parent: str | Path) -> Path:
    """Render the template into ``parent/project_name`` and return that folder.

    ``parent`` is created if needed; the project folder must not exist or be empty.
    Raises :class:`~mvi._exceptions.ProjectError` (and creates nothing) if the name is
    invalid, the folder is taken or cannot be written.
    """
    rendered = render_template(project_name)
    parent = Path(parent).expanduser()
    target = parent / project_name
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ProjectError(f"{target} already exists and is not a folder; choose another name")
    if target.is_dir() and any(target.iterdir()):
        raise ProjectError(
            f"{target} already exists and is not empty; choose another name or remove it"
        )
    if parent.exists() and not parent.is_dir():
        raise ProjectError(f"{parent} is not a folder; give the folder to create the project in")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = parent / f".{project_name}.mvi-init-{uuid.uuid4().hex[:12]}"
        staging.mkdir()
    except OSError as exc:
        raise ProjectError(f"cannot create the project in {parent}: {exc}") from exc
    try:
        for relative, text in rendered.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        # Atomic; an empty folder at the target is replaced, anything else makes this fail.
        os.replace(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ProjectError(f"cannot create {target}: {exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target.resolve()
