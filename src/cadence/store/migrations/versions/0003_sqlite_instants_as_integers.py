"""SQLite keeps instants as integer microseconds since 1970 (UTC)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

Every report reads a million or more instants. As SQLite text ("2026-11-23 12:00:00.000000") each
had to be parsed; as integers a columnar read hands them over as they are. This revision converts
every time column of an existing SQLite database in place, value by value in SQL (whole seconds
from ``strftime('%s')``, then the six digits of microseconds), and declares the columns BIGINT;
the downgrade writes the same text back. PostgreSQL keeps ``timestamptz``, already a binary
instant: nothing changes there.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Every time column, by table (nullable or not), as revision 0002 left them.
TIME_COLUMNS = {
    "sync_state": {
        "window_start": True,
        "window_end": True,
        "first_synced_at": True,
        "last_run_at": True,
        "last_success_at": True,
    },
    "events": {
        "original_start": True,
        "start": True,
        "end": True,
        "source_updated": True,
        "cancelled_at": True,
        "cancel_seen_at": True,
        "first_seen": False,
        "last_seen": False,
    },
    "attendees": {"response_at": True, "response_seen_at": True, "last_seen": False},
    "runs": {"started_at": False, "finished_at": True},
}


def _to_micros(column: str) -> str:
    """SQL turning SQLAlchemy's SQLite text of a UTC instant (``YYYY-MM-DD HH:MM:SS[.ffffff]``)
    into integer microseconds; a missing fraction is zero."""
    c = f'"{column}"'
    return (
        f"CAST(strftime('%s', substr({c}, 1, 19)) AS INTEGER) * 1000000"
        f" + CAST(substr(substr({c}, 21) || '000000', 1, 6) AS INTEGER)"
    )


def _to_text(column: str) -> str:
    """SQL turning integer microseconds back into that text (floor division, so instants
    before 1970 keep their microseconds)."""
    c = f'"{column}"'
    micros = f"(({c} % 1000000) + 1000000) % 1000000"
    return (
        f"strftime('%Y-%m-%d %H:%M:%S', ({c} - {micros}) / 1000000, 'unixepoch')"
        f" || '.' || printf('%06d', {micros})"
    )


def _retype(new_type: sa.types.TypeEngine, old_type: sa.types.TypeEngine) -> None:
    for table, columns in TIME_COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, nullable in columns.items():
                batch_op.alter_column(
                    column, type_=new_type, existing_type=old_type, existing_nullable=nullable
                )


def _rewrite(to_sql: Callable[[str], str]) -> None:
    for table, columns in TIME_COLUMNS.items():
        sets = ", ".join(f'"{c}" = {to_sql(c)}' for c in columns)
        op.execute(f"UPDATE {table} SET {sets}")


# The values are rewritten while the column has SQLite's NUMERIC affinity (DATETIME), which
# keeps both an integer and a date text as they are; the table copy that changes a declared
# type casts each value to it, and a date text cast to an integer would be its year.
def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rewrite(_to_micros)
    _retype(sa.BigInteger(), sa.DateTime(timezone=True))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _retype(sa.DateTime(timezone=True), sa.BigInteger())
    _rewrite(_to_text)
