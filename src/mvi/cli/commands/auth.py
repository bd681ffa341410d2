"""``mvi login``, ``mvi logout`` and ``mvi token create|ls|revoke``.

The password is asked at a prompt that does not echo it (or read from stdin with
``--password-stdin``, for scripts); it is never an argument, so it never lands in the
shell's history or the process list. The token the manager answers with is kept in the
CLI's config file (mode 0600), per manager address, and sent with every later command.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated, Any

import typer

from mvi._exceptions import ManagerError
from mvi.cli._app import app, console, err_console, fail
from mvi.cli.client import CliConfig, ManagerClient, normalize_url
from mvi.cli.render import format_table
from mvi.settings import get_settings

__all__ = ["create", "login", "logout", "revoke", "token_app", "tokens"]

token_app = typer.Typer(
    name="token",
    help="API tokens for scripts and CI: create, list and revoke them.",
    no_args_is_help=True,
)
app.add_typer(token_app)


def _run(func: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return func(*args, **kwargs)
    except ManagerError as exc:
        fail(exc.message)


def _local(moment: str | None) -> str:
    if not moment:
        return "never"
    return f"{datetime.fromisoformat(moment).astimezone():%Y-%m-%d %H:%M}"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True)
    if not password:
        fail("No password given")
    return str(password)


@app.command()
def login(
    host: Annotated[str, typer.Argument(help="The manager's address, e.g. http://127.0.0.1:8000.")],
    user: Annotated[
        str | None,
        typer.Option("--user", "-u", help="User name (asked for when not given; default admin)."),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from stdin (for scripts)."),
    ] = False,
) -> None:
    """Log in to the manager at HOST and use it from now on.

    The password is asked at a prompt (or read from stdin); the token the manager gives is
    saved in the CLI's config directory (mode 0600) and sent with every command.
    """
    settings = get_settings()
    try:
        url = normalize_url(host)
    except ValueError as exc:
        fail(str(exc))
    config = CliConfig.default(settings)
    with ManagerClient(url, settings.cli_timeout) as client:
        health = _run(client.request, "GET", "/api/health")
        token: str | None = None
        if health.headers.get("x-mvi-auth") == "off":
            err_console.print(
                f"Warning: the manager at {url} runs without auth (--no-auth); no login needed.",
                markup=False,
            )
        else:
            if user is None:
                user = "admin" if password_stdin else typer.prompt("User", default="admin")
            password = _read_password(password_stdin)
            body = _run(
                client.json, "POST", "/api/login", json={"username": user, "password": password}
            )
            token = str(body["token"])
            client.set_token(token)
        info = _run(client.json, "GET", "/api/manager")
    _run(config.save, host=url)
    if token is not None:
        _run(config.save_token, url, token)
        console.print(
            f"Logged in as {user}; the token is valid until {_local(body.get('expires_at'))}",
            markup=False,
        )
    console.print(
        f"Using the manager at {url} (mvi {info['version']}, "
        f"{info['services']} version(s) deployed)",
        markup=False,
    )
    if settings.manager_url and normalize_url(settings.manager_url) != url:
        err_console.print(
            f"Note: MVI_MANAGER_URL={settings.manager_url} is set and wins over this host.",
            markup=False,
        )


@app.command()
def logout() -> None:
    """Revoke the saved token of the current manager and forget it."""
    settings = get_settings()
    config = CliConfig.default(settings)
    with ManagerClient.from_settings(settings) as client:
        url = client.url
        if config.token_for(url) is None:
            fail(f"Not logged in to {url}")
        try:
            client.request("POST", "/api/logout")
        except ManagerError as exc:
            if exc.status_code != 401:  # an already dead token is forgotten all the same
                fail(exc.message)
    config.forget_token(url)
    console.print(f"Logged out of {url}", markup=False)


@token_app.command()
def create(
    days: Annotated[
        float, typer.Option(min=0.0001, max=3650, help="Days until the token expires.")
    ] = 30.0,
    note: Annotated[str, typer.Option(help="What the token is for (shown by `ls`).")] = "",
) -> None:
    """Make an API token; it is printed once, alone on stdout (keep it secret).

    Use it with MVI_TOKEN=... for the CLI, or Authorization: Bearer ... for HTTP.
    """
    with ManagerClient.from_settings() as client:
        body = _run(client.json, "POST", "/api/tokens", json={"days": days, "note": note})
    err_console.print(
        f"Token {body['id']} (expires {_local(body.get('expires_at'))}); it is shown only now:",
        markup=False,
    )
    sys.stdout.write(str(body["token"]) + "\n")
    sys.stdout.flush()


@token_app.command("ls")
def tokens(
    every: Annotated[bool, typer.Option("--all", help="Also revoked and expired ones.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List tokens: logins, API tokens and the services' own (never their text)."""
    with ManagerClient.from_settings() as client:
        records = _run(client.json, "GET", "/api/tokens", params={"all": str(every).lower()})
    if as_json:
        console.print(json.dumps(records, indent=2), markup=False, highlight=False)
        return
    rows = [
        [
            ("* " if r["current"] else "") + r["id"],
            r["kind"],
            r["subject"],
            _local(r["created_at"]),
            "revoked" if r["revoked_at"] else _local(r["expires_at"]),
            r["note"],
        ]
        for r in records
    ]
    console.print(
        format_table(("ID", "KIND", "SUBJECT", "CREATED", "EXPIRES", "NOTE"), rows),
        markup=False,
        highlight=False,
    )


@token_app.command()
def revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id (`mvi token ls`).")],
) -> None:
    """Revoke a token: whoever uses it gets 401 from now on."""
    with ManagerClient.from_settings() as client:
        record = _run(client.json, "DELETE", f"/api/tokens/{token_id}")
    console.print(f"Revoked token {record['id']} ({record['kind']}, {record['subject']})")
