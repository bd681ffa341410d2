"""Where the manager keeps things in its data directory, and the lock that makes it one
manager's (paths only, no I/O but :meth:`DataDir.create` and :class:`DataDirLock`).

::

    {home}/
      manager.lock              held while a manager runs on this directory
      registry.db               the registry (SQLite, WAL) unless MVI_MANAGER_DB_URL is set
      secret.key                the key that signs the manager's tokens (mode 0600)
      logs/manager.log          the manager's own log (rotated)
      logs/services/{name}_{version}.log   each version's stdout and stderr (rotated)
      services/{name}/{version}/           each version's unpacked source
      envs/{key}/               virtual environments, shared by versions with equal requirements
      monitoring/{name}_{version}/monitoring.db   each version's monitoring data (kept
                                           across restarts, redeploys and kills; a folder
                                           of its own, which the version may write)
      tmp/                      uploads and builds in progress (emptied at start)
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mvi._exceptions import ConfigurationError
from mvi.manager.naming import version_key

__all__ = ["PRIVATE_UMASK", "DataDir", "DataDirLock", "exposure_warning"]

PRIVATE_UMASK = 0o077
"""The manager's umask: every file it makes is 0600 and every folder 0700 (or less)."""


def exposure_warning(path: Path, mode: int) -> str | None:
    """What to tell the operator about a data directory of permission bits ``mode``
    (``None`` when only its owner may read it; searching it is harmless)."""
    if not mode & 0o044:
        return None
    return (
        f"the data directory {path} is readable by other users (mode {mode & 0o777:04o}); "
        f"make it private with `chmod 700 {path}`"
    )


@dataclass(frozen=True)
class DataDir:
    """The layout of one manager data directory."""

    root: Path

    @property
    def lock_file(self) -> Path:
        """Held (flock) by the manager running on this directory."""
        return self.root / "manager.lock"

    @property
    def registry_file(self) -> Path:
        """The default SQLite registry."""
        return self.root / "registry.db"

    @property
    def registry_url(self) -> str:
        """SQLAlchemy URL of the default registry."""
        return f"sqlite:///{self.registry_file}"

    @property
    def secret_file(self) -> Path:
        """The key that signs the manager's tokens (JWTs), private to the user."""
        return self.root / "secret.key"

    @property
    def logs(self) -> Path:
        """Log files."""
        return self.root / "logs"

    @property
    def manager_log(self) -> Path:
        """The manager's own log file."""
        return self.logs / "manager.log"

    @property
    def services(self) -> Path:
        """Unpacked service sources."""
        return self.root / "services"

    @property
    def envs(self) -> Path:
        """Virtual environments."""
        return self.root / "envs"

    @property
    def monitoring(self) -> Path:
        """Monitoring databases."""
        return self.root / "monitoring"

    @property
    def tmp(self) -> Path:
        """Scratch space for uploads and unpacking."""
        return self.root / "tmp"

    def service_dir(self, name: str, version: str) -> Path:
        """Where a version's source is unpacked."""
        return self.services / name / version

    def service_log(self, name: str, version: str) -> Path:
        """A version's log file."""
        return self.logs / "services" / f"{version_key(name, version)}.log"

    def monitoring_dir(self, name: str, version: str) -> Path:
        """The folder of a version's monitoring database (the version writes there)."""
        return self.monitoring / version_key(name, version)

    def monitoring_url(self, name: str, version: str) -> str:
        """The SQLite URL of a version's monitoring database."""
        return f"sqlite:///{self.monitoring_dir(name, version) / 'monitoring.db'}"

    def create(self) -> None:
        """Make the directories (private to this user), make a registry that an older
        manager left readable by others private (0600), and move the monitoring databases
        of older managers (``monitoring/{key}.db``) into their version's folder."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for suffix in ("", "-wal", "-shm"):
            part = self.registry_file.with_name(self.registry_file.name + suffix)
            if part.exists() and part.stat().st_mode & 0o077:
                part.chmod(0o600)
        for path in (self.logs / "services", self.services, self.envs, self.monitoring, self.tmp):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        for old in self.monitoring.glob("*.db"):
            folder = self.monitoring / old.stem
            folder.mkdir(mode=0o700, exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                part = old.with_name(old.name + suffix)
                if part.exists():
                    part.rename(folder / f"monitoring.db{suffix}")


class DataDirLock:
    """An exclusive lock on a data directory, so two managers never share one."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle

    @classmethod
    def acquire(cls, path: Path) -> DataDirLock:
        """Take the lock, or raise :class:`ConfigurationError` naming the holder."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise ConfigurationError(
                f"Another manager (pid {holder}) is running on {path.parent}; stop it, or give "
                "this one another --data-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        return cls(handle)

    def release(self) -> None:
        """Let another manager take the directory."""
        if not self._handle.closed:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
