"""Rollout: shadow settings per version, and the history of each name's mains.

Revision ID: 0002_rollout
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0002_rollout"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``shadow``/``shadow_percent`` to versions; create ``main_history``, seeded with
    the current mains."""
    with op.batch_alter_table("service_versions") as batch:
        batch.add_column(
            sa.Column("shadow", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch.add_column(
            sa.Column("shadow_percent", sa.Integer(), server_default="100", nullable=False)
        )
    history = op.create_table(
        "main_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rolled_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_main_history_name", "main_history", ["name"], unique=False)
    mains = op.get_bind().execute(
        sa.text("SELECT name, version FROM service_versions WHERE is_main ORDER BY id")
    )
    stamp = datetime.now(UTC)
    rows = [
        {"name": name, "version": version, "reason": "deploy", "assigned_at": stamp}
        for name, version in mains
    ]
    if rows:
        op.bulk_insert(history, rows)


def downgrade() -> None:
    """Drop ``main_history`` and the shadow columns."""
    op.drop_index("ix_main_history_name", table_name="main_history")
    op.drop_table("main_history")
    with op.batch_alter_table("service_versions") as batch:
        batch.drop_column("shadow_percent")
        batch.drop_column("shadow")
