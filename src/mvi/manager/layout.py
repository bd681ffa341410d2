"""Where the manager keeps things in its data directory (paths only, no I/O but ``create``).

::

    {home}/
      manager.lock              held while a manager runs on this directory
      registry.db               the registry (SQLite, WAL) unless MVI_MANAGER_DB_URL is set
      secret.key                the key that signs the manager's tokens (mode 0600)
      logs/manager.log          the manager's own log (rotated)
      logs/services/{name}_{version}.log   each version's stdout and stderr (rotated)
      services/{name}/{version}/           each version's unpacked source
      envs/{key}/               virtual environments, shared by versions with equal requirements
      monitoring/{name}_{version}.db       each version's monitoring data (kept across
                                           restarts, redeploys and kills)
      tmp/                      uploads and builds in progress (emptied at start)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mvi.manager.naming import version_key

__all__ = ["DataDir"]


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

    def monitoring_url(self, name: str, version: str) -> str:
        """The SQLite URL of a version's monitoring database."""
        return f"sqlite:///{self.monitoring / (version_key(name, version) + '.db')}"

    def create(self) -> None:
        """Make the directories (private to this user)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for path in (self.logs / "services", self.services, self.envs, self.monitoring, self.tmp):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
