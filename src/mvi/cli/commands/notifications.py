"""``mvi notifications``: list what services (and the manager) raised, or clear it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

import typer

from mvi._exceptions import ManagerError
from mvi.cli._app import app, console, fail
from mvi.cli.client import ManagerClient
from mvi.cli.render import format_table

__all__ = ["notification_rows", "notifications"]

NOTIFICATION_HEADERS = ("LAST", "SEVERITY", "SERVICE", "VERSION", "COUNT", "FIRST", "MESSAGE")
_MESSAGE_WIDTH = 80


def _local(moment: str) -> str:
    return f"{datetime.fromisoformat(moment).astimezone():%Y-%m-%d %H:%M:%S}"


def notification_rows(records: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Table rows of API notification records (the message's first line, shortened)."""
    rows = []
    for record in records:
        text = str(record["message"]).strip()
        first = text.splitlines()[0] if text else ""
        if len(first) > _MESSAGE_WIDTH or first != text:
            first = first[: _MESSAGE_WIDTH - 3] + "..."
        rows.append(
            [
                _local(record["last_at"]),
                str(record["severity"]),
                str(record["service"]),
                str(record["version"]),
                str(record["count"]),
                _local(record["first_at"]),
                first,
            ]
        )
    return rows


@app.command()
def notifications(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (full messages).")] = False,
    every: Annotated[
        bool, typer.Option("--all", help="Also those raised with dashboard=False.")
    ] = False,
    service: Annotated[str | None, typer.Option(help="Only this service's.")] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Delete them (all, or --service's).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """List notifications, the most recent first: severity, service, how often, since when."""
    params = {"all": str(every).lower()}
    if service:
        params["service"] = service
    try:
        with ManagerClient.from_settings() as client:
            if clear:
                if not yes:
                    what = f"of {service}" if service else "of every service"
                    typer.confirm(f"Delete the notifications {what}?", abort=True)
                query = {"service": service} if service else {}
                body = client.json("DELETE", "/api/notifications", params=query)
                console.print(f"Deleted {body['deleted']} notification(s)", markup=False)
                return
            records = client.json("GET", "/api/notifications", params=params)
    except ManagerError as exc:
        fail(exc.message)
    if as_json:
        console.print(json.dumps(records, indent=2), markup=False, highlight=False)
    elif not records:
        console.print("No notifications.", markup=False)
    else:
        console.print(
            format_table(NOTIFICATION_HEADERS, notification_rows(records)),
            markup=False,
            highlight=False,
        )
