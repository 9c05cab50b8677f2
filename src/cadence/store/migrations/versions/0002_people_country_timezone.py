"""people: where each works (country, time zone)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Away time (a 1:1 missed on someone's public holiday or vacation is nobody's fault) needs each
person's country and time zone. Both are nullable: a chart stored before this revision said
neither, and keeps its people as they were until its next import or pull fills them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("country", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("timezone")
        batch_op.drop_column("country")
