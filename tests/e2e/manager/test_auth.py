"""Auth end to end: a real manager (auth on by default), real deployed services and the real
``mvi`` CLI. Every refusal (no token, expired, revoked, forged, unsigned, a service's token
on a management route, a wrong password), ``mvi login`` at a real terminal, API tokens,
services' own tokens, ``--no-auth``, and no secret in any log, error body or metrics."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from tests.conftest import free_port
from tests.e2e.manager.conftest import ADMIN_PASSWORD, Manager, make_project, new_manager

Body = dict[str, Any]


def anonymous(manager: Manager) -> httpx.Client:
    return httpx.Client(base_url=manager.url, timeout=30, trust_env=False)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def assert_refused(response: httpx.Response, status: int = 401) -> Body:
    assert response.status_code == status, response.text
    assert response.headers["www-authenticate"].startswith('Bearer realm="mvi"')
    body: Body = response.json()
    assert set(body) == {"detail"}
    return body


def service_token(manager: Manager, name: str, version: str = "1.0.0") -> str:
    env = manager.call(f"{name}_{version}/environment").json()
    token = env["MVI_SERVICE_ACCESS_TOKEN"]
    assert isinstance(token, str) and token.count(".") == 2
    return token


def segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# -- refusals ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/services"),
        ("GET", "/api/manager"),
        ("GET", "/api/manager/logs"),
        ("POST", "/api/services/x/1.0.0"),
        ("GET", "/api/notifications"),
        ("POST", "/api/notifications"),
        ("GET", "/api/tokens"),
        ("POST", "/services/anything/hello"),
        ("GET", "/services/anything_1.0.0/docs"),
        ("GET", "/no/such/path"),
    ],
)
def test_every_api_and_gateway_route_needs_a_token(
    manager: Manager, method: str, path: str
) -> None:
    with anonymous(manager) as client:
        body = assert_refused(client.request(method, path))
    assert "mvi login" in body["detail"]


def test_health_login_and_the_api_docs_are_open(manager: Manager) -> None:
    with anonymous(manager) as client:
        assert client.get("/api/health").json()["status"] == "ok"
        assert client.post("/api/login", json={}).status_code == 422  # reached, not refused
        schema = client.get("/openapi.json").json()
        assert "HTTPBearer" in schema["components"]["securitySchemes"]
        assert client.get("/docs").status_code == 200


def test_a_token_that_expired_is_refused(manager: Manager) -> None:
    made = manager.http.post("/api/tokens", json={"days": 1.5 / 86400, "note": "short"})
    assert made.status_code == 201
    token = made.json()["token"]
    with anonymous(manager) as client:
        assert client.get("/api/services", headers=bearer(token)).status_code == 200
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            response = client.get("/api/services", headers=bearer(token))
            if response.status_code != 200:
                break
            time.sleep(0.1)
        body = assert_refused(response)
    assert "expired" in body["detail"] and token not in body["detail"]


def test_a_forged_token_is_refused(manager: Manager) -> None:
    assert manager.token is not None
    claims = jwt.decode(manager.token, options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-managers-secret-" * 2, algorithm="HS256")
    with anonymous(manager) as client:
        body = assert_refused(client.get("/api/services", headers=bearer(forged)))
        assert "signature" in body["detail"]
        assert_refused(client.post("/services/anything/hello", headers=bearer(forged)))


@pytest.mark.parametrize("signature", ["", "c2lnbmF0dXJl"])
def test_an_unsigned_token_is_refused(manager: Manager, signature: str) -> None:
    assert manager.token is not None
    claims = jwt.decode(manager.token, options={"verify_signature": False})
    unsigned = f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims)}.{signature}"
    with anonymous(manager) as client:
        assert_refused(client.get("/api/services", headers=bearer(unsigned)))
        client.cookies.set("mvi_token", unsigned)
        assert_refused(client.get("/api/services"))


def test_a_token_in_the_cookie_is_accepted(manager: Manager) -> None:
    assert manager.token is not None
    with anonymous(manager) as client:
        client.cookies.set("mvi_token", manager.token)
        assert client.get("/api/services").status_code == 200


def test_a_failed_login_is_401_whatever_was_wrong(manager: Manager) -> None:
    with anonymous(manager) as client:
        wrong = assert_refused(
            client.post("/api/login", json={"username": "admin", "password": "nope"})
        )
        unknown = assert_refused(
            client.post("/api/login", json={"username": "mallory", "password": ADMIN_PASSWORD})
        )
        assert wrong == unknown == {"detail": "Wrong user name or password"}
        good = client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert good.status_code == 200 and good.json()["kind"] == "login"
    result = manager.cli(
        "login", manager.url, "--password-stdin", input="wrong\n", MVI_CONFIG_DIR="/nonexistent"
    )
    assert result.returncode == 1 and "Wrong user name or password" in result.stderr


def test_too_many_failed_logins_are_slowed_down(tmp_path: Path) -> None:
    handle = new_manager(tmp_path / "m", MVI_MANAGER_LOGIN_MAX_FAILURES="3")
    handle.start()
    try:
        with anonymous(handle) as client:
            for _ in range(3):
                bad = client.post("/api/login", json={"password": "guess"})
                assert bad.status_code == 401
            blocked = client.post("/api/login", json={"password": ADMIN_PASSWORD})
            assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    finally:
        handle.cleanup()


# -- mvi login at a terminal, and the token file ------------------------------------------------
def read_until(fd: int, pattern: str, seen: list[str], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = "".join(seen)
        if re.search(pattern, text):
            return text
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen.append(os.read(fd, 4096).decode(errors="replace"))
            except OSError:  # the other side closed
                break
    raise AssertionError(f"never saw {pattern!r} in {''.join(seen)!r}")


def test_login_asks_at_a_terminal_without_echo_and_saves_a_private_token(
    manager: Manager, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    env = manager.cli_env(MVI_CONFIG_DIR=str(config), MVI_MANAGER_URL="")
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mvi.cli", "login", f"127.0.0.1:{manager.port}"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        start_new_session=True,  # the pty becomes its controlling terminal
    )
    os.close(secondary)
    seen: list[str] = []
    try:
        read_until(primary, r"User \[admin\]: ", seen)
        os.write(primary, b"\n")
        read_until(primary, r"Password: ", seen)
        os.write(primary, ADMIN_PASSWORD.encode() + b"\n")
        output = read_until(primary, r"Using the manager at", seen)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(primary)
    assert ADMIN_PASSWORD not in output  # never echoed
    assert "Logged in as admin" in output
    saved = config / "config.json"
    assert saved.stat().st_mode & 0o777 == 0o600
    assert config.stat().st_mode & 0o777 == 0o700
    data = json.loads(saved.read_text())
    assert data["host"] == manager.url and ADMIN_PASSWORD not in saved.read_text()
    listing = manager.cli("ls", "--json", MVI_CONFIG_DIR=str(config), MVI_MANAGER_URL="")
    assert listing.returncode == 0, listing.stderr


def test_the_password_is_never_an_argument(manager: Manager) -> None:
    helped = manager.ok("login", "--help").stdout
    assert "--password-stdin" in helped and "--password " not in helped
    result = manager.cli("login", manager.url, "--password", ADMIN_PASSWORD)
    assert result.returncode != 0


def test_logout_revokes_the_saved_token(manager: Manager, tmp_path: Path) -> None:
    config = {"MVI_CONFIG_DIR": str(tmp_path / "config")}
    manager.ok("login", manager.url, "--password-stdin", input=ADMIN_PASSWORD + "\n", **config)
    token = json.loads((tmp_path / "config" / "config.json").read_text())["tokens"][manager.url]
    assert "Logged out" in manager.ok("logout", **config).stdout
    with anonymous(manager) as client:
        assert (
            "revoked"
            in assert_refused(client.get("/api/services", headers=bearer(token)))["detail"]
        )
    after = manager.cli("ls", **config)
    assert after.returncode == 1 and f"mvi login {manager.url}" in after.stderr


# -- API tokens -------------------------------------------------------------------------------
def test_token_create_ls_revoke_round_trip(manager: Manager, tmp_path: Path) -> None:
    made = manager.ok("token", "create", "--days", "2", "--note", "ci pipeline")
    token = made.stdout.strip()
    assert token.count(".") == 2 and "shown only now" in made.stderr
    token_id = re.search(r"Token (\w+)", made.stderr)
    assert token_id is not None
    # another config dir (no saved token): MVI_TOKEN alone works
    elsewhere = {"MVI_CONFIG_DIR": str(tmp_path / "elsewhere"), "MVI_TOKEN": token}
    assert manager.cli("ls", **elsewhere).returncode == 0
    listed = json.loads(manager.ok("token", "ls", "--json").stdout)
    mine = [t for t in listed if t["id"] == token_id[1]]
    assert mine and mine[0]["kind"] == "api" and mine[0]["note"] == "ci pipeline"
    assert all("token" not in t for t in listed)  # ids only, never the text
    current = [t for t in listed if t["current"]]
    assert len(current) == 1 and current[0]["kind"] == "login"
    table = manager.ok("token", "ls").stdout
    assert token_id[1] in table and "ci pipeline" in table
    assert "Revoked token" in manager.ok("token", "revoke", token_id[1]).stdout
    refused = manager.cli("ls", **elsewhere)
    assert refused.returncode == 1 and "revoked" in refused.stderr
    assert token_id[1] not in manager.ok("token", "ls").stdout
    assert token_id[1] in manager.ok("token", "ls", "--all").stdout
    unknown = manager.cli("token", "revoke", "nope")
    assert unknown.returncode == 1 and "No token has the id" in unknown.stderr


# -- services' tokens ---------------------------------------------------------------------------
def test_a_service_token_may_call_the_gateway_and_notify_only(
    manager: Manager, deployed: str
) -> None:
    token = service_token(manager, deployed)
    with anonymous(manager) as client:
        called = client.post(
            f"/services/{deployed}/hello", json={"name": "S"}, headers=bearer(token)
        )
        assert called.json() == "Hello S from 1.0.0"
        noted = client.post(
            "/api/notifications",
            json={"message": "from the test", "severity": "INFO"},
            headers=bearer(token),
        )
        assert noted.status_code == 201, noted.text
        assert (noted.json()["service"], noted.json()["version"]) == (deployed, "1.0.0")
        for method, path in [
            ("GET", "/api/services"),
            ("GET", "/api/notifications"),
            ("DELETE", "/api/notifications"),
            ("POST", "/api/tokens"),
            ("DELETE", f"/api/services/{deployed}"),
        ]:
            body = assert_refused(client.request(method, path, headers=bearer(token)), 403)
            assert "gateway" in body["detail"]
        impostor = client.post(
            "/api/notifications",
            json={"service": "other", "version": "1.0.0", "message": "x", "severity": "INFO"},
            headers=bearer(token),
        )
        assert impostor.status_code == 403 and "belongs to" in impostor.json()["detail"]
    assert manager.versions(deployed)  # nothing was killed


def test_a_service_never_receives_its_callers_token(manager: Manager, deployed: str) -> None:
    env = manager.call(f"{deployed}/environment").json()
    assert manager.token is not None and manager.token not in json.dumps(env)


def test_each_version_has_its_own_token_revoked_when_killed(
    manager: Manager, deployed: str, greeter: Path
) -> None:
    manager.ok("deploy", deployed, "1.1.0", str(greeter))
    first, second = service_token(manager, deployed), service_token(manager, deployed, "1.1.0")
    assert first != second
    manager.ok("kill", deployed, "1.1.0", "--yes")
    with anonymous(manager) as client:
        body = assert_refused(client.post(f"/services/{deployed}/hello", json={"name": "x"},
                                          headers=bearer(second)))  # fmt: skip
        assert "revoked" in body["detail"]
        assert_refused(
            client.post(
                "/api/notifications",
                json={"message": "ghost", "severity": "INFO"},
                headers=bearer(second),
            )
        )
        still = client.post(
            f"/services/{deployed}/hello", json={"name": "y"}, headers=bearer(first)
        )
        assert still.status_code == 200


# -- the first start, and --no-auth -------------------------------------------------------------
def test_the_first_start_prints_a_random_admin_password_once(tmp_path: Path, greeter: Path) -> None:
    handle = new_manager(tmp_path / "fresh")
    handle.env.pop("MVI_ADMIN_PASSWORD")
    handle.start()
    try:
        printed = handle.log_path.read_text()
        match = re.search(r"password \(shown only now\):\s+(\S+)", printed)
        assert match is not None, printed
        password = match[1]
        assert f"mvi login {handle.url}" in printed
        manager_log = (handle.data_dir / "logs" / "manager.log").read_text()
        assert password not in manager_log
        handle.login(password)
        handle.ok("deploy", "legacy", "1.0.0", str(greeter))
        handle.stop()
        # a version deployed before tokens existed gets one at the next start
        with sqlite3.connect(handle.data_dir / "registry.db") as db:
            db.execute("UPDATE service_versions SET access_token = NULL")
        handle.start()
        assert handle.log_path.read_text().count(password) == 1  # not shown again
        handle.login(password)
        handle.wait_status("legacy", "1.0.0", "running")
        stored = registered_token(handle, "legacy", "1.0.0")
        token = service_token(handle, "legacy")
        assert hashlib.sha256(token.encode()).hexdigest() == stored  # only its hash is kept
        with anonymous(handle) as client:
            noted = client.post(
                "/api/notifications",
                json={"message": "hi", "severity": "INFO"},
                headers=bearer(token),
            )
            assert noted.status_code == 201, noted.text
    finally:
        handle.cleanup()


def test_no_auth_mode_is_open_and_says_so_loudly(tmp_path: Path) -> None:
    handle = new_manager(tmp_path / "open")
    handle.args = ("--no-auth",)
    handle.start()
    try:
        with anonymous(handle) as client:
            response = client.get("/api/services")
            assert response.status_code == 200 and response.headers["x-mvi-auth"] == "off"
            assert client.get("/api/health").headers["x-mvi-auth"] == "off"
        warning = "AUTH IS OFF (--no-auth)"
        assert warning in (handle.data_dir / "logs" / "manager.log").read_text()
        assert warning in handle.log_path.read_text()  # the console, too
        result = handle.cli("login", handle.url, MVI_CONFIG_DIR=str(tmp_path / "c"))
        assert result.returncode == 0 and "runs without auth" in result.stderr
        assert handle.cli("ls", MVI_CONFIG_DIR=str(tmp_path / "c")).returncode == 0
    finally:
        handle.cleanup()


# -- no secret anywhere -----------------------------------------------------------------------
NOTIFIER = """\
from mvi import service
from mvi.communication import Severity, notify


@service.entrypoint
def alert(message: str) -> str:
    notify(message, Severity.WARNING, emails=["ops@example.com"])
    return "sent"


if __name__ == "__main__":
    service.run()
"""


@pytest.fixture
def secret_run(tmp_path: Path) -> Iterator[tuple[Manager, dict[str, str]]]:
    """A manager with known secrets (its SMTP server's port is closed: sending fails)."""
    secrets = {
        "admin password": "Adm1n-known-secret-4471",
        "smtp password": "Smtp-known-secret-9902",
        "a wrong password": "Guess-known-secret-3318",
    }
    handle = new_manager(
        tmp_path / "secrets",
        MVI_ADMIN_PASSWORD=secrets["admin password"],
        MVI_SMTP_HOST="127.0.0.1",
        MVI_SMTP_PORT=str(free_port()),
        MVI_SMTP_USERNAME="mailer",
        MVI_SMTP_PASSWORD=secrets["smtp password"],
        MVI_SMTP_ATTEMPTS="2",
        MVI_SMTP_RETRY_BACKOFF="0.1",
        MVI_SMTP_TIMEOUT="2",
    )
    handle.start()
    try:
        yield handle, secrets
    finally:
        handle.cleanup()


def launched_token(manager: Manager, name: str, version: str) -> str:
    """The token a version was started with (from its process's environment)."""
    pid = manager.record(name, version)["pid"]
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    found = [v for v in environ if v.startswith(b"MVI_SERVICE_ACCESS_TOKEN=")]
    assert found, "the version was started without its token"
    return found[0].split(b"=", 1)[1].decode()


def registered_token(manager: Manager, name: str, version: str) -> str:
    """A version's token as the registry keeps it: its SHA-256."""
    with sqlite3.connect(manager.data_dir / "registry.db") as db:
        row = db.execute(
            "SELECT access_token FROM service_versions WHERE name = ? AND version = ?",
            (name, version),
        ).fetchone()
    assert row is not None and row[0]
    return str(row[0])


def test_no_secret_in_logs_error_bodies_or_metrics(
    secret_run: tuple[Manager, dict[str, str]], tmp_path: Path
) -> None:
    handle, secrets = secret_run
    bodies: list[str] = []
    with anonymous(handle) as client:
        wrong = {"username": "admin", "password": secrets["a wrong password"]}
        bodies.append(client.post("/api/login", json=wrong).text)
        bodies.append(client.post("/api/login", json={**wrong, "username": "x"}).text)
        api_token = handle.ok("token", "create").stdout.strip()
        handle.ok("deploy", "keeper", "1.0.0", str(make_project(tmp_path / "p", NOTIFIER)))
        assert handle.call("keeper/alert", message="disk full").json() == "sent"
        deadline = time.monotonic() + 30  # the email fails twice, then the manager says so
        warned: list[Body] = []
        while time.monotonic() < deadline and not warned:
            listed = handle.http.get("/api/notifications", params={"service": "manager"})
            warned = [n for n in listed.json() if "could not be sent" in n["message"]]
            time.sleep(0.1)
        assert warned, "the failing SMTP server was never reported"
        bodies.append(json.dumps(warned))
        for token in (api_token + "x", "garbage.token.value", "-"):
            bodies.append(client.get("/api/services", headers=bearer(token)).text)
            bodies.append(client.post("/services/keeper/alert", headers=bearer(token)).text)
        keeper = launched_token(handle, "keeper", "1.0.0")
        bodies.append(client.get("/api/services", headers=bearer(keeper)).text)  # 403
        metrics = handle.http.get("/services/keeper/~metrics")
        assert metrics.status_code == 200
        bodies.append(metrics.text)
        for path in ("/api/tokens", "/api/services", "/api/manager", "/api/notifications"):
            bodies.append(handle.http.get(path).text)
        bodies.append(handle.http.get("/api/manager/logs", params={"lines": "all"}).text)
        logs = handle.http.get("/api/services/keeper/1.0.0/logs", params={"lines": "all"})
        bodies.append(logs.text)
    service_log = (handle.data_dir / "logs" / "services" / "keeper_1.0.0.log").read_text()
    handle.ok("kill", "keeper", "--yes")
    handle.stop()
    known = {
        **secrets,
        "signing secret": (handle.data_dir / "secret.key").read_text().strip(),
        "API token": api_token,
        "login token": handle.token or "",
        "service token": keeper,
    }
    texts = {
        "manager log": (handle.data_dir / "logs" / "manager.log").read_text(),
        "manager console": handle.log_path.read_text(),
        "service log": service_log,
        **{f"answer {i}": body for i, body in enumerate(bodies)},
    }
    for where, text in texts.items():
        for what, secret in known.items():
            assert secret and secret not in text, f"the {what} appears in the {where}"
