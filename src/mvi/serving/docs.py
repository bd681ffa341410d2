"""``/docs`` and ``/redoc`` from vendored files: Swagger UI and ReDoc without a CDN.

FastAPI's own docs pages load their scripts from a CDN (and ReDoc's fonts from Google), so
on a machine without internet they are blank. :func:`install_docs` gives an app the same
two pages, loading Swagger UI and ReDoc from ``src/mvi/serving/assets/`` (refreshed by
``scripts/vendor_assets.py``, pinned and checksummed) under ``{root}/docs/assets/``. The
service's apps and the manager's both use it. The pages carry a Content-Security-Policy
(:data:`DOCS_POLICY`) that lets them load nothing from elsewhere (ReDoc's bundle would
fetch its logo from a CDN).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse

__all__ = ["ASSETS", "ASSETS_PATH", "DOCS_POLICY", "install_docs"]

ASSETS = Path(__file__).parent / "assets"
"""The vendored Swagger UI and ReDoc files."""
ASSETS_PATH = "/docs/assets"
"""Where an app serves them."""

DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'self'"
)
"""The docs pages' CSP: their own origin only (inline scripts and styles are the pages')."""

_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
_CACHE = {"cache-control": "public, max-age=86400"}


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _own_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["content-security-policy"] = DOCS_POLICY
    return page


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs``, ``/docs/oauth2-redirect``, ``/redoc`` and the assets; the app must
    be made with ``docs_url=None, redoc_url=None``."""
    title = app.title
    openapi_url = app.openapi_url or "/openapi.json"
    files = {path.name: path for path in ASSETS.iterdir() if path.suffix in _TYPES}

    @app.get(ASSETS_PATH + "/{filename}", include_in_schema=False)
    async def asset(filename: str) -> FileResponse:
        path = files.get(filename)
        if path is None:
            raise HTTPException(404, f"No documentation asset is named {filename!r}")
        return FileResponse(path, media_type=_TYPES[path.suffix], headers=_CACHE)

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        root = _root(request)
        return _own_only(
            get_swagger_ui_html(
                openapi_url=root + openapi_url,
                title=f"{title} - Swagger UI",
                swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
                oauth2_redirect_url=root + "/docs/oauth2-redirect",
                # no badge from validator.swagger.io (Swagger UI asks it of public hosts)
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return _own_only(
            get_redoc_html(
                openapi_url=root + openapi_url,
                title=f"{title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
                with_google_fonts=False,
            )
        )
