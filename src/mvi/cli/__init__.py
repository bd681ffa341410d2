"""The ``mvi`` command line: one typer app, its commands grouped by concern in sibling modules.

Each command module registers its commands on :data:`mvi.cli._app.app` when imported;
importing this package imports them all.
"""

from __future__ import annotations

from mvi.cli._app import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``mvi`` console script."""
    import mvi.cli.commands  # noqa: F401  (registers every command)

    app()
