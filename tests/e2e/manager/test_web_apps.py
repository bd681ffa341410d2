"""Web apps that are not SDK services, deployed to a real manager and used through its gateway.

A Starlette app (``APP_MODULE``), a WSGI app (``APP_MODULE`` with ``--port``) and a shell
script running ``python -m http.server`` (``APP_SCRIPT``) are deployed with the real CLI;
the tests follow their redirects, asset paths, streams and WebSockets through the gateway
with real clients, with and without the admin's token.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import free_port
from tests.e2e.manager.conftest import Manager, make_project
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

STARLETTE_APP = """\
import asyncio

from starlette.applications import Starlette
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from starlette.responses import StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

closes = []


async def home(request):
    return PlainTextResponse("home of the starlette app")


async def docs(request):
    return PlainTextResponse("the docs page")


async def away(request):
    return RedirectResponse(str(request.url_for("home")))  # http://127.0.0.1:PORT/


async def moved(request):
    return RedirectResponse("/docs/", headers={"refresh": "3; url=/docs/"})


async def page(request):
    prefix = request.headers.get("x-forwarded-prefix", "")
    return HTMLResponse(f'<link rel="stylesheet" href="{prefix}/static/app.css">')


async def css(request):
    return PlainTextResponse("body { color: teal }", media_type="text/css")


async def stream(request):
    async def parts():
        yield b"first\\n"
        await asyncio.sleep(2)
        yield b"second\\n"

    return StreamingResponse(parts(), media_type="text/plain")


async def last_close(request):
    return PlainTextResponse(str(closes[-1] if closes else None))


async def echo(websocket):
    await websocket.accept(subprotocol=(websocket.scope["subprotocols"] or [None])[0])
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                closes.append(message.get("code"))
                return
            if message.get("text") == "bye":
                await websocket.close(4001, "asked to leave")
                return
            if message.get("text") is not None:
                await websocket.send_text("echo: " + message["text"])
            else:
                await websocket.send_bytes(message["bytes"][::-1])
    except WebSocketDisconnect as exc:
        closes.append(exc.code)


app = Starlette(
    routes=[
        Route("/", home, name="home"),
        Route("/docs/", docs),
        Route("/away", away),
        Route("/moved", moved),
        Route("/page", page),
        Route("/static/app.css", css),
        Route("/stream", stream),
        Route("/last-close", last_close),
        WebSocketRoute("/ws", echo),
    ]
)
"""

WSGI_APP = """\
import json
import os


def app(environ, start_response):
    body = json.dumps(
        {
            "path": environ["PATH_INFO"],
            "prefix": environ.get("HTTP_X_FORWARDED_PREFIX"),
            "port": os.environ["PORT"],
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
"""

SCRIPT = """\
set -e
mkdir -p files/sub
echo "served by http.server" > files/sub/hello.txt
cd files
exec python -m http.server "$PORT" --bind 127.0.0.1
"""


@pytest.fixture(scope="module")
def starlette_app(manager: Manager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Starlette app deployed as ``web_starlette`` 1.0.0 (``APP_MODULE=webapp:app``)."""
    root = tmp_path_factory.mktemp("starlette") / "project"
    make_project(
        root, "", environment="APP_MODULE=webapp:app\n", files={"webapp.py": STARLETTE_APP}
    )
    (root / "service.py").unlink()
    manager.ok("deploy", "web_starlette", "1.0.0", str(root))
    yield "web_starlette"
    manager.cli("kill", "web_starlette", "--all", "--yes")


def ws_url(manager: Manager, path: str) -> str:
    return f"ws://127.0.0.1:{manager.port}{path}"


def open_echo(manager: Manager, token: str | None = "admin", **options: Any) -> ClientConnection:
    """A WebSocket to the Starlette app's echo route through the gateway (``token``: the
    admin's by default, ``None`` for none, else that text)."""
    headers = {}
    if token is not None:
        headers["authorization"] = f"Bearer {manager.token if token == 'admin' else token}"
    return connect(
        ws_url(manager, "/services/web_starlette/ws"),
        additional_headers=headers,
        proxy=None,
        open_timeout=10,
        **options,
    )


def test_asgi_app_is_served_at_its_root_behind_the_gateway(
    manager: Manager, starlette_app: str
) -> None:
    response = manager.http.get(f"/services/{starlette_app}/")
    assert response.status_code == 200, response.text
    assert response.text == "home of the starlette app"
    record = manager.record(starlette_app, "1.0.0")
    assert (record["status"], record["app_kind"], record["port_fixed"]) == (
        "running",
        "module",
        False,
    )
    versioned = manager.http.get(f"/services/{starlette_app}_1.0.0/")
    assert versioned.text == "home of the starlette app"


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/docs", "/services/web_starlette/docs/"),  # Starlette's trailing-slash redirect
        ("/away", "/services/web_starlette/"),  # an absolute URL at its own address
        ("/moved", "/services/web_starlette/docs/"),  # an absolute path of the app
    ],
)
def test_redirects_of_a_web_app_stay_behind_the_gateway(
    manager: Manager, starlette_app: str, path: str, location: str
) -> None:
    response = manager.http.get(f"/services/{starlette_app}{path}")
    assert response.status_code in (302, 307), response.text
    assert response.headers["location"] == location
    assert f":{manager.port}" not in response.headers["location"]
    followed = manager.http.get(f"/services/{starlette_app}{path}", follow_redirects=True)
    assert followed.status_code == 200
    assert followed.url.port == manager.port


def test_refresh_header_points_at_the_gateway(manager: Manager, starlette_app: str) -> None:
    response = manager.http.get(f"/services/{starlette_app}/moved")
    assert response.headers["refresh"] == "3; url=/services/web_starlette/docs/"


def test_redirect_of_the_versioned_path_keeps_the_version(
    manager: Manager, starlette_app: str
) -> None:
    response = manager.http.get(f"/services/{starlette_app}_1.0.0/docs")
    assert response.headers["location"] == "/services/web_starlette_1.0.0/docs/"


def test_redirect_without_a_token_is_refused_at_the_gateway(
    manager: Manager, starlette_app: str
) -> None:
    with httpx.Client(base_url=manager.url, trust_env=False) as anonymous:
        response = anonymous.get(f"/services/{starlette_app}/docs")
    assert response.status_code == 401


def test_asset_path_built_from_the_forwarded_prefix_loads(
    manager: Manager, starlette_app: str
) -> None:
    page = manager.http.get(f"/services/{starlette_app}/page")
    assert page.text == '<link rel="stylesheet" href="/services/web_starlette/static/app.css">'
    asset = manager.http.get("/services/web_starlette/static/app.css")
    assert asset.status_code == 200
    assert asset.text == "body { color: teal }"


def test_streaming_answer_of_a_web_app_is_not_buffered(
    manager: Manager, starlette_app: str
) -> None:
    started = time.monotonic()
    with manager.http.stream("GET", f"/services/{starlette_app}/stream") as response:
        chunks = response.iter_raw()
        first = next(chunks)
        first_at = time.monotonic() - started
        rest = b"".join(chunks)
    assert first == b"first\n"
    assert rest == b"second\n"
    assert first_at < 1.8, f"the first chunk came after {first_at:.2f}s: the stream was buffered"


def test_websocket_echo_through_the_gateway(manager: Manager, starlette_app: str) -> None:
    with open_echo(manager, subprotocols=["echo.v1"]) as ws:
        assert ws.subprotocol == "echo.v1"
        ws.send("hello")
        assert ws.recv(timeout=10) == "echo: hello"
        ws.send(b"\x01\x02\x03")
        assert ws.recv(timeout=10) == b"\x03\x02\x01"


def test_websocket_without_a_token_is_refused(manager: Manager, starlette_app: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        open_echo(manager, token=None)
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as forged:
        open_echo(manager, token="not-a-token")
    assert forged.value.response.status_code == 403


def test_websocket_close_of_the_app_reaches_the_client(
    manager: Manager, starlette_app: str
) -> None:
    with open_echo(manager) as ws:
        ws.send("bye")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "asked to leave")


def test_websocket_close_of_the_client_reaches_the_app(
    manager: Manager, starlette_app: str
) -> None:
    with open_echo(manager) as ws:
        ws.send("ping")
        assert ws.recv(timeout=10) == "echo: ping"
        ws.close(4002, "client leaves")
    deadline = time.monotonic() + 10
    while manager.http.get(f"/services/{starlette_app}/last-close").text != "4002":
        assert time.monotonic() < deadline, "the app never saw the client's close"
        time.sleep(0.1)


def test_websocket_message_over_the_limit_closes_with_1009(
    manager: Manager, starlette_app: str
) -> None:
    with open_echo(manager, max_size=None) as ws:
        ws.send("x" * (17 * 1024 * 1024))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=20)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


def test_wsgi_app_with_a_fixed_port(manager: Manager, tmp_path: Path) -> None:
    root = make_project(tmp_path / "wsgi", "", environment="APP_MODULE=wsgi_app:app\n")
    (root / "service.py").unlink()
    (root / "wsgi_app.py").write_text(WSGI_APP)
    port = free_port()
    manager.ok("deploy", "web_wsgi", "1.0.0", str(root), "--port", str(port))
    try:
        record = manager.record("web_wsgi", "1.0.0")
        assert (record["status"], record["port"], record["port_fixed"]) == ("running", port, True)
        assert record["app_kind"] == "module"
        answer = manager.http.get("/services/web_wsgi/some/path", params={"q": "1"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "path": "/some/path",
            "prefix": "/services/web_wsgi",
            "port": str(port),
        }
        taken = manager.cli("deploy", "web_wsgi", "2.0.0", str(root), "--port", str(port))
        assert taken.returncode != 0
        assert f"Port {port} is in use" in taken.stdout + taken.stderr
    finally:
        manager.cli("kill", "web_wsgi", "--all", "--yes")


def test_script_app_serves_and_its_redirects_stay_behind_the_gateway(
    manager: Manager, tmp_path: Path
) -> None:
    root = make_project(tmp_path / "script", "", environment="APP_SCRIPT=start.sh\n")
    (root / "service.py").unlink()
    (root / "start.sh").write_text(SCRIPT)
    manager.ok("deploy", "web_script", "1.0.0", str(root))
    try:
        listing = manager.http.get("/services/web_script/")
        assert listing.status_code == 200
        assert "sub/" in listing.text
        redirect = manager.http.get("/services/web_script/sub")
        assert redirect.status_code == 301
        assert redirect.headers["location"] == "/services/web_script/sub/"
        hello = manager.http.get("/services/web_script/sub/hello.txt")
        assert hello.text == "served by http.server\n"
        logs = manager.ok("logs", "web_script", "1.0.0").stdout
        assert "GET /sub/hello.txt" in logs
        record = manager.record("web_script", "1.0.0")
        assert (record["restarts"], record["app_kind"]) == (0, "script")
        os.kill(record["pid"], signal.SIGKILL)  # a crash: supervised as an SDK service is
        deadline = time.monotonic() + 60
        while (record := manager.record("web_script", "1.0.0"))["restarts"] < 1 or record[
            "status"
        ] != "running":
            assert time.monotonic() < deadline, f"not restarted: {record}"
            time.sleep(0.2)
        assert manager.http.get("/services/web_script/sub/hello.txt").status_code == 200
    finally:
        manager.cli("kill", "web_script", "--all", "--yes")


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [("own", True), ("http://evil.example", False), (None, False)],
    ids=["own-origin", "other-site", "no-origin"],
)
def test_websocket_with_the_login_cookie_must_come_from_the_managers_origin(
    manager: Manager, starlette_app: str, origin: str | None, accepted: bool
) -> None:
    options: dict[str, Any] = {
        "additional_headers": {"cookie": f"mvi_token={manager.token}"},
        "proxy": None,
        "open_timeout": 10,
    }
    if origin is not None:
        options["origin"] = manager.url if origin == "own" else origin
    url = ws_url(manager, f"/services/{starlette_app}/ws")
    if not accepted:
        with pytest.raises(InvalidStatus) as refused:
            connect(url, **options)
        assert refused.value.response.status_code == 403
        return
    with connect(url, **options) as ws:
        ws.send("with the cookie")
        assert ws.recv(timeout=10) == "echo: with the cookie"
