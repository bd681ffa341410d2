"""Replicas: how many processes serve a version, its autoscaling bounds, its credential.

Revision ID: 0004_replicas
Revises: 0003_trust
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0004_replicas"
down_revision = "0003_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``replicas``, ``min_replicas``, ``max_replicas``, ``target_inflight`` and
    ``replica_secret`` to ``service_versions`` (every existing version has one replica)."""
    with op.batch_alter_table("service_versions") as batch:
        batch.add_column(sa.Column("replicas", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("min_replicas", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_replicas", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("target_inflight", sa.Float(), nullable=True))
        batch.add_column(sa.Column("replica_secret", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop the replica columns."""
    with op.batch_alter_table("service_versions") as batch:
        batch.drop_column("replica_secret")
        batch.drop_column("target_inflight")
        batch.drop_column("max_replicas")
        batch.drop_column("min_replicas")
        batch.drop_column("replicas")
