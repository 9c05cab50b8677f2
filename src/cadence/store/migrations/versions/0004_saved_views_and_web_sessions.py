"""saved_views and web_sessions: what the web app reads and who is signed in to it

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

The web app shows each person their reports for any week without waiting for the pipeline:
``report all`` and the nightly save every report's figures per week (``saved_views``), and a page
reads one row. Signed-in people are kept server-side (``web_sessions``), so signing out or an
expiry ends a session for good. Both tables are new: nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Instants as the store keeps them since 0003: integer microseconds on SQLite, timestamptz else.
INSTANT = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "saved_views",
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.Column("as_of", INSTANT, nullable=False),
        sa.Column("saved_at", INSTANT, nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("week", "kind", "subject", name=op.f("pk_saved_views")),
    )
    op.create_table(
        "web_sessions",
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("seen_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("secret_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_email"), "web_sessions", ["email"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_web_sessions_email"), table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("saved_views")
