"""The data directory on a real disk: an older manager's loose files are made private and
its monitoring databases move into their version's folder."""

from __future__ import annotations

from pathlib import Path

from mvi.manager.layout import DataDir


def test_a_registry_left_readable_by_others_is_made_private(tmp_path: Path) -> None:
    layout = DataDir(tmp_path / "data")
    layout.root.mkdir()
    for name in ("registry.db", "registry.db-wal"):
        (layout.root / name).write_bytes(b"")
        (layout.root / name).chmod(0o644)
    layout.create()
    for name in ("registry.db", "registry.db-wal"):
        assert (layout.root / name).stat().st_mode & 0o777 == 0o600


def test_an_older_monitoring_database_moves_into_its_versions_folder(tmp_path: Path) -> None:
    layout = DataDir(tmp_path / "data")
    (layout.root / "monitoring").mkdir(parents=True)
    (layout.root / "monitoring" / "hello_1.0.0.db").write_bytes(b"old data")
    (layout.root / "monitoring" / "hello_1.0.0.db-wal").write_bytes(b"wal")
    layout.create()
    moved = Path(layout.monitoring_url("hello", "1.0.0").removeprefix("sqlite:///"))
    assert moved.read_bytes() == b"old data"
    assert moved.with_name("monitoring.db-wal").read_bytes() == b"wal"
    assert not (layout.root / "monitoring" / "hello_1.0.0.db").exists()
