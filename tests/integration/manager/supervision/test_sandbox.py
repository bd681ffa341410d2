"""Confined processes for real: a child started as a version's uid (the manager is root)
or under a Landlock ruleset cannot read the manager's files, write beside its folder,
nor signal or inspect the manager, and can still use its own folder."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mvi.manager.supervision import landlock, sandbox
from mvi.manager.supervision.isolation import Confinement, IsolationMode, confinement_for
from mvi.manager.supervision.process import ProcessHandle

PROBE = """\
import json, os, sys
from pathlib import Path
data, own, manager = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
def attempt(action):
    try:
        action()
    except OSError as exc:
        return type(exc).__name__
    return "ok"
print(json.dumps({
    "read the key": attempt(lambda: (data / "secret.key").read_bytes()),
    "read another version": attempt(lambda: (data / "services" / "other" / "f").read_bytes()),
    "write in the data dir": attempt(lambda: (data / "evil").write_text("x")),
    "signal the manager": attempt(lambda: os.kill(manager, 0)),
    "read the manager's environment": attempt(lambda: Path(f"/proc/{manager}/environ").read_bytes()),
    "write its own folder": attempt(lambda: (own / "mine").write_text("x")),
    "read its own folder": attempt(lambda: (own / "app.py").read_text()),
    "uid": os.getuid(),
}), flush=True)
"""  # noqa: E501


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data dir in a folder others may search (as /srv or /var/lib would be)."""
    base = Path(tempfile.mkdtemp(prefix="mvi-sandbox-"))
    base.chmod(0o711)
    data = base / "data"
    for folder in ("services/hello/1.0.0", "services/other", "monitoring/hello_1.0.0", "envs"):
        (data / folder).mkdir(parents=True)
    for folder in [data, *data.rglob("*")]:
        folder.chmod(0o700)
    (data / "secret.key").write_text("0" * 64)
    (data / "secret.key").chmod(0o600)
    (data / "services" / "other" / "f").write_text("theirs")
    (data / "services" / "hello" / "1.0.0" / "app.py").write_text("mine")
    try:
        yield data
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _probe(data: Path, confinement: Confinement, python: str) -> dict[str, object]:
    own = data / "services" / "hello" / "1.0.0"
    sandbox.prepare(confinement)
    log = data.parent / "probe.log"
    handle = ProcessHandle.spawn(
        [python, "-I", "-c", PROBE, str(data), str(own), str(os.getpid())],
        cwd=own,
        env={"PATH": os.defpath},
        log_path=log,
        confinement=confinement,
    )
    deadline = time.monotonic() + 30
    while handle.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    result: dict[str, object] = json.loads(log.read_text().strip().splitlines()[-1])
    return result


def _confinement(mode: IsolationMode, data: Path) -> Confinement:
    return confinement_for(
        mode,
        uid=200_777 if mode == IsolationMode.USER else None,
        data_dir=data,
        workdir=data / "services" / "hello" / "1.0.0",
        monitoring_dir=data / "monitoring" / "hello_1.0.0",
        environment=data / "envs",
        extra_readable=sandbox.interpreter_folders(),
    )


DENIED = ["read the key", "read another version", "write in the data dir",
          "signal the manager", "read the manager's environment"]  # fmt: skip


@pytest.mark.skipif(os.geteuid() != 0, reason="mode user needs a manager that runs as root")
def test_a_process_of_a_versions_uid_reaches_only_its_own_folder(data_dir: Path) -> None:
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    outcome = _probe(data_dir, _confinement(IsolationMode.USER, data_dir), python)
    assert outcome["uid"] == 200_777
    assert {name: outcome[name] for name in DENIED} == dict.fromkeys(DENIED, "PermissionError")
    assert outcome["write its own folder"] == outcome["read its own folder"] == "ok"
    own = data_dir / "services" / "hello" / "1.0.0"
    assert (own.stat().st_uid, own.stat().st_mode & 0o777) == (200_777, 0o700)
    assert (data_dir / "services" / "other").stat().st_mode & 0o777 == 0o700
    assert data_dir.stat().st_mode & 0o777 == 0o701  # searchable, not listable


@pytest.mark.skipif(landlock.abi_version() is None, reason="this kernel has no Landlock")
def test_a_process_under_landlock_reaches_only_its_own_folder(data_dir: Path) -> None:
    outcome = _probe(
        data_dir, _confinement(IsolationMode.LANDLOCK, data_dir), os.path.realpath(sys.executable)
    )
    assert outcome["uid"] == os.getuid()
    assert {name: outcome[name] for name in DENIED} == dict.fromkeys(DENIED, "PermissionError")
    assert outcome["write its own folder"] == outcome["read its own folder"] == "ok"
    assert not (data_dir / "evil").exists()
