"""Web apps: the port a version's app listens on when the deploy fixed it (``--port``).

Revision ID: 0005_app_port
Revises: 0004_replicas
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0005_app_port"
down_revision = "0004_replicas"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``app_port`` to ``service_versions`` (no existing version fixed its port)."""
    with op.batch_alter_table("service_versions") as batch:
        batch.add_column(sa.Column("app_port", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop ``app_port``."""
    with op.batch_alter_table("service_versions") as batch:
        batch.drop_column("app_port")
