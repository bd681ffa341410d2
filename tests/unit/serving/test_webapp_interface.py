"""``mvi.serving.server.webapp.interface_of``: ASGI 3 or WSGI, decided without calling the app."""

from __future__ import annotations

from typing import Any

import pytest

from mvi._exceptions import ProjectError
from mvi.serving.server.webapp import interface_of


async def asgi_function(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI 3 function."""


class AsgiObject:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """An ASGI 3 object, as Starlette's apps are."""


def wsgi_function(environ: Any, start_response: Any) -> list[bytes]:
    return []


class WsgiObject:
    def __call__(self, environ: Any, start_response: Any) -> list[bytes]:
        """A WSGI object, as Flask's apps are."""
        return []


def one_argument(value: Any) -> None:
    """Neither."""


@pytest.mark.parametrize(
    ("app", "interface"),
    [
        (asgi_function, "asgi3"),
        (AsgiObject(), "asgi3"),
        (wsgi_function, "wsgi"),
        (WsgiObject(), "wsgi"),
        (WsgiObject().__call__, "wsgi"),
    ],
    ids=["asgi-function", "asgi-object", "wsgi-function", "wsgi-object", "wsgi-method"],
)
def test_interface_of_an_app(app: Any, interface: str) -> None:
    assert interface_of(app) == interface


@pytest.mark.parametrize("app", [one_argument, 42, "app"], ids=["one-argument", "int", "str"])
def test_something_else_is_a_project_error(app: Any) -> None:
    with pytest.raises(ProjectError, match="APP_MODULE"):
        interface_of(app)


def test_flask_and_starlette_apps_are_told_apart() -> None:
    flask = pytest.importorskip("flask")
    from starlette.applications import Starlette

    assert interface_of(flask.Flask("x")) == "wsgi"
    assert interface_of(Starlette()) == "asgi3"
