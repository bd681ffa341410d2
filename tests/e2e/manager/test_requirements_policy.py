"""What a deployed requirements.txt may ask for, through a real manager (hardening item 10),
and ``mvi`` in it (issue 17 item 6): refused lines are a 422 naming the line and leave
nothing behind; files and wheels inside the project install; ``mvi`` is always the
manager's own SDK, and a pin on another version is a warning in the build log."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.manager.conftest import Manager, make_project, new_manager

from mvi._version import __version__
from mvi.manager.builds.archives import pack

# each module starts its own manager, whose first build may be slow on a loaded machine
pytestmark = pytest.mark.timeout(600)

SDK_PROBE = """\
import importlib.metadata

import mvi
from mvi import service


@service.entrypoint
def sdk() -> dict:
    import localwheel

    return {
        "version": mvi.__version__,
        "installed": importlib.metadata.version("mvi"),
        "file": mvi.__file__,
        "localwheel": localwheel.VALUE,
    }


if __name__ == "__main__":
    service.run()
"""


def wheel(name: str, value: str) -> bytes:
    """A minimal pure-Python wheel ``{name}-1.0`` whose module holds ``VALUE = value``."""
    files = {
        f"{name}/__init__.py": f"VALUE = {value!r}\n",
        f"{name}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{name}-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{name}-1.0.dist-info/RECORD"] = "\n".join([*record, f"{name}-1.0.dist-info/RECORD,,"])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return out.getvalue()


def deploy_raw(manager: Manager, name: str, project: Path) -> tuple[int, str]:
    """``POST /api/services/NAME/1.0.0`` with the packed project: status and body."""
    buffer = io.BytesIO()
    pack(project, buffer)
    response = manager.http.post(f"/api/services/{name}/1.0.0", content=buffer.getvalue())
    return response.status_code, response.text


@pytest.mark.parametrize(
    ("requirements", "named"),
    [
        ("-r /etc/passwd\n", "requirements.txt line 1"),
        ("flask\n-r ../../../secret.key\n", "requirements.txt line 2"),
        ("/some/dir\n", "requirements.txt line 1"),
        ("-r more.txt\n", "more.txt line 2"),
        ("--index-url https://evil.example/simple\n", "MVI_MANAGER_ALLOW_INDEX_OPTIONS"),
        ("--extra-index-url https://evil.example/simple\n", "MVI_MANAGER_ALLOW_INDEX_OPTIONS"),
        ("-f /opt/wheels\nnumpy\n", "MVI_MANAGER_ALLOW_INDEX_OPTIONS"),
    ],
)
def test_requirements_that_reach_outside_are_a_422_naming_the_line(
    manager: Manager, tmp_path: Path, requirements: str, named: str
) -> None:
    project = make_project(tmp_path / "p", requirements=requirements,
                           files={"more.txt": "numpy\n-e /opt/src\n"})  # fmt: skip
    status, body = deploy_raw(manager, "reqs_refused", project)
    assert status == 422, body
    assert named in body
    assert str(manager.data_dir) not in body and str(tmp_path) not in body
    assert manager.versions("reqs_refused") == []
    assert manager.leftovers("reqs_refused", "1.0.0") == []


def test_files_inside_the_project_install_and_mvi_is_the_managers_own(
    manager: Manager, tmp_path: Path
) -> None:
    project = make_project(
        tmp_path / "p",
        SDK_PROBE,
        requirements=f"mvi=={__version__}9\n-r reqs/more.txt\n",
        files={
            "reqs/more.txt": "./../wheels/localwheel-1.0-py3-none-any.whl\n",
            "wheels/localwheel-1.0-py3-none-any.whl": wheel("localwheel", "from the project"),
        },
    )
    manager.ok("deploy", "reqs_inside", "1.0.0", str(project))
    answer = manager.call("reqs_inside/sdk").json()
    assert answer["localwheel"] == "from the project"
    assert answer["version"] == answer["installed"] == __version__  # not the index's mvi
    import mvi

    assert Path(answer["file"]).resolve() == Path(mvi.__file__).resolve()
    log = manager.http.get("/api/services/reqs_inside/1.0.0/logs", params={"lines": "all"})
    assert f"asks for `mvi=={__version__}9`" in log.text
    assert "no second SDK" in log.text
    manager.ok("kill", "reqs_inside", "--yes")


@pytest.fixture(scope="module")
def wheel_manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    """A manager whose operator trusts a folder of wheels (MVI_MANAGER_FIND_LINKS)."""
    base = tmp_path_factory.mktemp("wheels")
    (base / "wheels").mkdir()
    (base / "wheels" / "trustedwheel-1.0-py3-none-any.whl").write_bytes(
        wheel("trustedwheel", "from the operator")
    )
    handle = new_manager(base, MVI_MANAGER_FIND_LINKS=str(base / "wheels"))
    handle.start()
    try:
        yield handle
    finally:
        handle.cleanup()


def test_the_operators_find_links_serve_the_builds(wheel_manager: Manager, tmp_path: Path) -> None:
    source = SDK_PROBE.replace("import localwheel", "import trustedwheel as localwheel")
    project = make_project(tmp_path / "p", source, requirements="trustedwheel==1.0\n")
    wheel_manager.ok("deploy", "trusted", "1.0.0", str(project))
    assert wheel_manager.call("trusted/sdk").json()["localwheel"] == "from the operator"
