"""forgotten_people: who was erased, as hashes only

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

``cadence forget`` deletes a person's data; later syncs and org imports must not bring them
back, so the store keeps the SHA-256 of each of their normalised addresses, and nothing else.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

INSTANT = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "forgotten_people",
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("forgotten_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("email_hash", name=op.f("pk_forgotten_people")),
    )


def downgrade() -> None:
    op.drop_table("forgotten_people")
