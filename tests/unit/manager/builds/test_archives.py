"""Deploy archives: .s2iignore matching, packing, and the checks that make unpacking safe."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from mvi._exceptions import ArchiveTooLarge, InvalidArchive
from mvi.manager.builds.archives import check_member, ignore_spec, is_ignored, pack, unpack

MiB = 1024 * 1024


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "ignored"),
    [
        ("tests/", "tests", True, True),
        ("tests/", "tests", False, False),  # a file named tests is not the folder
        ("tests/", "pkg/tests", True, True),
        ("/tests/", "pkg/tests", True, False),  # anchored to the project root
        ("*.py[cod]", "pkg/mod.pyc", False, True),
        ("*.bin\n!keep.bin", "keep.bin", False, False),
        ("*.bin\n!keep.bin", "model.bin", False, True),
        ("data/**/*.csv", "data/a/b/c.csv", False, True),
        ("# a comment", "# a comment", False, False),
        (".venv/", ".venv", True, True),
    ],
)
def test_s2iignore_follows_gitignore_rules(
    pattern: str, path: str, is_dir: bool, ignored: bool
) -> None:
    assert is_ignored(ignore_spec(pattern.splitlines()), path, is_dir) is ignored


def test_pack_honours_s2iignore_and_round_trips(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "pkg" / "__pycache__").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "service.py").write_text("print('hi')\n")
    (project / "pkg" / "model.py").write_text("X = 1\n")
    (project / "pkg" / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"\0")
    (project / "tests" / "test_service.py").write_text("")
    (project / "run.sh").write_text("#!/bin/sh\n")
    (project / "run.sh").chmod(0o755)
    (project / "link.py").symlink_to("service.py")
    (project / ".s2iignore").write_text("tests/\n__pycache__/\n")
    buffer = io.BytesIO()
    pack(project, buffer)
    with tarfile.open(fileobj=io.BytesIO(buffer.getvalue()), mode="r:gz") as tar:
        names = sorted(tar.getnames())
    assert names == [".s2iignore", "link.py", "pkg", "pkg/model.py", "run.sh", "service.py"]
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(buffer.getvalue())
    root = unpack(archive, tmp_path / "out", max_bytes=MiB, max_members=100)
    assert (root / "pkg" / "model.py").read_text() == "X = 1\n"
    assert os.access(root / "run.sh", os.X_OK)
    assert (root / "link.py").is_symlink() and (root / "link.py").read_text() == "print('hi')\n"


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize(
    "info",
    [
        member("service.py"),
        member("./pkg/a.py"),
        member("pkg", tarfile.DIRTYPE),
        member("./", tarfile.DIRTYPE),
        member(".", tarfile.DIRTYPE),  # tar -C dir . as Python's tarfile reads it
        member("./pkg", tarfile.DIRTYPE),
        member("./link", tarfile.SYMTYPE, "service.py"),
        member("pkg/link", tarfile.SYMTYPE, "../service.py"),
        member("pkg/sub/link", tarfile.SYMTYPE, "../a.py"),
        member("copy.py", tarfile.LNKTYPE, "service.py"),
        member("copy2.py", tarfile.LNKTYPE, "./service.py"),
    ],
)
def test_safe_members_pass(info: tarfile.TarInfo) -> None:
    check_member(info, {"service.py"})


@pytest.mark.parametrize(
    ("info", "reason"),
    [
        (member("/etc/passwd"), "absolute path"),
        (member("./../x"), "climbs out"),
        (member("./a/../../x"), "climbs out"),
        (member("./link", tarfile.SYMTYPE, "../outside"), "outside the archive"),
        (member(".", tarfile.SYMTYPE, "/etc"), "no file name"),
        (member("."), "no file name"),
        (member("./tty", tarfile.CHRTYPE), "device file"),
        (member("../x"), "climbs out"),
        (member("a/../../x"), "climbs out"),
        (member("a\\..\\x"), "climbs out"),
        (member("link", tarfile.SYMTYPE, "/etc/passwd"), "outside the archive"),
        (member("link", tarfile.SYMTYPE, "../outside"), "outside the archive"),
        (member("a/link", tarfile.SYMTYPE, "../../outside"), "outside the archive"),
        (member("hard", tarfile.LNKTYPE, "/etc/passwd"), "hard link"),
        (member("hard", tarfile.LNKTYPE, "../x"), "hard link"),
        (member("hard", tarfile.LNKTYPE, "later.py"), "not a file earlier"),
        (member("tty", tarfile.CHRTYPE), "device file"),
        (member("sda", tarfile.BLKTYPE), "device file"),
        (member("pipe", tarfile.FIFOTYPE), "FIFO"),
        (member("weird", b"X"), "unsupported type"),
    ],
)
def test_unsafe_members_are_refused(info: tarfile.TarInfo, reason: str) -> None:
    with pytest.raises(InvalidArchive, match=reason) as raised:
        check_member(info, {"service.py"})
    assert raised.value.status_code == 400


def write_archive(path: Path, entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def test_a_link_through_a_link_that_escapes_is_refused_and_cleaned_up(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "a.tar.gz",
        [
            (member("service.py"), b"x"),
            (member("d", tarfile.SYMTYPE, "."), None),
            (member("e", tarfile.SYMTYPE, "d/../outside"), None),
        ],
    )
    (tmp_path / "outside").write_text("secret")
    with pytest.raises(InvalidArchive, match="resolves outside"):
        unpack(archive, tmp_path / "work" / "out", max_bytes=MiB, max_members=10)
    assert not (tmp_path / "work" / "out").exists()


def test_nothing_is_written_when_a_later_member_is_bad(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "a.tar.gz", [(member("service.py"), b"x"), (member("../evil"), b"y")]
    )
    with pytest.raises(InvalidArchive):
        unpack(archive, tmp_path / "out", max_bytes=MiB, max_members=10)
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil").exists()


def test_unpacked_size_and_member_count_are_bounded(tmp_path: Path) -> None:
    big = write_archive(tmp_path / "big.tar.gz", [(member("zeros"), b"\0" * (2 * MiB))])
    with pytest.raises(ArchiveTooLarge, match="unpacks to more than") as raised:
        unpack(big, tmp_path / "o1", max_bytes=MiB, max_members=10)
    assert raised.value.status_code == 413
    many = write_archive(tmp_path / "many.tar.gz", [(member(f"f{i}"), b"") for i in range(20)])
    with pytest.raises(ArchiveTooLarge, match="more than 10 entries"):
        unpack(many, tmp_path / "o2", max_bytes=MiB, max_members=10)
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


@pytest.mark.parametrize("data", [b"", b"plain text", b"\x1f\x8b\x08\x00\x00broken"])
def test_not_a_gzip_tar_is_refused(tmp_path: Path, data: bytes) -> None:
    archive = tmp_path / "x.tar.gz"
    archive.write_bytes(data)
    with pytest.raises(InvalidArchive, match="not a valid gzip-compressed tar"):
        unpack(archive, tmp_path / "out", max_bytes=MiB, max_members=10)


def test_hard_links_become_copies_inside(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "a.tar.gz",
        [
            (member("service.py"), b"code"),
            (member("alias.py", tarfile.LNKTYPE, "service.py"), None),
        ],
    )
    root = unpack(archive, tmp_path / "out", max_bytes=MiB, max_members=10)
    assert (root / "alias.py").read_bytes() == b"code"


def test_a_single_top_folder_is_the_project_root(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "a.tar.gz",
        [(member("proj", tarfile.DIRTYPE), None), (member("proj/service.py"), b"x")],
    )
    root = unpack(archive, tmp_path / "out", max_bytes=MiB, max_members=10)
    assert root == (tmp_path / "out" / "proj").resolve()


def test_an_archive_of_dot_made_by_the_tar_command_unpacks(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "service.py").write_text("print('hi')\n")
    (project / "pkg" / "model.py").write_text("X = 1\n")
    (project / "link.py").symlink_to("service.py")
    archive = tmp_path / "x.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(project), "."], check=True)
    with tarfile.open(archive, "r:gz") as tar:
        assert {".", "./service.py", "./pkg/model.py"} <= set(tar.getnames())
    root = unpack(archive, tmp_path / "out", max_bytes=MiB, max_members=10)
    assert root == (tmp_path / "out").resolve()
    assert sorted(p.name for p in root.iterdir()) == ["link.py", "pkg", "service.py"]
    assert (root / "pkg" / "model.py").read_text() == "X = 1\n"
    assert (root / "link.py").is_symlink() and (root / "link.py").read_text() == "print('hi')\n"


def test_an_archive_of_dot_with_a_link_outside_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "service.py").write_text("x\n")
    (project / "escape").symlink_to("../../outside")
    archive = tmp_path / "x.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(project), "."], check=True)
    with pytest.raises(InvalidArchive, match=r"'\./escape' is a symbolic link"):
        unpack(archive, tmp_path / "out", max_bytes=MiB, max_members=10)
    assert not (tmp_path / "out").exists()
