"""assign, stop, start, restart, kill and login, end to end through the ``mvi`` CLI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.manager.conftest import ADMIN_PASSWORD, Manager, processes_under


def mains(manager: Manager, name: str) -> dict[str, bool]:
    return {r["version"]: r["main"] for r in manager.versions(name)}


def test_assign_makes_another_version_main(manager: Manager, deployed: str, greeter: Path) -> None:
    manager.ok("deploy", deployed, "1.1.0", str(greeter))
    refused = manager.cli("assign", deployed, "1.1.0", input="n\n")
    assert refused.returncode != 0 and "Aborted" in refused.stderr + refused.stdout
    assert mains(manager, deployed) == {"1.0.0": True, "1.1.0": False}
    manager.ok("assign", deployed, "1.1.0", input="y\n")
    assert mains(manager, deployed) == {"1.0.0": False, "1.1.0": True}
    assert manager.call(f"{deployed}/hello", name="A").json() == "Hello A from 1.1.0"
    out = manager.ok("assign", deployed, "1.0.0", "--yes").stdout
    assert out.splitlines()[2].startswith("*")  # the table: 1.0.0 is main again
    assert manager.call(f"{deployed}/hello", name="B").json() == "Hello B from 1.0.0"


def test_assign_refuses_a_version_that_is_not_running(
    manager: Manager, deployed: str, greeter: Path
) -> None:
    manager.ok("deploy", deployed, "1.1.0", str(greeter))
    manager.ok("stop", deployed, "1.1.0")
    result = manager.cli("assign", deployed, "1.1.0", "--yes")
    assert result.returncode == 1 and "start it first" in result.stderr
    assert mains(manager, deployed) == {"1.0.0": True, "1.1.0": False}


def test_stop_start_restart(manager: Manager, deployed: str) -> None:
    first = manager.record(deployed, "1.0.0")
    out = manager.ok("stop", deployed, "1.0.0").stdout
    assert "Stopped (since" in out
    stopped = manager.record(deployed, "1.0.0")
    assert stopped["status"] == "stopped" and stopped["pid"] is None
    assert not processes_under(manager.data_dir / "services" / deployed)
    down = manager.call(f"{deployed}/hello", name="x")
    assert down.status_code == 502 and "not running" in down.json()["detail"]
    manager.ok("start", deployed, "1.0.0")
    started = manager.record(deployed, "1.0.0")
    assert started["status"] == "running" and started["pid"] != first["pid"]
    assert manager.call(f"{deployed}/hello", name="y").status_code == 200
    manager.ok("restart", deployed, "1.0.0")
    restarted = manager.record(deployed, "1.0.0")
    assert restarted["status"] == "running" and restarted["pid"] != started["pid"]
    assert manager.call(f"{deployed}/hello", name="z").json() == "Hello z from 1.0.0"


def test_kill_refuses_the_main_while_others_exist(
    manager: Manager, deployed: str, greeter: Path
) -> None:
    manager.ok("deploy", deployed, "1.1.0", str(greeter))
    result = manager.cli("kill", deployed, "1.0.0", "--yes")
    assert result.returncode == 1
    assert "is the main version" in result.stderr and "mvi assign" in result.stderr
    assert manager.http.delete(f"/api/services/{deployed}/1.0.0").status_code == 403
    assert manager.http.delete(f"/api/services/{deployed}").status_code == 403
    assert set(mains(manager, deployed)) == {"1.0.0", "1.1.0"}
    kept = manager.cli("kill", deployed, "1.1.0", input="n\n")
    assert kept.returncode != 0 and set(mains(manager, deployed)) == {"1.0.0", "1.1.0"}
    out = manager.ok("kill", deployed, "1.1.0", input="y\n").stdout
    assert f"Killed {deployed} 1.1.0" in out
    assert manager.leftovers(deployed, "1.1.0") == []
    out = manager.ok("kill", deployed, "--yes").stdout  # the main, now the last one
    assert f"Killed {deployed} 1.0.0 (main)" in out
    assert manager.versions(deployed) == []


def test_killing_the_last_version_or_every_version_needs_force(
    manager: Manager, deployed: str, greeter: Path
) -> None:
    for path in (f"/api/services/{deployed}", f"/api/services/{deployed}/1.0.0"):
        refused = manager.http.delete(path)
        assert refused.status_code == 409, refused.text
        assert f"{path}?force=true" in refused.json()["detail"]
        assert "--yes" in refused.json()["detail"]
    manager.ok("deploy", deployed, "1.1.0", str(greeter))
    for params in ({"all": "true"}, {"all": "true", "force": "false"}):
        refused = manager.http.delete(f"/api/services/{deployed}", params=params)
        assert refused.status_code == 409, refused.text
        assert "all=true&force=true" in refused.json()["detail"]
    assert set(mains(manager, deployed)) == {"1.0.0", "1.1.0"}  # nothing was killed
    assert manager.call(f"{deployed}/hello", name="still").json() == "Hello still from 1.0.0"
    other = manager.http.delete(f"/api/services/{deployed}/1.1.0")  # not the last: no force
    assert other.status_code == 200, other.text
    assert manager.http.delete(f"/api/services/{deployed}").status_code == 409
    killed = manager.http.delete(f"/api/services/{deployed}", params={"force": "true"})
    assert killed.status_code == 200, killed.text
    assert [r["version"] for r in killed.json()["killed"]] == ["1.0.0"]
    assert manager.versions(deployed) == []


def test_kill_all_removes_the_others_before_the_main(
    manager: Manager, deployed: str, greeter: Path
) -> None:
    for version in ("1.1.0", "2.0.0"):
        manager.ok("deploy", deployed, version, str(greeter))
    result = manager.ok("kill", deployed, "--all", "--yes")
    assert result.stdout.splitlines() == [
        f"Killed {deployed} 1.1.0",
        f"Killed {deployed} 2.0.0",
        f"Killed {deployed} 1.0.0 (main)",
    ]
    assert manager.versions(deployed) == []
    assert not processes_under(manager.data_dir / "services" / deployed)
    gone = manager.cli("ls", deployed)
    assert gone.returncode == 1 and f"No service named '{deployed}'" in gone.stderr
    assert manager.cli("kill", deployed, "1.0.0", "--all").returncode == 1


def test_login_remembers_the_host(manager: Manager, tmp_path: Path) -> None:
    config = tmp_path / "cli-config"
    env = {"MVI_CONFIG_DIR": str(config), "MVI_MANAGER_URL": ""}
    out = manager.ok(
        "login", f"127.0.0.1:{manager.port}", "--password-stdin",
        input=ADMIN_PASSWORD + "\n", **env,
    ).stdout  # fmt: skip
    assert f"Using the manager at {manager.url}" in out
    saved = json.loads((config / "config.json").read_text())
    assert saved["host"] == manager.url and set(saved["tokens"]) == {manager.url}
    assert (config / "config.json").stat().st_mode & 0o777 == 0o600
    listing = manager.cli("ls", "--json", **env)
    assert listing.returncode == 0 and isinstance(json.loads(listing.stdout), list)
    bad = manager.cli("login", "127.0.0.1:1", "--password-stdin", input="x\n", **env)
    assert bad.returncode == 1 and "Cannot reach the manager at http://127.0.0.1:1" in bad.stderr
    assert json.loads((config / "config.json").read_text()) == saved
