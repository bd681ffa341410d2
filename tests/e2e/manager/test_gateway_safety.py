"""Service content never acts with the manager's credentials, against a real manager that
also serves the gateway on a port of its own, with real deployed services: every gateway
answer is sandboxed (CSP) and not sniffed; a change made with the login cookie needs the
session's CSRF token and the manager's origin (a bearer token needs neither); the main
port's gateway refuses the cookie; redirects never follow a forged Host; the client's
X-Forwarded-* are replaced; and the gateway routes and forwards one and the same path."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.conftest import free_port
from tests.e2e.manager.conftest import ADMIN_PASSWORD, Manager, make_project, new_manager

from mvi.manager.gateway.headers import SANDBOX, SANDBOX_OWN_ORIGIN

SAFETY = """\
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from mvi import service

service.add_parameter("greeting_phrase", "Hello")


@service.entrypoint
def hello(name: str) -> str:
    return f"{service.get_parameter('greeting_phrase')} {name}"


@service.app.get("/headers")
def headers(request: Request) -> dict:
    names = ("x-forwarded-host", "x-forwarded-proto", "x-forwarded-for", "forwarded", "x-real-ip")
    return {name: request.headers.getlist(name) for name in names}


@service.app.get("/page", response_class=HTMLResponse)
def page() -> str:
    return "<script>fetch('/api/tokens', {method: 'POST', body: '{}'})</script>"


@service.app.get("/go")
def go(request: Request) -> RedirectResponse:
    return RedirectResponse(str(request.url_for("page")))


if __name__ == "__main__":
    service.run()
"""
NAME = "safety"


@pytest.fixture(scope="module")
def safe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    base = tmp_path_factory.mktemp("safety")
    gateway_port = free_port()
    handle = new_manager(base, MVI_MANAGER_GATEWAY_PORT=str(gateway_port))
    handle.env["MVI_MANAGER_PUBLIC_URL"] = handle.url
    handle.start()
    project = make_project(base / "project", SAFETY)
    try:
        handle.ok("deploy", NAME, "1.0.0", str(project))
        handle.ok("deploy", NAME, "1.1.0", str(project))  # a shadow of 1.0.0
        yield handle
    finally:
        handle.cleanup()


@pytest.fixture(scope="module")
def gateway_url(safe: Manager) -> str:
    return f"http://127.0.0.1:{safe.env['MVI_MANAGER_GATEWAY_PORT']}"


@pytest.fixture(scope="module")
def browser(safe: Manager) -> Iterator[tuple[httpx.Client, str]]:
    """A client logged in the way a browser is (the cookie), and its CSRF token."""
    with httpx.Client(base_url=safe.url, timeout=60, trust_env=False) as client:
        answer = client.post("/api/login", json={"password": ADMIN_PASSWORD, "cookie": True})
        assert answer.status_code == 200, answer.text
        token = answer.json()["csrf_token"]
        assert client.cookies["mvi_csrf"] == token and client.cookies["mvi_token"]
        yield client, token


def pid_of(manager: Manager, version: str = "1.0.0") -> Any:
    return manager.record(NAME, version)["pid"]


def parameter(manager: Manager, version: str) -> Any:
    return manager.http.get(f"/services/{NAME}_{version}/~parameters/greeting_phrase").json()


# -- the sandbox ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", [f"/services/{NAME}/page", "/services/nothing/x"])
def test_every_gateway_answer_is_sandboxed_and_not_sniffed(
    safe: Manager, gateway_url: str, path: str
) -> None:
    for base, policy in ((safe.url, SANDBOX), (gateway_url, SANDBOX_OWN_ORIGIN)):
        answer = safe.http.get(base + path)
        assert answer.headers["content-security-policy"] == policy
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert "allow-same-origin" not in SANDBOX


def test_the_gateway_port_serves_the_gateway_only(safe: Manager, gateway_url: str) -> None:
    assert safe.http.post(f"{gateway_url}/services/{NAME}/hello", json={"name": "a"}).json() == (
        "Hello a"
    )
    assert safe.http.get(f"{gateway_url}/api/services").status_code == 404


# -- CSRF ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "needs"),
    [
        ({"origin": "http://evil.example"}, "must come from"),
        ({"origin": "null"}, "must come from"),
        ({}, "Origin header"),
        ({"origin": "{own}"}, "CSRF token"),
        ({"origin": "{own}", "x-csrf-token": "forged"}, "does not belong"),
        ({"origin": "http://evil.example", "x-csrf-token": "{token}"}, "must come from"),
    ],
)
def test_a_cookie_change_without_the_token_or_from_elsewhere_changes_nothing(
    safe: Manager, browser: tuple[httpx.Client, str], headers: dict[str, str], needs: str
) -> None:
    client, token = browser
    sent = {k: v.format(own=safe.url, token=token) for k, v in headers.items()}
    before = pid_of(safe)
    restart = client.post(f"/api/services/{NAME}/1.0.0/restart", headers=sent)
    assert restart.status_code == 403, restart.text
    assert needs in restart.json()["detail"]
    made = client.post("/api/tokens", json={"days": 1}, headers=sent)
    assert made.status_code == 403 and "token" not in made.json()
    assert pid_of(safe) == before


def test_a_cookie_change_with_the_token_from_the_managers_origin_is_done(
    safe: Manager, browser: tuple[httpx.Client, str]
) -> None:
    client, token = browser
    own = {"origin": safe.url, "x-csrf-token": token}
    assert client.post("/api/tokens", json={"days": 1}, headers=own).status_code == 201
    before = pid_of(safe)
    form = client.post(
        f"/api/services/{NAME}/1.0.0/restart",
        content=f"csrf_token={token}".encode(),
        headers={"origin": safe.url, "content-type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 200, form.text
    assert pid_of(safe) != before


def test_a_bearer_request_needs_neither_token_nor_origin(safe: Manager) -> None:
    evil = {"origin": "http://evil.example"}
    assert safe.http.post("/api/tokens", json={"days": 1}, headers=evil).status_code == 201


def test_the_cookie_works_on_the_gateway_port_only_and_with_the_token(
    safe: Manager, browser: tuple[httpx.Client, str], gateway_url: str
) -> None:
    client, token = browser
    body = {"name": "b"}
    main_port = client.post(f"/services/{NAME}/hello", json=body)
    assert main_port.status_code == 403 and "gateway" in main_port.json()["detail"]
    url = f"{gateway_url}/services/{NAME}/hello"
    assert client.get(f"{gateway_url}/services/{NAME}/~ready").status_code == 200
    assert client.post(url, json=body, headers={"origin": gateway_url}).status_code == 403
    ok = client.post(url, json=body, headers={"origin": gateway_url, "x-csrf-token": token})
    assert ok.status_code == 200 and ok.json() == "Hello b"
    evil = client.post(url, json=body, headers={"origin": safe.url, "x-csrf-token": token})
    assert evil.status_code == 403  # the manager's page is not the gateway's origin


# -- redirects and forwarded headers -----------------------------------------------------------
def test_redirects_never_follow_a_forged_host(safe: Manager) -> None:
    answer = safe.http.get("/api/services/", headers={"host": "evil.example"})
    assert answer.status_code in (307, 308), answer.text
    assert answer.headers["location"] == "/api/services"
    service = safe.http.get(f"/services/{NAME}/go")
    assert service.status_code == 307
    assert service.headers["location"] == f"/services/{NAME}/page"  # under the root the client used


def test_the_clients_forwarded_headers_are_replaced(safe: Manager) -> None:
    forged = {
        "x-forwarded-host": "evil.example",
        "x-forwarded-proto": "https",
        "forwarded": "for=1.2.3.4;host=evil.example;proto=https",
        "x-real-ip": "1.2.3.4",
    }
    seen = safe.http.get(f"/services/{NAME}/headers", headers=forged).json()
    assert seen["x-forwarded-host"] == [safe.url.removeprefix("http://")]
    assert seen["x-forwarded-proto"] == ["http"]
    assert seen["forwarded"] == [] and seen["x-real-ip"] == []
    assert seen["x-forwarded-for"][-1].endswith("127.0.0.1")


# -- one path, routed and forwarded -----------------------------------------------------------
def raw_request(manager: Manager, method: str, target: str, body: bytes = b"") -> bytes:
    request = (
        f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{manager.port}\r\n"
        f"Authorization: Bearer {manager.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", manager.port), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(
    "target",
    [
        f"/services/{NAME}%2fxx/~parameters/greeting_phrase",
        f"/services/{NAME}%2Fxx/~parameters/greeting_phrase",
        f"/services/{NAME}/xx/%2e%2e/~parameters/greeting_phrase",
        f"/services/{NAME}/xx/../~parameters/greeting_phrase",
    ],
)
def test_an_encoded_slash_or_dot_segment_changes_no_parameter(safe: Manager, target: str) -> None:
    answer = raw_request(safe, "POST", target, b'{"value": "pwned"}')
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert target.encode() in answer  # the error names the path
    assert parameter(safe, "1.0.0") == parameter(safe, "1.1.0") == "Hello"
