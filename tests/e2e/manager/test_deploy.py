"""``mvi deploy`` end to end: the seed's output, the environment a service gets, the
gateway, and every way a deploy is refused without leaving anything behind."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest
from tests.e2e.manager.conftest import GREETER, Manager, make_project, processes_under

ROW = re.compile(
    r"^(?P<main>\*?)\s+(?P<name>\S+)\s+(?P<version>\S+)\s+(?P<status>\S+)\s+"
    r"(?P<running>[A-Z][a-z]+ \(since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\))$"
)


def table_rows(stdout: str) -> list[dict[str, str]]:
    lines = stdout.splitlines()
    start = next(
        i
        for i, line in enumerate(lines)
        if line.split() == ["MAIN", "NAME", "VERSION", "STATUS", "RUNNING"]
    )
    assert set(lines[start + 1].replace(" ", "")) == {"-"}
    rows = []
    for line in lines[start + 2 :]:
        match = ROW.match(line)
        assert match, f"not a table row: {line!r}"
        rows.append(match.groupdict())
    return rows


def assert_nothing_left(manager: Manager, name: str, version: str) -> None:
    assert manager.versions(name) == []
    assert manager.leftovers(name, version) == []
    services = manager.data_dir / "services" / name
    assert not services.exists() or not any(services.iterdir())
    assert not [p for p in processes_under(manager.data_dir / "services" / name)]


def test_deploy_prints_the_seed_lines_and_table(manager: Manager, greeter: Path) -> None:
    result = manager.ok("deploy", "hello", "1.0.0", str(greeter))
    lines = result.stdout.splitlines()
    assert lines[0] == "Deploying service..."
    assert lines[1] == "Service deployed successfully"
    assert lines[2].split() == ["MAIN", "NAME", "VERSION", "STATUS", "RUNNING"]
    assert [len(d) for d in lines[3].split()] == [6, 6, 9, 8, 35]  # the seed's rule widths
    [row] = table_rows(result.stdout)
    assert row["main"] == "*" and row["name"] == "hello" and row["version"] == "1.0.0"
    assert row["status"] == "running" and row["running"].startswith("Running (since ")
    manager.ok("kill", "hello", "--yes")


def test_a_built_environment_holds_compiled_bytecode(manager: Manager, deployed: str) -> None:
    # else every start of a service compiles FastAPI and pydantic again
    built = [p for p in (manager.data_dir / "envs").iterdir() if p.is_dir()]
    assert built
    for environment in built:
        [packages] = (environment / "lib").glob("python*/site-packages")
        assert list((packages / "fastapi").glob("__pycache__/*.pyc")), environment


def test_ls_shows_every_version_and_json(manager: Manager, deployed: str, greeter: Path) -> None:
    manager.ok("deploy", deployed, "1.1.0", str(greeter))
    rows = table_rows(manager.ok("ls", deployed).stdout)
    assert [(r["main"], r["version"], r["status"]) for r in rows] == [
        ("*", "1.0.0", "running"),
        ("", "1.1.0", "running"),
    ]
    everything = table_rows(manager.ok("ls").stdout)
    assert {(r["name"], r["version"]) for r in everything} >= {
        (deployed, "1.0.0"),
        (deployed, "1.1.0"),
    }
    records = __import__("json").loads(manager.ok("ls", deployed, "1.1.0", "--json").stdout)
    assert len(records) == 1
    assert records[0]["name"] == deployed and records[0]["main"] is False
    assert records[0]["status"] == "running" and records[0]["path"] == f"/services/{deployed}_1.1.0"
    missing = manager.cli("ls", deployed, "9.9.9")
    assert missing.returncode != 0 and "has no version '9.9.9'" in missing.stderr


def test_call_goes_through_the_gateway(manager: Manager, deployed: str, greeter: Path) -> None:
    manager.ok("deploy", deployed, "2.0.0", str(greeter))
    out = manager.ok("call", deployed, "hello", "--data", '{"name": "Alice"}').stdout
    assert out.strip() == '"Hello Alice from 1.0.0"'
    out = manager.ok("call", deployed, "hello", "--version", "2.0.0", "--data", '{"name": "Bo"}')
    assert out.stdout.strip() == '"Hello Bo from 2.0.0"'
    assert manager.call(f"{deployed}/hello", name="C").json() == "Hello C from 1.0.0"
    assert manager.call(f"{deployed}_2.0.0/hello", name="D").json() == "Hello D from 2.0.0"
    docs = manager.http.get(f"/services/{deployed}_2.0.0/openapi.json")
    assert docs.status_code == 200 and "/hello" in str(docs.json()["paths"])
    bad = manager.cli("call", deployed, "hello", "--data", '{"name": 5}')
    assert bad.returncode == 1 and "422" in bad.stderr
    unknown = manager.call("no_such_service/hello", name="x")
    assert unknown.status_code == 404 and "no_such_service" in unknown.json()["detail"]
    wrong = manager.call(f"{deployed}_3.0.0/hello", name="x")
    assert wrong.status_code == 404 and "1.0.0, 2.0.0" in wrong.json()["detail"]
    not_json = manager.cli("call", deployed, "hello", "--data", "{nope")
    assert not_json.returncode == 1 and "not valid JSON" in not_json.stderr


def test_service_gets_the_manager_environment(manager: Manager, tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "env_project",
        environment="APP_FILE=main.py\nGREETER_COLOUR=blue\nMVI_SERVICE_DB_TABLE_LIMIT=10rows\n",
    )
    manager.ok("deploy", "env_check", "1.2.3", str(project))
    record = manager.record("env_check", "1.2.3")
    env = manager.call("env_check/environment").json()
    assert env["MVI_SERVICE_NAME"] == "env_check"
    assert env["MVI_SERVICE_VERSION"] == "1.2.3"
    assert env["MVI_SERVICE_ROOT_PATH"] == "/services/env_check_1.2.3"
    assert env["MVI_HOST"] == "127.0.0.1"
    assert env["MVI_PORT"] == str(record["port"])
    assert env["MVI_MANAGER_URL"] == manager.url
    assert env["MVI_MANAGER_HOSTNAME"] == socket.gethostname()
    db = env["MVI_SERVICE_DB_URL"]
    assert db.startswith("sqlite:///") and db.endswith("/monitoring/env_check_1.2.3/monitoring.db")
    monitoring = (manager.data_dir / "monitoring").resolve()
    assert Path(db.removeprefix("sqlite:///")).parent.parent == monitoring
    assert env["MVI_SERVICE_DB_TABLE_LIMIT"] == "10rows"  # .s2i/environment wins here
    assert env["GREETER_COLOUR"] == "blue"
    assert "MVI_MANAGER_MAX_UPLOAD_BYTES" not in env  # the manager's own settings stay its own
    manager.ok("kill", "env_check", "--yes")


def test_first_version_is_main_and_later_ones_are_not(
    manager: Manager, deployed: str, greeter: Path
) -> None:
    manager.ok("deploy", deployed, "0.9.0", str(greeter))
    mains = {r["version"]: r["main"] for r in manager.versions(deployed)}
    assert mains == {"1.0.0": True, "0.9.0": False}


@pytest.mark.parametrize(
    ("name", "version", "message"),
    [
        ("Hello", "1.0.0", "Invalid service name 'Hello'"),
        ("hello-world", "1.0.0", "Invalid service name"),
        ("ok_name", "1.0", "Invalid version '1.0'"),
        ("ok_name", "v1.0.0", "Invalid version"),
        ("ok_name", "01.0.0", "Invalid version"),
    ],
)
def test_bad_name_or_version_is_refused_with_422(
    manager: Manager, greeter: Path, name: str, version: str, message: str
) -> None:
    result = manager.cli("deploy", name, version, str(greeter))
    assert result.returncode == 1
    assert message in result.stderr
    response = manager.http.post(f"/api/services/{name}/{version}", content=b"")
    assert response.status_code == 422
    assert manager.versions(name) == []


def test_same_version_twice_is_409_unless_replace(
    manager: Manager, deployed: str, tmp_path: Path
) -> None:
    before = manager.record(deployed, "1.0.0")
    again = manager.cli("deploy", deployed, "1.0.0", str(make_project(tmp_path / "same")))
    assert (
        again.returncode == 1 and "already deployed" in again.stderr and "--replace" in again.stderr
    )
    assert manager.record(deployed, "1.0.0")["pid"] == before["pid"]
    changed = make_project(tmp_path / "new", GREETER.replace("Hello {name}", "Howdy {name}"))
    manager.ok("deploy", deployed, "1.0.0", str(changed), "--replace")
    after = manager.record(deployed, "1.0.0")
    assert after["status"] == "running" and after["main"] is True
    assert after["pid"] != before["pid"]
    assert manager.call(f"{deployed}/hello", name="A").json() == "Howdy A from 1.0.0"
    assert not processes_under(manager.data_dir / "tmp")


def _tar_gz(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("service.py")
        data = GREETER.encode()
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for member, content in members:
            tar.addfile(member, io.BytesIO(content) if content is not None else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def _device(name: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.devmajor, info.devminor = 1, 3
    return info, None


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([_file("/etc/evil.txt")], "absolute path"),
        ([_file("../evil.txt")], "climbs out"),
        ([_file("pkg/../../evil.txt")], "climbs out"),
        ([_link("etc", "/etc", tarfile.SYMTYPE)], "outside the archive"),
        ([_link("up", "../../..", tarfile.SYMTYPE)], "outside the archive"),
        ([_link("d", ".", tarfile.SYMTYPE), _link("e", "d/../x", tarfile.SYMTYPE)], "outside"),
        ([_link("passwd", "/etc/passwd", tarfile.LNKTYPE)], "hard link"),
        ([_link("h", "../x", tarfile.LNKTYPE)], "hard link"),
        ([_device("null", tarfile.CHRTYPE)], "device file"),
        ([_device("disk", tarfile.BLKTYPE)], "device file"),
        ([_device("pipe", tarfile.FIFOTYPE)], "FIFO"),
        ([_file("service.py")], "appears twice"),
    ],
    ids=[
        "absolute", "dotdot", "nested-dotdot", "symlink-absolute", "symlink-up",
        "symlink-through-symlink", "hardlink-absolute", "hardlink-up", "char-device",
        "block-device", "fifo", "duplicate",
    ],
)  # fmt: skip
def test_unsafe_archives_are_refused_with_400(
    manager: Manager, tmp_path: Path, members: list, message: str
) -> None:
    archive = _tar_gz(tmp_path / "bad.tar.gz", members)
    result = manager.cli("deploy", "unsafe", "1.0.0", str(archive))
    assert result.returncode == 1, result.stdout
    assert message in result.stderr
    response = manager.http.post("/api/services/unsafe/1.0.0", content=archive.read_bytes())
    assert response.status_code == 400 and message in response.json()["detail"]
    assert_nothing_left(manager, "unsafe", "1.0.0")
    assert not (tmp_path.parent / "evil.txt").exists()


@pytest.mark.parametrize(
    "content",
    [b"this is not an archive", b"\x1f\x8b\x08\x00garbage", b""],
    ids=["text", "broken-gzip", "empty"],
)
def test_not_a_gzip_tar_is_refused_with_400(manager: Manager, content: bytes) -> None:
    response = manager.http.post("/api/services/notgz/1.0.0", content=content)
    assert response.status_code == 400
    assert "not a valid gzip-compressed tar" in response.json()["detail"]
    assert_nothing_left(manager, "notgz", "1.0.0")


def test_plain_tar_via_cli_is_refused_with_400(manager: Manager, tmp_path: Path) -> None:
    plain = tmp_path / "plain.tar.gz"  # named .tar.gz, but not compressed
    with tarfile.open(plain, "w") as tar:
        tar.add(make_project(tmp_path / "p"), arcname=".")
    result = manager.cli("deploy", "plaintar", "1.0.0", str(plain))
    assert result.returncode == 1 and "not a valid gzip-compressed tar" in result.stderr
    assert_nothing_left(manager, "plaintar", "1.0.0")


def test_upload_over_the_limit_is_413(manager: Manager, tmp_path: Path) -> None:
    project = make_project(tmp_path / "big", files={"weights.bin": os.urandom(3 * 1024 * 1024)})
    result = manager.cli("deploy", "too_big", "1.0.0", str(project))
    assert result.returncode == 1 and "larger than the manager's limit" in result.stderr
    assert_nothing_left(manager, "too_big", "1.0.0")


def test_streamed_upload_is_cut_off_at_the_limit(manager: Manager) -> None:
    """Chunked (no Content-Length): the 413 comes while the body is still open."""
    head = (
        b"POST /api/services/streamed/1.0.0 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer %s\r\n"
        b"Content-Type: application/gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
    ) % (manager.token or "").encode()
    chunk = os.urandom(64 * 1024)
    with socket.create_connection(("127.0.0.1", manager.port), timeout=20) as sock:

        def send() -> None:
            try:
                sock.sendall(head)
                for _ in range(40):  # 2.5 MiB, over the 2 MiB limit; the body never ends
                    sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            except OSError:
                pass

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        sender.join(20)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert_nothing_left(manager, "streamed", "1.0.0")


def test_unpacked_size_over_the_limit_is_413(manager: Manager, tmp_path: Path) -> None:
    zeros = b"\0" * (9 * 1024 * 1024)  # compresses to a few KiB, unpacks past 8 MiB
    archive = _tar_gz(tmp_path / "bomb.tar.gz", [_file("zeros.bin", zeros)])
    assert archive.stat().st_size < 1024 * 1024
    result = manager.cli("deploy", "bomb", "1.0.0", str(archive))
    assert result.returncode == 1 and "unpacks to more than" in result.stderr
    assert_nothing_left(manager, "bomb", "1.0.0")


def test_failed_install_is_422_with_the_installer_lines(manager: Manager, tmp_path: Path) -> None:
    envs_before = set(os.listdir(manager.data_dir / "envs"))
    project = make_project(tmp_path / "broken", requirements="./no_such_package_dir\n")
    result = manager.cli("deploy", "broken_reqs", "1.0.0", str(project))
    assert result.returncode == 1
    assert "Installing the requirements failed" in result.stderr
    assert "no_such_package_dir" in result.stderr  # uv's own line
    response = manager.http.post("/api/services/broken_reqs/1.0.0", content=_pack(project))
    assert response.status_code == 422
    assert any("no_such_package_dir" in line for line in response.json()["lines"])
    assert_nothing_left(manager, "broken_reqs", "1.0.0")
    assert set(os.listdir(manager.data_dir / "envs")) == envs_before


def _pack(project: Path) -> bytes:
    from mvi.manager.builds.archives import pack

    buffer = io.BytesIO()
    pack(project, buffer)
    return buffer.getvalue()


def test_missing_app_file_is_422(manager: Manager, tmp_path: Path) -> None:
    project = make_project(tmp_path / "noapp", environment="APP_FILE=missing.py\n")
    (project / "main.py").write_text("print('hi')\n")
    (project / "missing.py").unlink()
    result = manager.cli("deploy", "no_app", "1.0.0", str(project))
    assert result.returncode == 1 and "missing.py" in result.stderr
    assert_nothing_left(manager, "no_app", "1.0.0")


def test_s2iignore_leaves_files_out(manager: Manager, tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "ignoring",
        ignore="*.bin\nsecrets/\n!keep.bin\n",
        files={
            "weights.bin": os.urandom(3 * 1024 * 1024),  # over the upload limit if shipped
            "keep.bin": b"kept",
            "secrets/token.txt": "s3cret",
            "data/table.csv": "a,b\n",
        },
    )
    manager.ok("deploy", "ignoring", "1.0.0", str(project))
    shipped = manager.data_dir / "services" / "ignoring" / "1.0.0"
    assert (shipped / "keep.bin").read_bytes() == b"kept"
    assert (shipped / "data" / "table.csv").exists()
    assert not (shipped / "weights.bin").exists()
    assert not (shipped / "secrets").exists()
    manager.ok("kill", "ignoring", "--yes")


def test_a_tar_gz_with_a_top_folder_deploys(manager: Manager, tmp_path: Path) -> None:
    project = make_project(tmp_path / "wrapped")
    archive = tmp_path / "wrapped.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(project, arcname="wrapped")
    result = manager.ok("deploy", "wrapped", "1.0.0", str(archive))
    assert "Service deployed successfully" in result.stdout
    assert manager.call("wrapped/hello", name="T").json() == "Hello T from 1.0.0"
    manager.ok("kill", "wrapped", "--yes")


def test_a_tar_gz_of_dot_made_by_the_tar_command_deploys(manager: Manager, tmp_path: Path) -> None:
    project = make_project(tmp_path / "dotted", files={"pkg/data.txt": "kept"})
    archive = tmp_path / "dotted.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(project), "."], check=True)
    result = manager.ok("deploy", "dotted", "1.0.0", str(archive))
    assert "Service deployed successfully" in result.stdout
    assert manager.call("dotted/hello", name="T").json() == "Hello T from 1.0.0"
    shipped = manager.data_dir / "services" / "dotted" / "1.0.0"
    assert any(p.read_text() == "kept" for p in shipped.rglob("data.txt"))
    manager.ok("kill", "dotted", "--yes")


def test_a_tar_gz_of_dot_with_a_link_outside_deploys_nothing(
    manager: Manager, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "dotted_bad")
    (project / "escape").symlink_to("/etc/passwd")
    archive = tmp_path / "dotted_bad.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(project), "."], check=True)
    result = manager.cli("deploy", "dotted_bad", "1.0.0", str(archive))
    assert result.returncode == 1 and "'./escape' is a symbolic link" in result.stderr
    assert_nothing_left(manager, "dotted_bad", "1.0.0")


def test_unreachable_manager_is_one_clear_line(manager: Manager) -> None:
    from tests.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = manager.cli("ls", MVI_MANAGER_URL=url)
    assert result.returncode == 1
    assert f"Cannot reach the manager at {url}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_deploy_builds_in_the_background_with_a_bounded_wait(
    manager: Manager, greeter: Path
) -> None:
    response = manager.http.post(
        "/api/services/background/1.0.0", params={"wait": 0.01}, content=_pack(greeter)
    )
    assert response.status_code == 202
    body = response.json()
    assert body["settled"] is False
    assert body["service"]["status"] in ("building", "starting")
    record = manager.wait_status("background", "1.0.0", "running")
    assert record["main"] is True
    manager.ok("kill", "background", "--yes")


STORING = """\
from mvi import service


@service.entrypoint
def remember(value: int) -> int:
    service.store(value=value)
    return value


if __name__ == "__main__":
    service.run()
"""


def test_monitoring_data_survives_restart_and_redeploy(manager: Manager, tmp_path: Path) -> None:
    project = make_project(tmp_path / "storing", STORING)
    manager.ok("deploy", "storing", "1.0.0", str(project))
    assert manager.call("storing/remember", value=41).json() == 41
    manager.ok("restart", "storing", "1.0.0")  # a graceful stop flushes the writes
    assert manager.call("storing/remember", value=42).json() == 42
    manager.ok("deploy", "storing", "1.0.0", str(project), "--replace")
    values = manager.http.get("/services/storing/~monitor").json()["value"]["value"]
    assert values == [41, 42]
    manager.ok("kill", "storing", "--yes")
