"""``mvi link``: run a link service file (seed 004's command line, its flags as they were).

The flags are parsed by :mod:`mvi.links.cli`, the same parser as ``python -m mvi.links``,
so that the seed's short flags (``-wt``, ``-cl``, ``-bc``, ...) and the extra ``--key
value`` config pairs reach it untouched.
"""

from __future__ import annotations

import typer

from mvi.cli._app import app
from mvi.links.cli import main as run_link

__all__ = ["link"]


@app.command(
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "help_option_names": [],
    },
    add_help_option=False,
)
def link(ctx: typer.Context) -> None:
    """Run a link service: -s service.py [-a addresses.json] [-c config.json] [-m] ...
    (mvi link -h lists the flags)."""
    raise typer.Exit(run_link(list(ctx.args), prog="mvi link"))
