"""The typer application behind ``mvi``, and helpers every command module shares."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from mvi._version import __version__

__all__ = ["LOCAL_COMMANDS", "MviTyper", "app", "console", "err_console", "fail"]

LOCAL_COMMANDS = frozenset({"hosts", "init", "login", "run", "test"})
"""Commands of :data:`app` that do not talk to the active manager, so take no ``--host``
(``mvi manager start`` is not on :data:`app` but on a plain sub-app)."""

_HOST_OPTION = Annotated[
    str | None,
    typer.Option(
        "--host",
        metavar="HOST",
        show_default=False,
        help="The manager for this call: an address, or N from `mvi hosts` "
        "(default: the active one).",
    ),
]


def _with_host_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` as a command that also takes ``--host``, which chooses the manager that
    :meth:`mvi.cli.client.ManagerClient.from_settings` talks to during the call."""
    signature = inspect.signature(func, eval_str=True)  # typer reads the annotations
    if "host" in signature.parameters:  # a command with a --host of its own
        return func

    @functools.wraps(func)
    def command(*args: Any, host: str | None = None, **kwargs: Any) -> Any:
        if host is None:
            return func(*args, **kwargs)
        from mvi.cli.client import CliConfig, talking_to

        try:
            url = CliConfig.default().resolve(host)
        except ValueError as exc:
            fail(f"--host {host}: {exc}")
        with talking_to(url):
            return func(*args, **kwargs)

    option = inspect.Parameter("host", inspect.Parameter.KEYWORD_ONLY, annotation=_HOST_OPTION)
    command.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), option.replace(default=None)]
    )
    command.__annotations__ = {**func.__annotations__, "host": _HOST_OPTION}
    return command


class MviTyper(typer.Typer):
    """A typer app whose commands take ``--host HOST`` (or N from ``mvi hosts``): the
    manager for that one call, instead of the active one (see :data:`LOCAL_COMMANDS`)."""

    def command(self, name: str | None = None, **options: Any) -> Callable[[Any], Any]:
        register = super().command(name, **options)

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            command_name = name or func.__name__.replace("_", "-")
            if command_name not in LOCAL_COMMANDS:
                register(_with_host_option(func))
            else:
                register(func)
            return func

        return decorator


app = MviTyper(
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
