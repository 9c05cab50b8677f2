"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aliases",
        sa.Column("alias", sa.String(length=320), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.PrimaryKeyConstraint("alias", name=op.f("pk_aliases")),
    )
    with op.batch_alter_table("aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_aliases_email"), ["email"], unique=False)

    op.create_table(
        "attendees",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("mailbox", sa.String(length=320), nullable=False),
        sa.Column("event_id", sa.String(length=1024), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("response", sa.String(length=20), nullable=False),
        sa.Column("is_organizer", sa.Boolean(), nullable=False),
        sa.Column("is_resource", sa.Boolean(), nullable=False),
        sa.Column("optional", sa.Boolean(), nullable=False),
        sa.Column("response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "source", "mailbox", "event_id", "email", name=op.f("pk_attendees")
        ),
    )
    op.create_table(
        "events",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("mailbox", sa.String(length=320), nullable=False),
        sa.Column("event_id", sa.String(length=1024), nullable=False),
        sa.Column("series_id", sa.String(length=1024), nullable=True),
        sa.Column("ical_uid", sa.String(length=1024), nullable=True),
        sa.Column("original_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("all_day", sa.Boolean(), nullable=True),
        sa.Column("event_type", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("organizer", sa.String(length=320), nullable=True),
        sa.Column("recurrence", sa.Text(), nullable=True),
        sa.Column("source_updated", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "mailbox", "event_id", name=op.f("pk_events")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # As models.py says: room on each page for a sync's rewrite of its rows (HOT updates).
        for table in ("attendees", "events"):
            op.execute(f"ALTER TABLE {table} SET (fillfactor = 50)")
    op.create_table(
        "mailboxes",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.PrimaryKeyConstraint("source", "email", name=op.f("pk_mailboxes")),
    )
    op.create_table(
        "people",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("manager_email", sa.String(length=320), nullable=True),
        sa.Column("team", sa.String(length=500), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_people")),
    )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_people_manager_email"), ["manager_email"], unique=False
        )

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("command", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_table(
        "sources",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sources")),
    )
    op.create_table(
        "sync_state",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("mailbox", sa.String(length=320), nullable=False),
        sa.Column("token", sa.Text(), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("events_changed", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source", "mailbox", name=op.f("pk_sync_state")),
    )


def downgrade() -> None:
    op.drop_table("sync_state")
    op.drop_table("sources")
    op.drop_table("runs")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_people_manager_email"))

    op.drop_table("people")
    op.drop_table("mailboxes")
    op.drop_table("events")
    op.drop_table("attendees")
    with op.batch_alter_table("aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aliases_email"))

    op.drop_table("aliases")
