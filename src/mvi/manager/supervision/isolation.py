"""How each version's processes are kept away from the manager's data (decisions, no I/O).

A deployed service is untrusted code. It must not read the manager's signing key
(``secret.key``), its registry or another version's files, nor write anywhere in the data
directory but its own version's folders, nor signal the manager. One of three modes does
this (``MVI_MANAGER_ISOLATION``):

``user``
    the manager runs as root: each version runs as a dedicated unprivileged uid and gid
    (``MVI_MANAGER_ISOLATION_UID_BASE`` and up, no ``/etc/passwd`` entry needed), which owns
    its version's folders (mode 0700); the key and registry are the manager's, 0600. The
    folders on the way to a version's files are made searchable (``o+x``) but never
    listable or readable by others.
``landlock``
    the manager is not root (or its data directory cannot be reached by other users): a
    Landlock ruleset, applied in the child before ``exec``, lets the version read the
    system's folders, its environment and the SDK, write only its own folders and the
    temporary ones, and (Landlock ABI 6 and up) signal no process outside itself.
``none``
    neither is available: services run as the manager's user and can read its data. The
    manager says so loudly at start, and its status shows it.

``auto`` (the default) picks ``user`` when it can, else ``landlock``, else ``none``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from mvi._exceptions import ConfigurationError

__all__ = [
    "LANDLOCK_SIGNAL_ABI",
    "SYSTEM_READABLE",
    "SYSTEM_WRITABLE",
    "Confinement",
    "IsolationChoice",
    "IsolationMode",
    "choose_isolation",
    "confinement_for",
    "searchable_chain",
    "uid_for",
]

LANDLOCK_SIGNAL_ABI = 6
"""The first Landlock ABI that keeps a sandboxed process from signalling outside itself."""

SYSTEM_READABLE = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/opt",
                   "/proc", "/sys", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/full",
                   "/dev/pts", "/dev/tty")  # fmt: skip
"""What every version may read (and execute from) under Landlock (of ``/dev``, only the
devices that hold no data: never a disk)."""

SYSTEM_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/dev/null")
"""Folders every version may write under Landlock (besides its own)."""


class IsolationMode(StrEnum):
    """Which mechanism keeps versions away from the manager's data."""

    USER = "user"
    LANDLOCK = "landlock"
    NONE = "none"


@dataclass(frozen=True)
class IsolationChoice:
    """The mode in force, and why (shown at start and in the manager's status)."""

    mode: IsolationMode
    reason: str

    @property
    def warning(self) -> str | None:
        """What the operator must hear at start (``None`` when versions are isolated)."""
        if self.mode != IsolationMode.NONE:
            return None
        return (
            "SERVICES ARE NOT ISOLATED: every deployed version runs as the manager's user and "
            "can read its signing key and registry, and so forge an admin token "
            f"({self.reason}). Run the manager as root (versions then get users of their "
            "own) or on a kernel with Landlock; see docs/security.md"
        )


def choose_isolation(
    requested: str, *, is_root: bool, landlock_abi: int | None, data_dir_searchable: bool
) -> IsolationChoice:
    """The mode for ``requested`` (``auto``, ``user``, ``landlock`` or ``none``).

    ``landlock_abi`` is the kernel's Landlock ABI (``None``: not available);
    ``data_dir_searchable`` says whether other users may search every folder above the data
    directory (a version running as another uid must reach its own folders). Raises
    :class:`ConfigurationError` when the requested mode cannot work here.
    """
    user_blocker = None
    if not is_root:
        user_blocker = "the manager does not run as root"
    elif not data_dir_searchable:
        user_blocker = (
            "a folder above the data directory is not searchable by other users "
            "(give them o+x, or choose a data directory elsewhere)"
        )
    if requested == "user":
        if user_blocker is not None:
            raise ConfigurationError(
                f"MVI_MANAGER_ISOLATION=user cannot work: {user_blocker}; use auto or landlock"
            )
        return IsolationChoice(IsolationMode.USER, "a user of its own for each version")
    if requested == "landlock":
        if landlock_abi is None:
            raise ConfigurationError(
                "MVI_MANAGER_ISOLATION=landlock cannot work: this kernel has no Landlock "
                "(Linux 5.13 or later, with landlock in the lsm= boot list); use auto"
            )
        return IsolationChoice(IsolationMode.LANDLOCK, _landlock_reason(landlock_abi))
    if requested == "none":
        return IsolationChoice(IsolationMode.NONE, "MVI_MANAGER_ISOLATION=none")
    if requested != "auto":
        raise ConfigurationError(
            f"MVI_MANAGER_ISOLATION must be auto, user, landlock or none, not {requested!r}"
        )
    if user_blocker is None:
        return IsolationChoice(IsolationMode.USER, "a user of its own for each version")
    if landlock_abi is not None:
        return IsolationChoice(IsolationMode.LANDLOCK, _landlock_reason(landlock_abi))
    return IsolationChoice(IsolationMode.NONE, f"{user_blocker} and the kernel has no Landlock")


def _landlock_reason(abi: int) -> str:
    signals = (
        "signals confined"
        if abi >= LANDLOCK_SIGNAL_ABI
        else "signals to the manager NOT confined before Landlock ABI 6"
    )
    return f"a Landlock ruleset for each version (ABI {abi}, {signals})"


def uid_for(key: str, taken: Collection[int], base: int, count: int) -> int:
    """The uid (and gid) of version ``key``: from the hash of its key in
    ``[base, base + count)``, the next free one when another version holds it."""
    start = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % count
    for step in range(count):
        uid = base + (start + step) % count
        if uid not in taken:
            return uid
    raise ConfigurationError(
        f"All {count} uids from {base} are given to versions; raise MVI_MANAGER_ISOLATION_UID_COUNT"
    )


def searchable_chain(root: Path, target: Path) -> tuple[Path, ...]:
    """``root`` and the folders between it and ``target`` (exclusive): what a version's uid
    must be able to search to reach ``target``."""
    relative = target.relative_to(root)
    chain = [root]
    for part in relative.parts[:-1]:
        chain.append(chain[-1] / part)
    return tuple(chain)


@dataclass(frozen=True)
class Confinement:
    """How one version's processes are started: as whom, owning and reaching what."""

    mode: IsolationMode
    uid: int | None = None
    """The version's own uid and gid (mode ``user``)."""
    owned: tuple[Path, ...] = ()
    """The version's own folders (its source, its monitoring data): made before a start,
    and given to its uid in mode ``user``."""
    searchable: tuple[Path, ...] = ()
    """Folders made searchable (never listable) by others, so the uid reaches ``owned``."""
    readable: tuple[Path, ...] = ()
    """What a Landlock ruleset lets it read and execute (never a folder that holds the
    data directory)."""
    writable: tuple[Path, ...] = ()
    """What a Landlock ruleset lets it write (and read)."""
    home: Path | None = None
    """Its ``HOME`` (its own folder)."""


def confinement_for(
    mode: IsolationMode,
    *,
    uid: int | None,
    data_dir: Path,
    workdir: Path,
    monitoring_dir: Path,
    environment: Path,
    extra_readable: Collection[Path] = (),
) -> Confinement:
    """The confinement of one version that runs from ``workdir`` in the virtual
    ``environment``, keeping its monitoring data in ``monitoring_dir``."""
    if mode == IsolationMode.NONE:
        return Confinement(mode)
    owned = (workdir, monitoring_dir)
    if mode == IsolationMode.USER:
        if uid is None:
            raise ValueError("mode user needs a uid")
        chains = {
            *searchable_chain(data_dir, workdir),
            *searchable_chain(data_dir, monitoring_dir),
            *searchable_chain(data_dir, environment),
        }
        return Confinement(mode, uid, owned, tuple(sorted(chains)), home=workdir)
    # a folder that holds the data directory (a data dir in /tmp or /opt) is left out
    readable = tuple(
        path
        for path in (*(Path(p) for p in SYSTEM_READABLE), *extra_readable)
        if not data_dir.is_relative_to(path)
    )
    writable = tuple(Path(p) for p in SYSTEM_WRITABLE if not data_dir.is_relative_to(p))
    return Confinement(
        mode, None, owned, (), (*readable, environment), (*owned, *writable), home=workdir
    )
