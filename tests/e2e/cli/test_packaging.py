"""The built wheel carries what the commands need at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.e2e.cli.cli_support import ROOT

from mvi.cli._template import TEMPLATE_SUFFIX, render_template


def test_the_wheel_ships_every_template_file_including_dotfiles(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = tmp_path.glob("mvi-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {
            name.removeprefix("mvi/cli/template/").removesuffix(TEMPLATE_SUFFIX)
            for name in archive.namelist()
            if name.startswith("mvi/cli/template/")
        }
    assert shipped == set(render_template("hello"))
