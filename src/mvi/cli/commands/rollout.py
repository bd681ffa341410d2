"""The rollout commands: shadow, shadow-report and rollback (``mvi assign`` is in
:mod:`mvi.cli.commands.services`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer

from mvi._exceptions import ManagerError
from mvi.cli._app import app, console, fail
from mvi.cli.client import ManagerClient
from mvi.cli.render import format_table, services_table

__all__ = ["SHADOW_HEADERS", "rollback", "shadow", "shadow_report", "shadow_table"]

SHADOW_HEADERS = (
    "VERSION",
    "STATUS",
    "MIRRORING",
    "MIRRORED",
    "DROPPED",
    "ERRORS",
    "P50",
    "P99",
    "EQUAL",
)
"""The columns of ``mvi shadow-report``."""


def _json(method: str, path: str, **kwargs: Any) -> Any:
    """One API call; a manager error becomes one clear line and a non-zero exit."""
    try:
        with ManagerClient.from_settings() as client:
            return client.json(method, path, **kwargs)
    except ManagerError as exc:
        fail(exc.message)


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def _mirroring(record: Mapping[str, Any]) -> str:
    if not record["enabled"]:
        return "off"
    state = f"on, {record['percent']}%"
    return state if record["status"] == "running" else f"{state} (not running)"


def _equal(record: Mapping[str, Any]) -> str:
    if record["equal_share"] is None:
        return "-"
    return f"{record['equal_share']:.1%} of {record['compared']}"


def shadow_table(shadows: Sequence[Mapping[str, Any]]) -> str:
    """The table ``mvi shadow-report`` prints for the API's shadow records."""
    rows = [
        [
            str(s["version"]),
            str(s["status"]),
            _mirroring(s),
            str(s["mirrored"]),
            str(s["dropped"]),
            str(s["errors"]),
            _ms(s["latency_p50_ms"]),
            _ms(s["latency_p99_ms"]),
            _equal(s),
        ]
        for s in shadows
    ]
    return format_table(SHADOW_HEADERS, rows)


@app.command()
def shadow(
    name: Annotated[str, typer.Argument(help="Service name.")],
    version: Annotated[str, typer.Argument(help="The (shadow) version.")],
    on: Annotated[
        bool | None,
        typer.Option("--on/--off", help="Mirror the main's requests to it, or stop."),
    ] = None,
    percent: Annotated[
        int | None,
        typer.Option(
            "--percent", min=0, max=100, help="Share (0-100) of the main's requests it gets."
        ),
    ] = None,
) -> None:
    """Turn mirroring to a shadow version on or off, or set its share of the traffic.

    Every version of NAME but the main is a shadow unless turned off: it gets a copy of
    each request to /services/NAME/... (POST entrypoint calls by default), whose answer is
    compared with the main's and never returned. See `mvi shadow-report NAME`.
    """
    if on is None and percent is None:
        fail("Give --on, --off or --percent P (see `mvi shadow --help`)")
    body: dict[str, Any] = {}
    if on is not None:
        body["enabled"] = on
    if percent is not None:
        body["percent"] = percent
    record = _json("PATCH", f"/api/services/{name}/{version}/shadow", json=body)
    state = f"on, {record['shadow_percent']}% of requests" if record["shadow"] else "off"
    note = " (it is the main now: this applies once another version is main)"
    console.print(
        f"Mirroring to {name} {version}: {state}{note if record['main'] else ''}", markup=False
    )


@app.command("shadow-report")
def shadow_report(
    name: Annotated[str, typer.Argument(help="Service name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show, per shadow of NAME: copies mirrored and dropped, errors (>= 500 or no answer),
    latency p50/p99, and the share of answers equal to the main's (as parsed JSON).

    The figures live in the manager's memory (since it started, or the version was
    deployed).
    """
    report = _json("GET", f"/api/services/{name}/shadows")
    if as_json:
        console.print(json.dumps(report, indent=2), markup=False, highlight=False)
        return
    console.print(f"{name}: main version {report['main']}", markup=False)
    if not report["shadows"]:
        console.print(
            f"No shadows: deploy another version of {name} to mirror its traffic to it.",
            markup=False,
        )
        return
    console.print(shadow_table(report["shadows"]), markup=False, highlight=False)


@app.command()
def rollback(
    name: Annotated[str, typer.Argument(help="Service name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Make the previous main version of NAME the main again (the current one keeps
    running, as a shadow)."""
    if not yes:
        typer.confirm(
            f"Return {name} to its previous main version? Requests to /services/{name}/... "
            "will go to it",
            abort=True,
        )
    records = _json("POST", f"/api/services/{name}/rollback")
    main = next(r for r in records if r["main"])
    console.print(f"{name} {main['version']} is the main version again", markup=False)
    console.print(services_table(records), markup=False, highlight=False)
