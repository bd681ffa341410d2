"""``%load_ext mvi.notebook`` and ``%%service_cell PATH`` in a real IPython shell; the
folder it writes is served with ``mvi run``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell
from tests.conftest import free_port, stop_process, wait_until_ready

from mvi.project import ServiceProject

CELL = """\
from mvi import service
import numpy as np
from pandas import DataFrame

service.add_parameter("scale", 2.0)


@service.entrypoint
def total(values: list[float]) -> float:
    return float(np.sum(values)) * service.get_parameter("scale")


@service.entrypoint
def columns(rows: list[dict]) -> list[str]:
    return list(DataFrame(rows).columns)
"""


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InteractiveShell]:
    """An IPython shell (the kernel of a notebook) with the extension loaded; its profile
    and history in a folder of its own (IPYTHONDIR), not in the user's ~/.ipython."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
        ipython = InteractiveShell.instance()
        ipython.run_line_magic("load_ext", "mvi.notebook")
        yield ipython
        InteractiveShell.clear_instance()


def run_cell(shell: InteractiveShell, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``text`` as one notebook cell; what it printed (errors included)."""
    shell.run_cell(text)
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_service_cell_writes_a_project_ready_for_deploy(
    shell: InteractiveShell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "my service"
    printed = run_cell(shell, f'%%service_cell "{folder}"\n{CELL}', capsys)
    assert f"Wrote {folder}/service.py" in printed
    assert f"mvi deploy NAME VERSION {folder}" in printed

    service = (folder / "service.py").read_text()
    assert service.startswith(CELL)
    assert service.endswith('\n\nif __name__ == "__main__":\n    service.run()\n')
    requirements = [
        line for line in (folder / "requirements.txt").read_text().splitlines() if line[:1] != "#"
    ]
    assert requirements == [
        f"numpy=={metadata.version('numpy')}",
        f"pandas=={metadata.version('pandas')}",
    ]
    assert ServiceProject.load(folder).app_path == folder / "service.py"
    assert "total" not in shell.user_ns  # written, not run: running would start serving


def test_the_written_folder_runs_with_mvi_run(
    shell: InteractiveShell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "totals"
    run_cell(shell, f"%%service_cell {folder}\n{CELL}", capsys)
    port = free_port()
    log = tmp_path / "service.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MVI_")}
    env["MVI_SERVICE_DB_URL"] = f"sqlite:///{tmp_path / 'monitoring.db'}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mvi.cli", "run", str(folder), "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(proc, f"{url}/~ready", log.read_text, 30)
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.post("/total", json={"values": [1, 2, 3.5]}).json() == 13.0
            rows = client.post("/columns", json={"rows": [{"a": 1, "b": 2}]})
            assert rows.json() == ["a", "b"]
    finally:
        assert stop_process(proc, signal.SIGTERM, 20)
    assert proc.returncode == 0, log.read_text()


def test_running_the_cell_again_rewrites_the_service_and_keeps_the_environment(
    shell: InteractiveShell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "again"
    run_cell(shell, f"%%service_cell {folder}\n{CELL}", capsys)
    environment = folder / ".s2i" / "environment"
    environment.write_text(environment.read_text() + "MVI_LOG_LEVEL=debug\n")
    second = (
        'from mvi import service\n\n\n@service.entrypoint\ndef ping() -> str:\n    return "pong"\n'
    )
    second += '\n\nif __name__ == "__main__":\n    service.run()\n'
    printed = run_cell(shell, f"%%service_cell {folder}\n{second}", capsys)
    assert "Added `service.run()`" not in printed  # the cell has one already
    assert (folder / "service.py").read_text() == second
    assert "numpy" not in (folder / "requirements.txt").read_text()
    assert "MVI_LOG_LEVEL=debug" in environment.read_text()


@pytest.mark.parametrize(
    ("line", "cell", "message"),
    [
        ("{folder}", "from mvi import service\n%time x = 1\n", "line 2 of the cell is not Python"),
        ("{folder}", "def f(:\n    pass\n", "line 1 of the cell is not Python"),
        ("{folder}", "import numpy\n", "the cell has no service to run"),
        ("", "from mvi import service\n", "use %%service_cell PATH"),
        ("{folder} extra", "from mvi import service\n", "use %%service_cell PATH"),
        ('"{folder}', "from mvi import service\n", "No closing quotation"),
    ],
    ids=["magic-inside", "syntax-error", "no-service", "no-path", "two-paths", "bad-quote"],
)
def test_a_cell_that_cannot_be_a_service_is_a_usage_error_and_writes_nothing(
    shell: InteractiveShell,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    line: str,
    cell: str,
    message: str,
) -> None:
    folder = tmp_path / "refused"
    printed = run_cell(shell, f"%%service_cell {line.format(folder=folder)}\n{cell}", capsys)
    assert "UsageError" in printed and message in printed
    assert not folder.exists()


def test_an_environment_that_runs_another_file_is_refused(
    shell: InteractiveShell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "other"
    (folder / ".s2i").mkdir(parents=True)
    (folder / ".s2i" / "environment").write_text("APP_FILE=app.py\n")
    printed = run_cell(shell, f"%%service_cell {folder}\n{CELL}", capsys)
    assert "runs APP_FILE=app.py, not the cell's service.py" in printed
    assert sorted(p.name for p in folder.iterdir()) == [".s2i"]


def test_imports_no_package_provides_are_listed_for_the_user(
    shell: InteractiveShell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "unknown"
    folder.mkdir()
    (folder / "helpers.py").write_text("X = 1\n")  # a module of the project: not a package
    cell = "from mvi import service\nimport helpers\nimport surely_not_installed_xyz\n"
    printed = run_cell(shell, f"%%service_cell {folder}\n{cell}", capsys)
    assert "no installed package provides 'surely_not_installed_xyz'" in printed
    requirements = (folder / "requirements.txt").read_text()
    assert "# surely_not_installed_xyz: imported, but no installed package provides it" in (
        requirements
    )
    assert "helpers" not in requirements
