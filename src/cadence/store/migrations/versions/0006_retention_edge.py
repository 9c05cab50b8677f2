"""retention_edge: how far back the retention has deleted

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

The nightly deletes events older than ``[store] retention_days``. A report that needs older
events must say so rather than show their absence as 1:1s that never happened; the edge the
deletion used is kept here, so the refusal depends on what was deleted, not on the clock.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INSTANT = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "retention_edge",
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("deleted_before", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("table_name", name=op.f("pk_retention_edge")),
    )


def downgrade() -> None:
    op.drop_table("retention_edge")
