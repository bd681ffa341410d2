"""Which isolation is in force, which uid a version gets, what it may reach (no I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvi._exceptions import ConfigurationError
from mvi.manager.supervision.isolation import (
    Confinement,
    IsolationMode,
    choose_isolation,
    confinement_for,
    searchable_chain,
    uid_for,
)


@pytest.mark.parametrize(
    ("requested", "is_root", "abi", "searchable", "mode"),
    [
        ("auto", True, 7, True, IsolationMode.USER),
        ("auto", True, None, True, IsolationMode.USER),
        ("auto", True, 7, False, IsolationMode.LANDLOCK),
        ("auto", False, 7, True, IsolationMode.LANDLOCK),
        ("auto", False, None, True, IsolationMode.NONE),
        ("auto", True, None, False, IsolationMode.NONE),
        ("user", True, None, True, IsolationMode.USER),
        ("landlock", True, 1, True, IsolationMode.LANDLOCK),
        ("landlock", False, 7, False, IsolationMode.LANDLOCK),
        ("none", True, 7, True, IsolationMode.NONE),
    ],
)
def test_the_mode_is_the_first_that_works_or_the_one_asked_for(
    requested: str, is_root: bool, abi: int | None, searchable: bool, mode: IsolationMode
) -> None:
    choice = choose_isolation(
        requested, is_root=is_root, landlock_abi=abi, data_dir_searchable=searchable
    )
    assert choice.mode == mode
    assert choice.reason
    assert (choice.warning is None) == (mode != IsolationMode.NONE)


@pytest.mark.parametrize(
    ("requested", "is_root", "abi", "searchable", "says"),
    [
        ("user", False, 7, True, "does not run as root"),
        ("user", True, 7, False, "not searchable by other users"),
        ("landlock", True, None, True, "no Landlock"),
        ("sandbox", True, 7, True, "auto, user, landlock or none"),
    ],
)
def test_a_mode_that_cannot_work_here_is_refused_with_the_reason(
    requested: str, is_root: bool, abi: int | None, searchable: bool, says: str
) -> None:
    with pytest.raises(ConfigurationError, match=says):
        choose_isolation(
            requested, is_root=is_root, landlock_abi=abi, data_dir_searchable=searchable
        )


def test_no_isolation_is_a_loud_warning_naming_the_fix() -> None:
    choice = choose_isolation("auto", is_root=False, landlock_abi=None, data_dir_searchable=True)
    assert choice.warning is not None
    assert "NOT ISOLATED" in choice.warning and "docs/security.md" in choice.warning


def test_landlock_before_abi_6_says_signals_are_not_confined() -> None:
    old = choose_isolation("landlock", is_root=False, landlock_abi=5, data_dir_searchable=True)
    new = choose_isolation("landlock", is_root=False, landlock_abi=7, data_dir_searchable=True)
    assert "NOT confined" in old.reason and "signals confined" in new.reason


def test_a_version_keeps_its_uid_and_two_versions_never_share_one() -> None:
    first = uid_for("hello_1.0.0", set(), 200_000, 65_536)
    assert first == uid_for("hello_1.0.0", set(), 200_000, 65_536)
    assert 200_000 <= first < 200_000 + 65_536
    assert uid_for("hello_1.0.0", {first}, 200_000, 65_536) != first
    assert uid_for("x", {10, 11}, 10, 3) == 12


def test_when_every_uid_is_taken_the_error_names_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="MVI_MANAGER_ISOLATION_UID_COUNT"):
        uid_for("x", {10, 11}, 10, 2)


def test_the_chain_to_a_version_is_every_folder_from_the_data_dir_down() -> None:
    data = Path("/d")
    assert searchable_chain(data, Path("/d/services/hello/1.0.0")) == (
        Path("/d"),
        Path("/d/services"),
        Path("/d/services/hello"),
    )


def _confine(mode: IsolationMode, data: str = "/srv/mvi") -> Confinement:
    root = Path(data)
    return confinement_for(
        mode,
        uid=200_123 if mode == IsolationMode.USER else None,
        data_dir=root,
        workdir=root / "services" / "hello" / "1.0.0",
        monitoring_dir=root / "monitoring" / "hello_1.0.0",
        environment=root / "envs" / "abc",
        extra_readable=[Path("/src/mvi")],
    )


def test_user_mode_gives_the_version_its_folders_and_makes_the_way_searchable() -> None:
    confinement = _confine(IsolationMode.USER)
    assert confinement.uid == 200_123
    assert confinement.owned == (
        Path("/srv/mvi/services/hello/1.0.0"),
        Path("/srv/mvi/monitoring/hello_1.0.0"),
    )
    searchable = set(confinement.searchable)
    assert searchable == {Path("/srv/mvi"), Path("/srv/mvi/services"),
                          Path("/srv/mvi/services/hello"), Path("/srv/mvi/monitoring"),
                          Path("/srv/mvi/envs")}  # fmt: skip
    assert confinement.home == Path("/srv/mvi/services/hello/1.0.0")


def test_landlock_reads_the_system_and_writes_only_the_versions_folders() -> None:
    confinement = _confine(IsolationMode.LANDLOCK)
    readable = set(confinement.readable)
    writable = set(confinement.writable)
    assert {Path("/usr"), Path("/etc"), Path("/src/mvi"), Path("/srv/mvi/envs/abc")} <= readable
    assert Path("/dev") not in readable  # never a disk
    assert {Path("/srv/mvi/services/hello/1.0.0"), Path("/tmp")} <= writable
    assert set(confinement.owned) <= writable  # made before the start, so the rules hold
    assert not any(Path("/srv/mvi").is_relative_to(path) for path in readable | writable)


@pytest.mark.parametrize("data", ["/tmp/pytest/data", "/opt/mvi", "/src/mvi/.data"])
def test_landlock_never_opens_a_folder_that_holds_the_data_dir(data: str) -> None:
    confinement = _confine(IsolationMode.LANDLOCK, data)
    granted = (*confinement.readable, *confinement.writable)
    assert not any(Path(data).is_relative_to(path) for path in granted)


def test_no_isolation_confines_nothing() -> None:
    confinement = _confine(IsolationMode.NONE)
    assert confinement.uid is None and confinement.readable == ()
