"""request_budgets: one token bucket per source, shared by every host of a night

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

A night spread over several processes and hosts must not exceed the provider's quota by its own
volume; each source's budget is one row, drawn from by every process in one statement.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_budgets",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.Column("refilled_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_request_budgets")),
    )


def downgrade() -> None:
    op.drop_table("request_budgets")
