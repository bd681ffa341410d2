"""Several managers from one CLI: ``mvi login`` remembers each, ``mvi hosts`` lists them,
``mvi login N`` switches back without a password, ``--host`` picks one for one call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.manager.conftest import ADMIN_PASSWORD, Manager, new_manager


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    """A second real manager beside the shared one."""
    handle = new_manager(tmp_path_factory.mktemp("second-manager"))
    handle.start()
    try:
        yield handle
    finally:
        handle.cleanup()


def own_config(tmp_path: Path) -> dict[str, str]:
    """A CLI of its own: its own config dir, and no MVI_MANAGER_URL to win over it."""
    return {"MVI_CONFIG_DIR": str(tmp_path / "cli"), "MVI_MANAGER_URL": ""}


def log_in_to_both(manager: Manager, second: Manager, env: dict[str, str]) -> None:
    for handle in (manager, second):
        handle.ok("login", handle.url, "--password-stdin", input=ADMIN_PASSWORD + "\n", **env)


def hosts(manager: Manager, env: dict[str, str]) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(manager.ok("hosts", "--json", **env).stdout)
    return listed


def active(manager: Manager, env: dict[str, str]) -> str:
    [url] = [h["url"] for h in hosts(manager, env) if h["active"]]
    return str(url)


def notes(handle: Manager) -> set[str]:
    return {str(record["note"]) for record in handle.http.get("/api/tokens").json()}


def test_login_remembers_every_host_and_hosts_marks_the_active_one(
    manager: Manager, second: Manager, tmp_path: Path
) -> None:
    env = own_config(tmp_path)
    log_in_to_both(manager, second, env)
    listed = hosts(manager, env)
    assert [(h["n"], h["url"], h["active"], h["user"]) for h in listed] == [
        (1, manager.url, False, "admin"),
        (2, second.url, True, "admin"),
    ]
    assert all(h["login"].startswith("until ") for h in listed)
    table = manager.ok("hosts", **env).stdout.splitlines()
    assert table[0].split() == ["ACTIVE", "N", "HOST", "USER", "LOGIN"]
    [marked] = [line for line in table if line.startswith("*")]
    assert marked.split()[1:4] == ["2", second.url, "admin"]


def test_login_n_or_host_switches_without_a_password(
    manager: Manager, second: Manager, tmp_path: Path
) -> None:
    env = own_config(tmp_path)
    log_in_to_both(manager, second, env)
    switched = manager.ok("login", "1", **env)  # no input: a password prompt would fail
    assert f"Switched to {manager.url}, logged in as admin" in switched.stdout
    assert f"Using the manager at {manager.url}" in switched.stdout
    assert active(manager, env) == manager.url
    manager.ok("token", "create", "--note", f"active-{tmp_path.name}", **env)
    assert f"active-{tmp_path.name}" in notes(manager)
    assert f"active-{tmp_path.name}" not in notes(second)

    back = manager.ok("login", second.url.removeprefix("http://"), **env)
    assert f"Switched to {second.url}" in back.stdout
    assert active(manager, env) == second.url


def test_host_option_talks_to_another_manager_for_one_call(
    manager: Manager, second: Manager, tmp_path: Path
) -> None:
    env = own_config(tmp_path)
    log_in_to_both(manager, second, env)  # the second is active
    by_number = f"by-number-{tmp_path.name}"
    manager.ok("token", "create", "--note", by_number, "--host", "1", **env)
    by_address = f"by-address-{tmp_path.name}"
    manager.ok("token", "create", "--note", by_address, "--host", manager.url, **env)
    assert {by_number, by_address} <= notes(manager)
    assert not {by_number, by_address} & notes(second)
    assert active(manager, env) == second.url  # only that call went elsewhere
    listing = manager.ok("ls", "--json", "--host", "1", **env)
    assert isinstance(json.loads(listing.stdout), list)
    # --host wins over MVI_MANAGER_URL too
    wins = f"wins-{tmp_path.name}"
    manager.ok(
        "token", "create", "--note", wins, "--host", "2", MVI_CONFIG_DIR=env["MVI_CONFIG_DIR"]
    )
    assert wins in notes(second) and wins not in notes(manager)


def test_a_switch_whose_token_is_no_longer_valid_asks_for_the_password(
    manager: Manager, second: Manager, tmp_path: Path
) -> None:
    env = own_config(tmp_path)
    log_in_to_both(manager, second, env)
    saved = json.loads((tmp_path / "cli" / "config.json").read_text())["tokens"][manager.url]
    with httpx.Client(base_url=manager.url, trust_env=False) as client:
        mine = client.get("/api/tokens", headers={"authorization": f"Bearer {saved}"}).json()
    [current] = [record for record in mine if record["current"]]
    assert manager.http.delete(f"/api/tokens/{current['id']}").status_code == 200

    refused = manager.cli("login", "1", **env)  # no password to give: it fails, clearly
    assert refused.returncode == 1
    assert f"The token saved for {manager.url} is no longer valid" in refused.stderr
    again = manager.ok("login", "1", input=f"admin\n{ADMIN_PASSWORD}\n", **env)
    assert "Logged in as admin" in again.stdout
    assert active(manager, env) == manager.url


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["login", "7"], "No host number 7 in `mvi hosts` (1 to 2)"),
        (["ls", "--host", "3"], "--host 3: No host number 3 in `mvi hosts` (1 to 2)"),
        (["ls", "--host", "ftp://x"], "--host ftp://x: 'ftp://x' is not an http(s) address"),
    ],
)
def test_a_host_number_or_address_that_names_nothing_is_one_clear_line(
    manager: Manager, second: Manager, tmp_path: Path, args: list[str], message: str
) -> None:
    env = own_config(tmp_path)
    log_in_to_both(manager, second, env)
    before = (tmp_path / "cli" / "config.json").read_text()
    result = manager.cli(*args, **env)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: ") and message in line
    assert (tmp_path / "cli" / "config.json").read_text() == before


def test_hosts_before_any_login_says_how_to_log_in(manager: Manager, tmp_path: Path) -> None:
    env = own_config(tmp_path)
    assert "mvi login HOST" in manager.ok("hosts", **env).stdout
    assert hosts(manager, env) == []
