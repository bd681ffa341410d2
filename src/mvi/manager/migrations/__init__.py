"""The registry's Alembic migrations, shipped in the package and run at manager start.

``alembic upgrade head`` is :func:`upgrade`; the revisions live in ``versions/``. To write a
new one, change the models in :mod:`mvi.manager.registry` and add a revision file by hand
(or with ``alembic revision --autogenerate`` against a scratch database, using
:func:`alembic_config`).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

__all__ = ["alembic_config", "upgrade"]

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic configuration for these migrations, on ``connection`` or ``url``."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the registry behind ``engine`` to ``revision`` (``alembic upgrade head``)."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
