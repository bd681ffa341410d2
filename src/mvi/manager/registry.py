"""The registry: every deployed service version and what the manager knows about it.

SQLAlchemy models and the queries the manager runs, over SQLite (WAL) by default or
PostgreSQL by URL. The schema is created and upgraded by the Alembic migrations in
``mvi/manager/migrations`` (never by ``create_all``). Methods are synchronous and short;
async callers run them in a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Engine,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from mvi.manager.naming import version_sort_key
from mvi.manager.scaling import ScalingColumns
from mvi.manager.sources import SourceColumns

__all__ = [
    "AccessToken",
    "Base",
    "MainChange",
    "Notification",
    "Registry",
    "RollbackPlan",
    "ServiceVersion",
    "UTCDateTime",
    "User",
    "create_registry_engine",
    "now",
    "plan_rollback",
    "successor",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the registry's models."""


class ServiceVersion(ScalingColumns, SourceColumns, Base):
    """One deployed version of a service (``shadow*``: ``0002_rollout``; the mixins: theirs)."""

    __tablename__ = "service_versions"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_service_versions_name_version"),
        Index(
            "ix_service_versions_one_main",
            "name",
            unique=True,
            sqlite_where=text("is_main"),
            postgresql_where=text("is_main"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    is_main: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    """One of :class:`mvi.manager.supervision.states.Status`."""
    status_since: Mapped[datetime] = mapped_column(UTCDateTime())
    desired: Mapped[str] = mapped_column(String(16), default="running")
    """``running`` or ``stopped``: what the operator asked for (reconciled at start)."""
    message: Mapped[str] = mapped_column(Text, default="")
    """Why the status is what it is (exit code, timeout, ...)."""
    port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pid_started: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The process start time (clock ticks since boot) that tells the pid apart from reuse."""
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    app_file: Mapped[str] = mapped_column(String(255), default="service.py")
    environment: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    """The variables of the version's ``.s2i/environment``."""
    env_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Key of the virtual environment; ``None`` until the build finished."""
    source_sha256: Mapped[str] = mapped_column(String(64), default="")
    access_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The SHA-256 of the version's token (``MVI_SERVICE_ACCESS_TOKEN``), made again at starts."""
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    shadow: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """Whether this version gets a copy of the main's traffic while it is not the main."""
    shadow_percent: Mapped[int] = mapped_column(Integer, default=100, server_default="100")
    """The share (0-100) of the main's mirrored requests this shadow gets."""

    @property
    def key(self) -> str:
        """``{name}_{version}``."""
        return f"{self.name}_{self.version}"

    def __repr__(self) -> str:
        return f"<ServiceVersion {self.key} {self.status}{' main' if self.is_main else ''}>"


@dataclass
class RollbackPlan:
    """Where ``mvi rollback`` would take a name (see :meth:`Registry.rollback_plan`)."""

    current: str | None
    """The main version now."""
    target: ServiceVersion | None = None
    """The previous main still deployed (``None``: there is none)."""
    undo: list[int] = field(default_factory=list)
    """Ids of the history entries that the rollback marks rolled back."""
    gone: list[str] = field(default_factory=list)
    """Earlier mains skipped because they were killed."""


class MainChange(Base):
    """One change of a name's main version; the ones not rolled back form a stack."""

    __tablename__ = "main_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(16))
    """``deploy`` (a name's first version), ``assign``, or ``promoted`` (the main was killed)."""
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rolled_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """When the change stopped standing: undone by ``mvi rollback``, or every version of
    the name was killed (``None`` while it stands)."""


# -- trust (0003_trust): users, access tokens and notifications ---------------------------------
class User(Base):
    """Someone who may log in (``admin`` is created at the manager's first start)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("username", name="uq_users_username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    """An argon2 hash; the password itself is never stored."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AccessToken(Base):
    """One issued token, known by its id (the JWT's ``jti``); the token itself is not kept."""

    __tablename__ = "access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``login`` (from ``mvi login``), ``api`` (``mvi token create``) or ``service``."""
    subject: Mapped[str] = mapped_column(String(160), index=True)
    """The user name, or ``{name}_{version}`` of a service version."""
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """``None`` for a service token: it lives until its version is killed."""
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Notification(Base):
    """One notification (service, version, severity, message) and how often it was raised."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("fingerprint", name="uq_notifications_fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    """SHA-256 of service, version, severity and message: equal ones share a row."""
    service: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    dashboard: Mapped[bool] = mapped_column(Boolean, default=True)
    """Shown in the default listing (and the dashboard) once any occurrence asked for it."""
    emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The recipients the last occurrence named."""
    timer: Mapped[int] = mapped_column(Integer, default=0)
    """Seconds that must pass before the same notification is emailed again (last given)."""
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """When an email of it was last queued (the throttle's clock)."""
    email_count: Mapped[int] = mapped_column(Integer, default=0)


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_registry_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys."""
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


# -- which version is the main (no I/O) ---------------------------------------------------------
def successor(remaining: Sequence[ServiceVersion]) -> ServiceVersion | None:
    """The version that becomes a name's main when its main is removed: the one deployed
    first of ``remaining`` (``None`` when none remain)."""
    return min(remaining, key=lambda r: (r.deployed_at, r.id)) if remaining else None


def plan_rollback(
    rows: Mapping[str, ServiceVersion], standing: Sequence[MainChange]
) -> RollbackPlan:
    """Where a rollback takes a name whose versions are ``rows`` (by version) and whose
    changes of main not rolled back are ``standing`` (oldest first).

    Those changes form a stack whose top is the current main; the target is the nearest
    entry below it that names another version still deployed. The entries above the target
    (the current main's, and those of versions since killed) are the ones to mark rolled back.
    """
    current = next((r.version for r in rows.values() if r.is_main), None)
    plan = RollbackPlan(current=current)
    for entry in reversed(standing):
        if entry.version == current:
            plan.undo.append(entry.id)
        elif entry.version not in rows:
            plan.undo.append(entry.id)
            plan.gone.append(entry.version)
        else:
            plan.target = rows[entry.version]
            break
    return plan


class Registry:
    """Queries over the registry tables (the schema must already be migrated)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction, committed on success."""
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    # -- reads -----------------------------------------------------------------------------
    def versions(self, name: str | None = None, version: str | None = None) -> list[ServiceVersion]:
        """Versions, by name then semver order, optionally of one name (and version)."""
        query = select(ServiceVersion)
        if name is not None:
            query = query.where(ServiceVersion.name == name)
        if version is not None:
            query = query.where(ServiceVersion.version == version)
        with self.session() as session:
            rows = list(session.scalars(query))
        return sorted(rows, key=lambda r: (r.name, version_sort_key(r.version)))

    def get(self, name: str, version: str) -> ServiceVersion | None:
        """One version, or ``None``."""
        with self.session() as session:
            return session.scalars(
                select(ServiceVersion).where(
                    ServiceVersion.name == name, ServiceVersion.version == version
                )
            ).first()

    def main_of(self, name: str) -> ServiceVersion | None:
        """The main version of ``name``, or ``None``."""
        with self.session() as session:
            return session.scalars(
                select(ServiceVersion).where(
                    ServiceVersion.name == name, ServiceVersion.is_main.is_(True)
                )
            ).first()

    def used_ports(self) -> set[int]:
        """Ports held by registered versions."""
        with self.session() as session:
            ports = session.scalars(
                select(ServiceVersion.port).where(ServiceVersion.port.is_not(None))
            )
            return {int(p) for p in ports if p is not None}

    def env_keys(self) -> set[str]:
        """Environment keys that some version uses."""
        with self.session() as session:
            keys = session.scalars(
                select(ServiceVersion.env_key).where(ServiceVersion.env_key.is_not(None))
            )
            return {k for k in keys if k}

    # -- writes ------------------------------------------------------------------------------
    def add(
        self,
        name: str,
        version: str,
        *,
        status: str,
        port: int,
        app_file: str,
        environment: dict[str, str],
        source_sha256: str,
        access_token: str | None = None,
        **columns: Any,
    ) -> ServiceVersion:
        """Register a new version (``columns``: replicas, source); the main if its name's first."""
        stamp = now()
        with self.session() as session:
            has_main = (
                session.scalars(
                    select(ServiceVersion.id).where(
                        ServiceVersion.name == name, ServiceVersion.is_main.is_(True)
                    )
                ).first()
                is not None
            )
            row = ServiceVersion(
                name=name,
                version=version,
                is_main=not has_main,
                status=status,
                status_since=stamp,
                desired="running",
                message="",
                port=port,
                **columns,
                restarts=0,
                app_file=app_file,
                environment=environment,
                source_sha256=source_sha256,
                access_token=access_token,
                deployed_at=stamp,
                created_at=stamp,
            )
            session.add(row)
            if row.is_main:
                session.add(
                    MainChange(name=name, version=version, reason="deploy", assigned_at=stamp)
                )
        return row

    def update(self, name: str, version: str, **values: Any) -> ServiceVersion | None:
        """Set columns of one version; ``None`` if it is not registered."""
        with self.session() as session:
            row = session.scalars(
                select(ServiceVersion).where(
                    ServiceVersion.name == name, ServiceVersion.version == version
                )
            ).first()
            if row is None:
                return None
            for column, value in values.items():
                setattr(row, column, value)
        return row

    def set_main(self, name: str, version: str, reason: str = "assign") -> bool:
        """Make ``version`` the main of ``name`` and add it to the history of mains;
        ``False`` if it is not registered."""
        with self.session() as session:
            if not self._switch_main(session, name, version):
                return False
            session.add(MainChange(name=name, version=version, reason=reason, assigned_at=now()))
        return True

    @staticmethod
    def _switch_main(session: Session, name: str, version: str) -> bool:
        rows = list(session.scalars(select(ServiceVersion).where(ServiceVersion.name == name)))
        target = next((r for r in rows if r.version == version), None)
        if target is None:
            return False
        for row in rows:
            if row.is_main and row is not target:
                row.is_main = False
        session.flush()  # the one-main index must never see two
        target.is_main = True
        return True

    def remove(self, name: str, version: str) -> ServiceVersion | None:
        """Delete one version; if it was the main, the oldest remaining one becomes main.

        Returns the newly promoted main, if any.
        """
        with self.session() as session:
            rows = list(session.scalars(select(ServiceVersion).where(ServiceVersion.name == name)))
            target = next((r for r in rows if r.version == version), None)
            if target is None:
                return None
            session.delete(target)
            session.flush()
            rest = [r for r in rows if r is not target]
            if not rest:  # the name is gone: its history stays, but no longer stands
                standing = select(MainChange).where(
                    MainChange.name == name, MainChange.rolled_back_at.is_(None)
                )
                for change in session.scalars(standing):
                    change.rolled_back_at = now()
            promoted = successor(rest) if target.is_main else None
            if promoted is not None:
                promoted.is_main = True
                session.add(
                    MainChange(
                        name=name, version=promoted.version, reason="promoted", assigned_at=now()
                    )
                )
                return promoted
        return None

    # -- rollout: the history of mains -----------------------------------------------------
    def main_history(self, name: str) -> list[MainChange]:
        """Every change of ``name``'s main, oldest first (rolled-back ones included)."""
        with self.session() as session:
            return list(
                session.scalars(
                    select(MainChange).where(MainChange.name == name).order_by(MainChange.id)
                )
            )

    def rollback_plan(self, name: str) -> RollbackPlan:
        """Which earlier main ``mvi rollback`` returns ``name`` to (:func:`plan_rollback`)."""
        with self.session() as session:
            rows = {
                r.version: r
                for r in session.scalars(select(ServiceVersion).where(ServiceVersion.name == name))
            }
            standing = list(
                session.scalars(
                    select(MainChange)
                    .where(MainChange.name == name, MainChange.rolled_back_at.is_(None))
                    .order_by(MainChange.id)
                )
            )
        return plan_rollback(rows, standing)

    def rollback(self, name: str, plan: RollbackPlan) -> bool:
        """Apply ``plan``: its target becomes the main, the changes above it are marked
        rolled back. ``False`` (and nothing changed) if the main moved since the plan."""
        if plan.target is None:
            return False
        stamp = now()
        with self.session() as session:
            main = session.scalars(
                select(ServiceVersion.version).where(
                    ServiceVersion.name == name, ServiceVersion.is_main.is_(True)
                )
            ).first()
            if main != plan.current or not self._switch_main(session, name, plan.target.version):
                return False
            for change in session.scalars(select(MainChange).where(MainChange.id.in_(plan.undo))):
                change.rolled_back_at = stamp
        return True
