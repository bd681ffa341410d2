"""The dashboard: the manager's pages for people, served at ``/`` and ``/dashboard/...``.

Server-rendered with Jinja2 (``templates/``), with small vendored scripts (``static/vendor/``:
htmx for partial updates, uPlot for plots; refreshed by ``scripts/vendor_assets.py``):
every asset comes from the package, no page asks anything of another machine. Modules:
``pages.py`` (the pages and fragments), ``actions.py`` (the changes), ``streams.py`` (live
log and deploy progress as server-sent events), ``shadow_history.py`` (the shadow page's
figures), ``rendering.py`` (templates, CSRF token, badge, calls to a version), ``views.py``
(what the pages show, I/O-free). See docs/dashboard.md.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from mvi.manager.dashboard import actions, pages, streams
from mvi.manager.dashboard.rendering import STATIC

__all__ = ["STATIC_PATH", "install_dashboard"]

STATIC_PATH = "/dashboard/static"
"""Where the dashboard's scripts and styles are served (open, like the login page)."""


def install_dashboard(app: FastAPI) -> None:
    """Add the dashboard's routes and static files to the manager's app."""
    router = APIRouter(include_in_schema=False)
    router.include_router(pages.router)
    router.include_router(streams.router)
    router.include_router(actions.router)
    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="dashboard-static")
