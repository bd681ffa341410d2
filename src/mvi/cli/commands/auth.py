"""``mvi login``, ``mvi logout``, ``mvi hosts`` and ``mvi token create|ls|revoke``.

The password is asked at a prompt that does not echo it (or read from stdin with
``--password-stdin``, for scripts); it is never an argument, so it never lands in the
shell's history or the process list. The token the manager answers with is kept in the
CLI's config file (mode 0600), per manager address, and sent with every later command.
Every host logged in to is remembered: ``mvi hosts`` lists them, numbered, and ``mvi login
N`` (or ``HOST``) switches back to one without a password while its token is valid.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from mvi._exceptions import ManagerError
from mvi.cli._app import MviTyper, app, console, err_console, fail
from mvi.cli.client import DEFAULT_URL, CliConfig, ManagerClient, normalize_url
from mvi.cli.render import format_table
from mvi.settings import get_settings

__all__ = ["create", "hosts", "login", "logout", "revoke", "token_app", "tokens"]

token_app = MviTyper(
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


def _switch(client: ManagerClient, token: str) -> dict[str, Any] | None:
    """The manager's info if ``token`` is still good there, else ``None``."""
    client.set_token(token)
    try:
        info: dict[str, Any] = client.json("GET", "/api/manager")
    except ManagerError as exc:
        if exc.status_code != 401:
            fail(exc.message)
        client.set_token(None)
        return None
    return info


@app.command()
def login(
    host: Annotated[
        str,
        typer.Argument(
            help="The manager's address (e.g. http://127.0.0.1:8000), or N from `mvi hosts`."
        ),
    ],
    user: Annotated[
        str | None,
        typer.Option("--user", "-u", help="User name (asked for when not given; default admin)."),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from stdin (for scripts)."),
    ] = False,
) -> None:
    """Log in to the manager at HOST (or host N of `mvi hosts`) and use it from now on.

    The password is asked at a prompt (or read from stdin); the token the manager gives is
    saved in the CLI's config directory (mode 0600) and sent with every command. A host
    logged in to before is switched to without a password while its saved token is valid
    (--user or --password-stdin log in anew all the same).
    """
    settings = get_settings()
    config = CliConfig.default(settings)
    try:
        url = _run(config.resolve, host)
    except ValueError as exc:
        fail(str(exc))
    noted = _run(config.login_of, url)
    info: dict[str, Any] | None = None
    token: str | None = None
    with ManagerClient(url, settings.cli_timeout) as client:
        health = _run(client.request, "GET", "/api/health")
        if health.headers.get("x-mvi-auth") == "off":
            err_console.print(
                f"Warning: the manager at {url} runs without auth (--no-auth); no login needed.",
                markup=False,
            )
            noted = {"auth": False}
        else:
            saved = _run(config.token_for, url)
            if saved is not None and user is None and not password_stdin:
                info = _switch(client, saved)
                if info is None:
                    err_console.print(
                        f"The token saved for {url} is no longer valid; log in again.",
                        markup=False,
                    )
            if info is None:
                if user is None:
                    user = "admin" if password_stdin else typer.prompt("User", default="admin")
                password = _read_password(password_stdin)
                body = _run(
                    client.json, "POST", "/api/login", json={"username": user, "password": password}
                )
                token = str(body["token"])
                client.set_token(token)
                noted = {"auth": True, "user": user, "expires_at": body.get("expires_at")}
        if info is None:
            info = _run(client.json, "GET", "/api/manager")
    if token is not None:
        _run(config.save_token, url, token)
    _run(config.remember, url, **noted)
    if token is not None:
        console.print(
            f"Logged in as {user}; the token is valid until {_local(noted['expires_at'])}",
            markup=False,
        )
    elif noted.get("auth", True):
        who = f" as {noted['user']}" if noted.get("user") else ""
        until = noted.get("expires_at")
        valid = f"; the token is valid until {_local(until)}" if until else ""
        console.print(f"Switched to {url}, logged in{who}{valid}", markup=False)
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


def _login_state(config: CliConfig, url: str, now: datetime) -> tuple[str | None, str]:
    """The user and the state of the login to ``url``, as ``mvi hosts`` shows them."""
    login = config.login_of(url)
    user = str(login["user"]) if login.get("user") else None
    if login.get("auth") is False:
        return None, "no auth"
    if config.token_for(url) is None:
        return user, "logged out"
    expires = login.get("expires_at")
    if not isinstance(expires, str) or not expires:
        return user, "logged in"
    moment = datetime.fromisoformat(expires)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return user, ("expired" if moment <= now else f"until {_local(expires)}")


@app.command()
def hosts(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the managers logged in to, numbered; * marks the active one.

    Switch with `mvi login N`; talk to another one for a single command with --host N.
    """
    settings = get_settings()
    config = CliConfig.default(settings)
    known = _run(config.hosts)
    saved = _run(config.load).get("host")
    active = (saved if isinstance(saved, str) else None) or DEFAULT_URL
    if settings.manager_url:
        try:
            active = normalize_url(settings.manager_url)
        except ValueError as exc:
            fail(f"MVI_MANAGER_URL: {exc}")
    now = datetime.now().astimezone()
    rows = []
    for number, url in enumerate(known, start=1):
        user, state = _login_state(config, url, now)
        rows.append(
            {"n": number, "url": url, "active": url == active, "user": user, "login": state}
        )
    if as_json:
        console.print(json.dumps(rows, indent=2), markup=False, highlight=False)
        return
    if not rows:
        console.print("No hosts yet: log in with `mvi login HOST`", markup=False)
        return
    table = [
        ["*" if r["active"] else "", str(r["n"]), r["url"], r["user"] or "-", r["login"]]
        for r in rows
    ]
    console.print(
        format_table(("ACTIVE", "N", "HOST", "USER", "LOGIN"), table),
        markup=False,
        highlight=False,
    )
    if settings.manager_url:
        err_console.print(
            f"Note: MVI_MANAGER_URL={settings.manager_url} is set and wins over the saved host.",
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
