"""The dashboard in a real browser: Playwright for Python driving Debian's Chromium against a
real manager process (auth on), with real services deployed through it.

One manager and one logged-in browser page serve the whole module. Each test saves a
screenshot of the page it drove; with ``UPDATE_SCREENSHOTS=1`` it saves them into
docs/screenshots/ (linked from the README), else a run of the suite leaves the working tree
as it was.
"""

from __future__ import annotations

import os
import re
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from tests.conftest import free_port
from tests.e2e.manager.conftest import ADMIN_PASSWORD, Manager, make_project, new_manager

playwright_api = pytest.importorskip("playwright.sync_api", reason="the test extra: playwright")
CHROMIUM = Path("/usr/bin/chromium")
assert CHROMIUM.exists(), "Debian's chromium is not installed: apt-get install -y chromium"

pytestmark = pytest.mark.timeout(300)

DIALOGS: list[str] = []
"""The messages of the confirmation dialogs the pages opened (each is accepted)."""
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
NAME = "dash"
SERVICE = """\
import logging
import os

from mvi import service

logger = logging.getLogger("dash")
service.add_parameter("threshold", 3)


@service.entrypoint
def hello(name: str) -> str:
    logger.warning("greeting %s", name)
    service.store(score=len(name) * service.get_parameter("threshold"))
    return f"Hello {name} from {os.environ['MVI_SERVICE_VERSION']}"


if __name__ == "__main__":
    service.run()
"""


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    handle = new_manager(
        tmp_path_factory.mktemp("dashboard"), MVI_MANAGER_GATEWAY_PORT=str(free_port())
    )
    handle.start()
    project = make_project(tmp_path_factory.mktemp("dash") / "dash", SERVICE)
    handle.ok("deploy", NAME, "1.0.0", str(project))
    try:
        yield handle
    finally:
        handle.cleanup()


@pytest.fixture(scope="module")
def requests_seen() -> list[str]:
    return []


@pytest.fixture(scope="module")
def tab(manager: Manager, requests_seen: list[str]) -> Iterator[object]:
    """The module's one browser tab."""
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=manager.url)
        context.on("request", lambda request: requests_seen.append(request.url))
        context.set_default_timeout(30_000)
        tab = context.new_page()
        tab.on("dialog", lambda dialog: (DIALOGS.append(dialog.message), dialog.accept()))
        try:
            yield tab
        finally:
            context.close()
            browser.close()


def shot(page: object, name: str) -> None:
    image = page.screenshot(full_page=True)
    assert image.startswith(b"\x89PNG")
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / f"{name}.png").write_bytes(image)


def login(page: object, password: str = ADMIN_PASSWORD) -> None:
    page.goto("/dashboard/login")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def cookies(page: object) -> dict[str, str]:
    return {c["name"]: c["value"] for c in page.context.cookies()}


@pytest.fixture
def page(tab: object) -> object:
    """The module's tab, logged in (whichever test runs first, under ``-k`` too)."""
    if "mvi_token" not in cookies(tab):
        login(tab)
    return tab


def test_a_page_before_login_goes_to_the_login_form_and_a_wrong_password_is_refused(tab) -> None:
    page = tab
    page.context.clear_cookies()
    page.goto("/")
    assert urlparse(page.url).path == "/dashboard/login"
    login(page, "not-the-password")
    assert "Wrong user name or password" in page.inner_text("[role=alert]")
    shot(page, "login")
    login(page)
    assert urlparse(page.url).path == "/"
    assert cookies(page)["mvi_token"]
    assert ADMIN_PASSWORD not in page.content()
    assert cookies(page)["mvi_token"] not in page.content()  # the session never in a page


def test_the_services_page_shows_the_deployed_version_and_refreshes_itself(page) -> None:
    page.goto("/")
    row = page.locator(f"tr[data-service={NAME}][data-version='1.0.0']")
    assert "running" in row.inner_text()
    assert "main" in row.inner_text()
    with page.expect_response(re.compile(r"/dashboard/fragments/services$")):
        pass  # htmx asks for the table again by itself
    shot(page, "services")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.locator(f"tr[data-service={NAME}]").first.is_visible()
    shot(page, "services-phone")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_an_entrypoint_is_called_from_the_version_page(page) -> None:
    page.goto(f"/dashboard/services/{NAME}/1.0.0")
    entrypoint = page.locator("details[data-entrypoint=hello]")
    assert '"name"' in entrypoint.locator("pre").first.inner_text()  # its JSON schema
    entrypoint.locator("textarea").fill('{"name": "Ada"}')
    entrypoint.locator("button[type=submit]").click()
    result = entrypoint.locator(".call-result")
    result.locator("pre").wait_for()
    assert "Hello Ada from 1.0.0" in result.inner_text()
    assert "200" in result.inner_text()


def test_a_parameter_is_changed_in_place_and_an_invalid_value_is_refused(page, manager) -> None:
    page.goto(f"/dashboard/services/{NAME}/1.0.0")
    row = page.locator("#param-threshold")
    row.locator("input[name=value]").fill("5")
    row.locator("button").click()
    page.locator("#param-threshold .ok").wait_for()
    assert page.locator("#param-threshold code.value").inner_text() == "5"
    row = page.locator("#param-threshold")
    row.locator("input[name=value]").fill('"lots"')
    row.locator("button").click()
    page.locator("#param-threshold [role=alert]").wait_for()
    assert page.locator("#param-threshold code.value").inner_text() == "5"
    answer = manager.http.get(f"/services/{NAME}_1.0.0/~parameters/threshold")
    assert answer.json() == 5


def test_a_log_line_appears_live_and_the_filters_apply(page, manager) -> None:
    page.goto(f"/dashboard/services/{NAME}/1.0.0")
    page.wait_for_function("document.getElementById('log-state').textContent === 'live'")
    marker = f"live{int(time.time() * 1000)}"
    assert manager.call(f"{NAME}/hello", name=marker).status_code == 200
    line = page.locator("#log .line", has_text=marker)
    line.wait_for()
    assert line.get_attribute("data-level") == "WARNING"
    page.select_option("#log-level", "ERROR")
    assert line.is_hidden()
    page.select_option("#log-level", "DEBUG")
    page.fill("#log-search", "no-line-has-this")
    assert line.is_hidden()
    page.fill("#log-search", marker)
    assert line.is_visible()


def test_monitoring_is_plotted_with_points_and_downloads_as_csv(page, manager) -> None:
    for name in ("a", "bb", "ccc"):
        manager.call(f"{NAME}/hello", name=name)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page.goto(f"/dashboard/services/{NAME}/1.0.0")
        plot = page.locator("figure.plot[data-variable=score]")
        try:
            plot.wait_for(timeout=3000)
            break
        except playwright_api.TimeoutError:
            continue  # the service's monitoring writer flushes in batches
    assert int(plot.get_attribute("data-points")) >= 3
    assert plot.locator("canvas").count() == 1
    shot(page, "version")
    page.select_option("#mon-range", "15m")
    page.locator("figure.plot[data-variable=score]").wait_for()
    with page.expect_download() as download:
        page.click("#mon-csv")
    assert download.value.suggested_filename == f"{NAME}-1.0.0-monitoring-15m.zip"


def test_a_shadow_is_made_main_from_its_page_then_rolled_back(page, manager, tmp_path) -> None:
    project = make_project(tmp_path / "v2", SERVICE)
    manager.ok("deploy", NAME, "2.0.0", str(project))
    for index in range(3):
        manager.call(f"{NAME}/hello", name=f"shadowed{index}")
    page.goto("/dashboard/shadows")
    report = page.locator(f".shadow-report[data-service={NAME}]")
    report.locator("h3", has_text="Latest differing answers").wait_for()
    assert "from 1.0.0" in report.inner_text() and "from 2.0.0" in report.inner_text()
    assert report.locator("figure.spark canvas").count() >= 1
    shot(page, "shadows")
    page.goto(f"/dashboard/services/{NAME}/2.0.0")
    page.click("button[data-action=assign]")
    assert "is the main now" in page.inner_text("[role=status]")
    assert manager.call(f"{NAME}/hello", name="x").json() == "Hello x from 2.0.0"
    page.click("button[data-action=rollback]")
    assert "rolled back" in page.inner_text("[role=status]")
    assert manager.call(f"{NAME}/hello", name="x").json() == "Hello x from 1.0.0"
    assert urlparse(page.url).path == f"/dashboard/services/{NAME}/1.0.0"


def test_notifications_are_listed_counted_badged_and_cleared(page, manager) -> None:
    for severity, message in (("WARNING", "disk is filling"), ("CRITICAL", "model drift")):
        body = {"service": NAME, "version": "1.0.0", "severity": severity, "message": message}
        assert manager.http.post("/api/notifications", json=body).status_code == 201
    page.goto("/")
    assert int(page.inner_text("#badge")) >= 2
    page.goto("/dashboard/notifications")
    rows = page.locator("table.notifications tbody tr")
    assert "model drift" in rows.nth(0).inner_text()  # newest first
    assert "sev-critical" in rows.nth(0).get_attribute("class")
    assert "CRITICAL: 1" in page.inner_text(".counters")
    shot(page, "notifications")
    assert page.inner_text("#badge") == "0"
    page.click("#clear")
    assert "No notifications." in page.inner_text("main")
    assert manager.http.get("/api/notifications").json() == []


def test_an_archive_is_deployed_from_the_page_with_its_build_output(
    page, manager, tmp_path
) -> None:
    project = make_project(tmp_path / "up", SERVICE)
    archive = tmp_path / "up.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in project.rglob("*"):
            tar.add(path, arcname=str(path.relative_to(project)))
    page.goto("/dashboard/deploy")
    page.fill("input[name=name]", "uploaded")
    page.fill("input[name=version]", "1.0.0")
    page.set_input_files("input[name=archive]", str(archive))
    page.click("#deploy-form button[type=submit]")
    page.locator("#deploy-state.ok").wait_for(timeout=120_000)
    assert "uploaded 1.0.0 is running" in page.inner_text("#deploy-state")
    assert "receiving uploaded 1.0.0" in page.inner_text("#deploy-log")
    shot(page, "deploy")
    assert manager.record("uploaded", "1.0.0")["status"] == "running"
    page.goto("/dashboard/deploy")
    page.fill("input[name=name]", "uploaded")
    page.fill("input[name=version]", "1.0.0")
    page.set_input_files("input[name=archive]", str(archive))
    page.click("#deploy-form button[type=submit]")
    page.locator("#deploy-state.error").wait_for()
    assert "already deployed" in page.inner_text("#deploy-state")


def test_kill_needs_the_versions_name_and_force_for_the_last_version(page, manager) -> None:
    page.goto("/dashboard/services/uploaded/1.0.0")
    kill = page.locator("form.kill-form")
    kill.locator("input[name=confirm]").fill("uploaded 9.9.9")
    kill.locator("button").click()
    assert "type the version's name exactly: uploaded 1.0.0" in page.inner_text("[role=alert]")
    kill = page.locator("form.kill-form")
    kill.locator("input[name=confirm]").fill("uploaded 1.0.0")
    kill.locator("button").click()
    assert "tick 'force'" in page.inner_text("[role=alert]")
    assert manager.record("uploaded", "1.0.0")["status"] == "running"
    kill = page.locator("form.kill-form")
    kill.locator("input[name=confirm]").fill("uploaded 1.0.0")
    kill.locator("input[name=force]").check()
    kill.locator("button").click()  # the confirmation dialog is accepted
    assert "uploaded 1.0.0 was killed" in page.inner_text("[role=status]")
    assert DIALOGS[-1].startswith("Kill uploaded 1.0.0?")
    assert manager.versions("uploaded") == []


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "needs the CSRF token"),
        ({"origin": "http://evil.example"}, "must come from"),
        ({"x-csrf-token": "forged"}, "does not belong"),
    ],
)
def test_a_change_without_the_csrf_token_or_from_another_origin_is_refused(
    page, manager, headers, reason
) -> None:
    jar = cookies(page)
    sent = {"origin": manager.url, **headers} if "origin" not in headers else headers
    if "origin" in headers:
        sent["x-csrf-token"] = jar["mvi_csrf"]
    session = {"mvi_token": jar["mvi_token"]}
    with httpx.Client(base_url=manager.url, cookies=session, trust_env=False) as client:
        answer = client.post(
            f"/dashboard/services/{NAME}/1.0.0/action", data={"action": "stop"}, headers=sent
        )
    assert answer.status_code == 403, answer.text
    assert reason in answer.json()["detail"]
    assert manager.record(NAME, "1.0.0")["status"] == "running"


def test_every_page_loads_only_from_loopback_and_service_docs_render(
    page, manager, requests_seen
) -> None:
    requests_seen.clear()
    for path in (
        "/",
        f"/dashboard/services/{NAME}/1.0.0",
        "/dashboard/shadows",
        "/dashboard/notifications",
        "/dashboard/deploy",
        "/docs",
        "/redoc",
    ):
        page.goto(path)
        page.wait_for_load_state("networkidle")
    page.goto(f"/dashboard/services/{NAME}/1.0.0")
    page.click("a:text-is('docs')")  # on the gateway's own port: its own origin
    assert urlparse(page.url).port == int(manager.env["MVI_MANAGER_GATEWAY_PORT"])
    page.locator(".opblock-summary-path", has_text="/hello").wait_for()
    shot(page, "service-docs")
    page.goto("/docs")
    page.locator(".opblock-summary-path", has_text="/api/services").first.wait_for()
    hosts = {
        urlparse(url).hostname for url in requests_seen if not url.startswith(("data:", "blob:"))
    }
    assert hosts == {"127.0.0.1"}, hosts
