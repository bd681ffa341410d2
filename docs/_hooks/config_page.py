"""The site's configuration page, generated from the settings objects of ``mvi.settings``.

``mkdocs build`` runs this file as a hook: :func:`on_files` puts ``configuration.md``,
rendered by :func:`render_page` from :class:`~mvi.settings.ServiceSettings`,
:class:`~mvi.settings.ManagerSettings` and :class:`~mvi.settings.CLISettings`, in the site,
so the site lists every ``MVI_*`` variable with its type, default, bounds and description.
A field without a description stops the build (:func:`undocumented`).

The same page is kept in the repository as docs/configuration.md, for readers of the
Markdown; tests/unit/docs/ fails when it is stale. ``python docs/_hooks/config_page.py
--write`` writes it again (without ``--write`` the page is printed).
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mvi.settings import CLISettings, ManagerSettings, ServiceSettings

__all__ = ["GROUPS", "main", "on_files", "render_page", "undocumented", "variable_name"]

GROUPS: tuple[tuple[type[Any], str], ...] = (
    (
        ServiceSettings,
        "What a service process reads. The manager writes these into each version's "
        "environment; a service served alone (`mvi run`, `python service.py`) reads them "
        "from its own environment and `.s2i/environment`.",
    ),
    (
        ManagerSettings,
        "What `mvi manager start` reads (its flags `--host`, `--port`, `--data-dir` and "
        "`--no-auth` set `MVI_MANAGER_HOST`, `MVI_MANAGER_PORT`, `MVI_HOME` and "
        "`MVI_MANAGER_AUTH`).",
    ),
    (CLISettings, "What the `mvi` command reads besides `MVI_MANAGER_URL`."),
)
"""The settings groups on the page, in order, each with its introduction."""

PAGE = "configuration.md"

_INTRO = """\
# Configuration

Every setting of mvi is an `MVI_*` environment variable, declared once as a field of the
typed settings in `src/mvi/settings/` (field `x` is read from `MVI_X`). Invalid values stop
the process at start with a message naming the variable. Lists are comma-separated
(`MVI_MANAGER_ALERT_EMAILS=ops@example.com,oncall@example.com`), booleans are
`true`/`false`, secrets are never logged. Limits and timeouts are on by default.

This page is generated from those settings (`python docs/_hooks/config_page.py --write`),
and the site renders it again at every build, so it lists every variable there is.
"""


def variable_name(field: str) -> str:
    """The environment variable of the settings field ``field``."""
    return f"MVI_{field.upper()}"


def _type_text(annotation: Any) -> str:
    """A short, readable name of a field's type."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(f"`{value}`" for value in args)
    if origin in (typing.Union, types.UnionType):
        parts = [_type_text(arg) for arg in args if arg is not type(None)]
        text = " | ".join(parts)
        return f"{text} (optional)" if type(None) in args else text
    if origin is typing.Annotated:
        return _type_text(args[0])
    if origin is list:
        return f"list of {_type_text(args[0])} (comma-separated)"
    if annotation is SecretStr:
        return "secret"
    if annotation is Path:
        return "path"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _default_text(info: FieldInfo) -> str:
    """A field's default as it would be written in the variable (the home dir as ``~``)."""
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{'true' if value else 'false'}`"
    if isinstance(value, list | tuple):
        return f"`{','.join(map(str, value))}`" if value else "empty"
    text = str(value).replace(str(Path.home()), "~")
    return f"`{text}`" if text else "empty"


def _bounds_text(info: FieldInfo) -> str:
    """The numeric bounds of a field, e.g. ``>= 1, <= 64``."""
    bounds = []
    for item in info.metadata:
        for attribute, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(item, attribute, None)
            if value is not None:
                bounds.append(f"{sign} {value}")
    return ", ".join(bounds)


def _cell(text: str) -> str:
    """Text that fits one cell of a Markdown table."""
    return re.sub(r"\s+", " ", text).replace("|", "\\|").strip()


def undocumented(groups: tuple[type[Any], ...] | None = None) -> list[str]:
    """The ``MVI_*`` variables whose field has no description (the page needs one each),
    in ``groups`` (default: every group of the page)."""
    return [
        variable_name(name)
        for group in (groups if groups is not None else tuple(g for g, _ in GROUPS))
        for name, info in group.model_fields.items()
        if not (info.description or "").strip()
    ]


def render_page() -> str:
    """The configuration page as Markdown: one table per settings group."""
    lines = [_INTRO]
    for group, intro in GROUPS:
        lines += [f"## {group.__name__}", "", intro, ""]
        lines += ["| variable | type | default | description |", "|---|---|---|---|"]
        for name, info in group.model_fields.items():
            bounds = _bounds_text(info)
            kind = _type_text(info.annotation) + (f" ({bounds})" if bounds else "")
            description = _cell(info.description or "")
            lines.append(
                f"| `{variable_name(name)}` | {_cell(kind)} | {_cell(_default_text(info))} "
                f"| {description} |"
            )
        lines.append("")
    return "\n".join(lines)


def on_files(files: Any, config: Any) -> Any:
    """mkdocs hook: add the generated configuration page to the site's files."""
    from mkdocs.exceptions import PluginError
    from mkdocs.structure.files import File

    missing = undocumented()
    if missing:
        raise PluginError(
            "These settings have no description; give their Field a description= in "
            "src/mvi/settings/: " + ", ".join(missing)
        )
    existing = files.get_file_from_path(PAGE)
    if existing is not None:
        files.remove(existing)
    files.append(File.generated(config, PAGE, content=render_page()))
    return files


def main(argv: list[str]) -> None:
    """Print the page, or write it to docs/configuration.md with ``--write``."""
    if argv == ["--write"]:
        (Path(__file__).resolve().parents[1] / PAGE).write_text(render_page())
    else:
        print(render_page(), end="")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
