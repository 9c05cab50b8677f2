"""A store written by the previous schema (instants as SQLite text) migrates in place to integer
instants, reads the same in every part of cadence, and downgrades back to the very same text; on
PostgreSQL the revision changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from alembic import command
from sqlalchemy import Engine, MetaData, Table, insert, inspect, select, text

from cadence.store.database import _alembic_config, head_revision, upgrade
from cadence.store.models import Event, RunLog
from cadence.store.reads import load_frames
from test_migrations import empty_engine  # noqa: F401 - the fixture

# Before and after 1970, with and without microseconds, at a day's edges.
TIMES = [
    datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
    datetime(2026, 11, 23, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),
    datetime(1900, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC),
]


def _legacy(engine: Engine, name: str) -> Table:
    """The table as the database declares it now (reflected: no cadence type in between)."""
    return Table(name, MetaData(), autoload_with=engine)


def _as_written(engine: Engine, value: datetime) -> datetime:
    # Revision 0002 bound naive UTC on SQLite and aware instants on PostgreSQL.
    return value.replace(tzinfo=None) if engine.dialect.name == "sqlite" else value


def _write_at_0002(engine: Engine) -> None:
    events, runs = _legacy(engine, "events"), _legacy(engine, "runs")
    rows = []
    for i, when in enumerate(TIMES):
        t = _as_written(engine, when)
        rows.append(
            {
                "source": "g",
                "mailbox": "ann@acme.test",
                "event_id": f"e{i}",
                "status": "cancelled" if i % 2 else "confirmed",
                "original_start": t,
                "start": t,
                "end": None if i == 1 else _as_written(engine, when + timedelta(minutes=30)),
                "cancelled_at": t if i % 2 else None,
                "first_seen": t,
                "last_seen": t,
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(events), rows)
        conn.execute(
            insert(runs), [{"command": "sync", "started_at": _as_written(engine, TIMES[0])}]
        )


def _sqlite_texts(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text('SELECT original_start, "end", cancelled_at, last_seen FROM events ORDER BY 1')
        )
        return [tuple(r) for r in rows]


def test_a_store_of_the_previous_schema_reads_the_same_after_the_migration(
    empty_engine: Engine,  # noqa: F811 - the fixture
) -> None:
    config = _alembic_config(empty_engine)
    command.upgrade(config, "0002")
    _write_at_0002(empty_engine)
    before = _sqlite_texts(empty_engine) if empty_engine.dialect.name == "sqlite" else None

    assert upgrade(empty_engine) == ("0002", head_revision())
    with empty_engine.connect() as conn:
        stored = conn.execute(
            select(Event.original_start, Event.cancelled_at, Event.end).order_by(Event.event_id)
        ).all()
        run = conn.execute(select(RunLog.started_at)).scalar_one()
    assert [e.original_start for e in stored] == TIMES
    assert [e.cancelled_at for e in stored] == [t if i % 2 else None for i, t in enumerate(TIMES)]
    assert stored[1].end is None and stored[0].end == TIMES[0] + timedelta(minutes=30)
    assert run == TIMES[0]
    if empty_engine.dialect.name == "sqlite":
        types = {c["name"]: str(c["type"]) for c in inspect(empty_engine).get_columns("events")}
        assert types["original_start"] == "BIGINT" and types["last_seen"] == "BIGINT"
    # The pipeline's columnar read hands over the same instants.
    frames = load_frames(empty_engine, pd.Timestamp("1800-01-01", tz="UTC"))
    got = frames.events.sort_values("event_id")["original_start"].tolist()
    assert got == [pd.Timestamp(t) for t in TIMES]

    command.downgrade(config, "0002")
    if before is not None:
        assert _sqlite_texts(empty_engine) == before  # the very same text, byte for byte
    with empty_engine.connect() as conn:
        again = conn.execute(select(_legacy(empty_engine, "events").c.original_start)).scalars()
        assert sorted(_as_written(empty_engine, t) for t in TIMES) == sorted(again)
