"""Deploy archives: packing a service folder (honouring ``.s2iignore``) and unpacking an
upload safely.

Packing runs in the CLI; receiving and unpacking in the manager. An archive is a gzip tar
of the project's files. Unpacking refuses (:class:`InvalidArchive`, 400) anything that is not
a gzip tar or that holds a member with an absolute path, a ``..`` component, a symbolic or
hard link leading outside the archive, a device or FIFO, or a duplicate file, and stops
(:class:`ArchiveTooLarge`, 413) past the member-count and unpacked-size limits before it
decompresses the offending data. Nothing is written until every header has been checked,
links are created last, and their real targets are checked again once they exist.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import os
import posixpath
import shutil
import tarfile
import zlib
from collections.abc import AsyncIterable, Iterator
from pathlib import Path
from typing import IO, Any

import pathspec

from mvi._exceptions import ArchiveTooLarge, InvalidArchive

__all__ = [
    "IGNORE_FILE",
    "Upload",
    "check_member",
    "ignore_spec",
    "is_ignored",
    "iter_project_files",
    "member_name",
    "pack",
    "save_upload",
    "unpack",
]

IGNORE_FILE = ".s2iignore"
"""The file (gitignore syntax) listing what a deploy leaves out."""
_CHUNK = 1024 * 1024


# -- packing (CLI side) ----------------------------------------------------------------------
def ignore_spec(lines: list[str]) -> pathspec.GitIgnoreSpec:
    """The matcher for the lines of an ``.s2iignore`` file (gitignore semantics)."""
    return pathspec.GitIgnoreSpec.from_lines(lines)


def is_ignored(spec: pathspec.PathSpec[Any], relpath: str, is_dir: bool = False) -> bool:
    """Whether ``relpath`` (POSIX, relative to the project) is left out of the archive."""
    return spec.match_file(relpath + "/" if is_dir else relpath)


def iter_project_files(directory: Path) -> Iterator[tuple[Path, str]]:
    """The files, links and folders of a project that a deploy ships, as (path, relpath).

    Ignored folders are not descended into; symbolic links are not followed.
    """
    ignore_file = directory / IGNORE_FILE
    lines = ignore_file.read_text(encoding="utf-8").splitlines() if ignore_file.is_file() else []
    spec = ignore_spec(lines)
    for current, dirnames, filenames in os.walk(directory):
        base = Path(current)
        rel_base = base.relative_to(directory).as_posix()
        prefix = "" if rel_base == "." else rel_base + "/"
        kept = []
        for dirname in sorted(dirnames):
            rel = prefix + dirname
            path = base / dirname
            if is_ignored(spec, rel, is_dir=not path.is_symlink()):
                continue
            if path.is_symlink():
                yield path, rel  # shipped as a link, never followed
                continue
            kept.append(dirname)
            yield path, rel
        dirnames[:] = kept
        for filename in sorted(filenames):
            rel = prefix + filename
            if not is_ignored(spec, rel):
                yield base / filename, rel


def pack(directory: Path, out: IO[bytes]) -> int:
    """Write ``directory`` as a gzip tar to ``out``, honouring ``.s2iignore``.

    Returns the number of entries written.
    """
    count = 0
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for path, rel in iter_project_files(directory):
            info = tar.gettarinfo(str(path), arcname=rel)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isreg():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            elif info.isdir() or info.issym():
                tar.addfile(info)
            else:
                continue  # sockets, FIFOs and devices have no place in a deploy
            count += 1
    return count


# -- receiving (manager side) ------------------------------------------------------------------
class Upload:
    """An uploaded archive saved to disk: its path, size and SHA-256."""

    def __init__(self, path: Path, size: int, sha256: str) -> None:
        self.path = path
        self.size = size
        self.sha256 = sha256


async def save_upload(chunks: AsyncIterable[bytes], path: Path, limit: int) -> Upload:
    """Stream ``chunks`` into ``path``, stopping with :class:`ArchiveTooLarge` as soon as
    more than ``limit`` bytes arrived (the partial file is removed)."""
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("wb") as handle:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise ArchiveTooLarge(
                        f"The upload is larger than the manager's limit of {limit} bytes "
                        "(MVI_MANAGER_MAX_UPLOAD_BYTES); leave large files out with "
                        ".s2iignore or raise the limit"
                    )
                digest.update(chunk)
                handle.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Upload(path, size, digest.hexdigest())


def member_name(member: tarfile.TarInfo) -> str:
    """The member's path with any leading ``./`` removed; ``""`` for the archive's root.

    ``tar -czf x.tar.gz -C dir .`` writes the root as ``./`` (Python's tarfile reads it as
    ``.``) and every file as ``./name``: both mean "inside the archive".
    """
    name = member.name
    while name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/")
    return "" if name == "." else name


def _inside(path: str) -> bool:
    return path not in ("..",) and not path.startswith("../")


def check_member(member: tarfile.TarInfo, files: set[str]) -> None:
    """Refuse a member that could write or point outside the archive's folder.

    ``files`` holds the regular files seen so far (hard links must name one of them).
    Raises :class:`InvalidArchive` with the member's name and the reason.
    """
    name = member_name(member)
    raw = member.name
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise InvalidArchive(f"Archive member {raw!r} has an absolute path")
    if ".." in raw.split("/") or "\\" in raw:
        raise InvalidArchive(f"Archive member {raw!r} climbs out of the archive ('..')")
    if "\x00" in raw:
        raise InvalidArchive(f"Archive member {raw!r} has a NUL byte in its name")
    if member.isdir():
        return
    if not name:
        raise InvalidArchive(f"Archive member {raw!r} has no file name")
    if member.isreg():
        return
    if member.issym():
        target = member.linkname
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
        if target.startswith("/") or not _inside(resolved) or "\x00" in target:
            raise InvalidArchive(
                f"Archive member {raw!r} is a symbolic link to {target!r}, outside the archive"
            )
        return
    if member.islnk():
        target = member.linkname
        while target.startswith("./"):
            target = target[2:]
        resolved = posixpath.normpath(target) if target else "."
        if target.startswith("/") or not _inside(resolved):
            raise InvalidArchive(
                f"Archive member {raw!r} is a hard link to {member.linkname!r}, outside the archive"
            )
        if resolved not in files:
            raise InvalidArchive(
                f"Archive member {raw!r} is a hard link to {member.linkname!r}, which is not "
                "a file earlier in the archive"
            )
        return
    if member.ischr() or member.isblk() or member.isfifo():
        raise InvalidArchive(f"Archive member {raw!r} is a device file or FIFO")
    raise InvalidArchive(f"Archive member {raw!r} has an unsupported type")


def _read_members(tar: tarfile.TarFile, max_bytes: int, max_members: int) -> list[tarfile.TarInfo]:
    members: list[tarfile.TarInfo] = []
    files: set[str] = set()
    total = 0
    while True:
        member = tar.next()  # reads the next header only; data is skipped lazily
        if member is None:
            return members
        if len(members) >= max_members:
            raise ArchiveTooLarge(
                f"The archive holds more than {max_members} entries "
                "(MVI_MANAGER_MAX_ARCHIVE_MEMBERS); leave files out with .s2iignore"
            )
        check_member(member, files)
        name = member_name(member)
        if member.isreg():
            if name in files:
                raise InvalidArchive(f"Archive member {member.name!r} appears twice")
            files.add(name)
            total += member.size
            if total > max_bytes:
                raise ArchiveTooLarge(
                    f"The archive unpacks to more than {max_bytes} bytes "
                    "(MVI_MANAGER_MAX_UNPACKED_BYTES); leave large files out with .s2iignore"
                )
        members.append(member)


def _safe_path(dest: Path, name: str) -> Path:
    path = dest / name
    parent = path.parent.resolve()
    if parent != dest and dest not in parent.parents:
        raise InvalidArchive(f"Archive member {name!r} would be written outside the archive")
    return path


def _extract(tar: tarfile.TarFile, members: list[tarfile.TarInfo], dest: Path) -> None:
    links: list[tarfile.TarInfo] = []
    for member in members:
        name = member_name(member)
        if not name:
            continue
        if member.isdir():
            path = _safe_path(dest, name)
            path.mkdir(parents=True, exist_ok=True, mode=0o755)
            continue
        if member.issym() or member.islnk():
            links.append(member)
            continue
        path = _safe_path(dest, name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        mode = 0o755 if member.mode & 0o111 else 0o644
        source = tar.extractfile(member)
        if source is None:
            raise InvalidArchive(f"Archive member {member.name!r} has no data")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        except FileExistsError:
            raise InvalidArchive(f"Archive member {member.name!r} appears twice") from None
        with os.fdopen(fd, "wb") as handle, source:
            shutil.copyfileobj(source, handle, _CHUNK)
    for member in links:
        name = member_name(member)
        path = _safe_path(dest, name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        if path.exists() or path.is_symlink():
            raise InvalidArchive(f"Archive member {member.name!r} appears twice")
        if member.issym():
            os.symlink(member.linkname, path)
        else:
            target = _safe_path(dest, posixpath.normpath(member.linkname))
            os.link(target, path, follow_symlinks=False)
    for member in links:  # the lexical checks cannot see links through links: check for real
        real = (dest / member_name(member)).resolve()
        if real != dest and dest not in real.parents:
            raise InvalidArchive(
                f"Archive member {member.name!r} is a link that resolves outside the archive"
            )


def unpack(archive: Path, dest: Path, *, max_bytes: int, max_members: int) -> Path:
    """Unpack the gzip tar ``archive`` into the new folder ``dest``; return the project root.

    The root is ``dest`` itself, or its only entry when that is a folder (an archive made
    with ``tar czf x.tar.gz project/``). On any error ``dest`` is removed and
    :class:`InvalidArchive` or :class:`ArchiveTooLarge` raised.
    """
    dest.mkdir(parents=True, mode=0o755)
    dest = dest.resolve()
    try:
        try:
            with tarfile.open(archive, mode="r:gz") as tar:
                members = _read_members(tar, max_bytes, max_members)
                _extract(tar, members, dest)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise InvalidArchive(
                f"The upload is not a valid gzip-compressed tar archive ({exc}); "
                "deploy a folder or a .tar.gz"
            ) from None
        except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
            raise InvalidArchive(
                f"The archive's entries conflict with each other ({exc})"
            ) from None
        except OSError as exc:
            if exc.errno != errno.ENAMETOOLONG:
                raise
            raise InvalidArchive(f"An archive member's name is too long ({exc})") from None
        entries = list(dest.iterdir())
        if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
            return entries[0]
        return dest
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(dest)
        raise
