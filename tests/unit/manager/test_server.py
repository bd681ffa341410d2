"""What ``serve`` refuses before anything runs: settings that cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvi._exceptions import ConfigurationError
from mvi.manager.layout import DataDir, DataDirLock
from mvi.manager.server import serve
from mvi.settings import Settings


def test_a_manager_needs_a_fixed_port(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="needs a fixed port"):
        serve(Settings(home=tmp_path / "data", manager_port=0))
    assert not (tmp_path / "data").exists()  # nothing was made


def test_a_data_directory_another_manager_holds_is_refused(tmp_path: Path) -> None:
    layout = DataDir(tmp_path)
    layout.create()
    held = DataDirLock.acquire(layout.lock_file)
    try:
        with pytest.raises(ConfigurationError, match=r"Another manager .* is running on"):
            serve(Settings(home=tmp_path, manager_port=1))
    finally:
        held.release()


def test_a_data_directory_that_cannot_be_made_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ConfigurationError, match="as the data directory") as raised:
        serve(Settings(home=tmp_path / "file", manager_port=1))
    assert "choose another --data-dir" in str(raised.value)
