"""The typer application behind ``mvi``, and helpers every command module shares."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from mvi._version import __version__

__all__ = ["app", "console", "err_console", "fail"]

app = typer.Typer(
    name="mvi",
    help="Turn typed Python functions into services, and run many of them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clear error line on stderr and exit non-zero."""
    err_console.print(f"[bold red]Error:[/] {escape(message)}", markup=True)
    raise typer.Exit(code)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"mvi {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Turn typed Python functions into services, and run many of them."""
