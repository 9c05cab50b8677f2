"""Delete the events that started before the retention edge, with their attendees, a day at a time.

``[store] retention_days`` bounds how long cadence keeps what calendars said; the nightly ends by
calling :func:`delete_before`. A store holds millions of rows and a sync may be writing while it
runs, so the delete never holds a long lock:

- The rows to delete are found by a read (no write lock, and on SQLite's WAL no wait for a
  writer), up to :data:`SCAN_ROWS` keys at a time so the keys held in memory stay bounded on the
  first run over years of history. ``events`` has no index on its times (docs/store.md: one
  doubled the cost of every sync), so finding them is one scan per :data:`SCAN_ROWS`; deleting
  them is by key, through the primary keys of both tables.
- They are deleted one UTC day at a time, at most :data:`BATCH_EVENTS` events per transaction,
  each a short write transaction (0.1 to 0.3 s at 20,000 people), so another writer waits for
  one batch at most, never for the whole run. On SQLite, one writer at a time, a batch takes the
  write lock first, trying every few milliseconds (:func:`_write_lock`), and after its commit
  checkpoints the log and leaves the lock free a moment (:func:`_checkpoint`), so a waiting sync
  gets its turn between two batches; on PostgreSQL a batch locks only its own rows. Both
  statements of a batch are driven by its keys (arrays on PostgreSQL, one JSON parameter on
  SQLite), so each is an index probe per key whatever the tables' sizes.
- The delete checks again that each row is still before the edge, so an event a sync moved into
  the kept window since it was found stays, and deletes the attendees of exactly the events it
  deleted, in the same transaction: no attendee row outlives its event, none of a kept event goes.

Which rows: a copy whose start and original start are both before the edge (each where it is
known; a copy that knows neither is kept, it cannot be placed in time). The store holds no series
masters: every row is one occurrence (connectors list a series' occurrences, each carrying the
series' rule), so a series that began long ago keeps every occurrence inside the window and loses
only those before it; an occurrence moved from before the edge into the window stays, so its move
is still counted.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import groupby
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from cadence.store.models import RetentionEdge, UTCDateTime
from cadence.store.upsert import ATTENDEES, EVENTS

# Keys of events to delete found by one read: about 30 MB of Python tuples, a few weeks of a
# 20,000-person company. A larger backlog (the first run over years of history) takes more reads.
SCAN_ROWS = 100_000
# Events deleted per transaction (at most; a day with fewer is one transaction). With their
# attendees, 0.1 to 0.3 s of a SQLite write lock at 20,000 people; 5,000 held it twice as long
# for the same total (benchmarks/bench_retention.py).
BATCH_EVENTS = 2_000

# SQLite: how often a batch tries again for the write lock while another writer holds it, and
# how long it leaves the lock free after committing. SQLite's own busy handler sleeps up to
# 100 ms between tries, and a sync's page follows its previous one within milliseconds: a batch
# waiting that way missed gap after gap (9.5 s for one batch beside a sync saving pages back to
# back, benchmarks/bench_retention.py); trying every 2 ms it takes the first gap. The pause after
# it is the other side of the same deal: a sync waiting in the busy handler gets its turn.
SQLITE_RETRY = 0.002
SQLITE_YIELD = 0.1

Key = tuple[str, str, str]  # source, mailbox, event_id
EDGE = bindparam("edge", type_=UTCDateTime())


@dataclass(frozen=True)
class Deleted:
    """How many rows a retention run deleted."""

    events: int = 0
    attendees: int = 0

    def __add__(self, other: Deleted) -> Deleted:
        return Deleted(self.events + other.events, self.attendees + other.attendees)


@dataclass(frozen=True)
class Batch:
    """One transaction of a retention run: the UTC day its events started on, what it deleted,
    how long it took (begin to commit) and how much of that it ``waited`` for the database: on
    SQLite for the write lock, another writer's transaction to end (it holds the lock for the
    rest); on PostgreSQL nothing is waited for up front (0), a batch locks only its own rows."""

    day: date
    deleted: Deleted
    seconds: float
    waited: float = 0.0


def _when() -> ColumnElement[datetime]:
    """A copy's place in time: its start, else its original start."""
    c = EVENTS.c
    return func.coalesce(c.start, c.original_start, type_=UTCDateTime())


def _before_edge() -> ColumnElement[bool]:
    """Started before the edge: the start and the original start, each where it is known."""
    c = EVENTS.c
    return (func.coalesce(c.start, c.original_start) < EDGE) & (
        func.coalesce(c.original_start, c.start) < EDGE
    )


def _keys(dialect: str) -> Select[Any]:
    """A batch's keys as rows (source, mailbox, event_id), from one parameter per column
    (PostgreSQL's arrays) or one JSON array of triples (SQLite, which has no arrays). Either way
    the statement's text is the same for every batch, and the planner sees a list to probe the
    key with rather than a table to join."""
    if dialect == "postgresql":
        arrays = [bindparam(n, type_=postgresql.ARRAY(Text())) for n in ("s", "m", "e")]
        rows = (
            func.unnest(*arrays)
            .table_valued("source", "mailbox", "event_id")
            .render_derived(name="k")
        )
        return select(rows.c.source, rows.c.mailbox, rows.c.event_id)
    triples = func.json_each(bindparam("keys", type_=Text())).table_valued("value").alias("k")
    return select(*(func.json_extract(triples.c.value, f"$[{i}]") for i in range(3)))


def _parameters(dialect: str, keys: Sequence[Key]) -> dict[str, Any]:
    if dialect == "postgresql":
        return {"s": [k[0] for k in keys], "m": [k[1] for k in keys], "e": [k[2] for k in keys]}
    return {"keys": json.dumps(keys)}


def _delete_events(dialect: str) -> Any:
    c = EVENTS.c
    key = tuple_(c.source, c.mailbox, c.event_id)
    return (
        delete(EVENTS)
        .where(key.in_(_keys(dialect)), _before_edge())
        .returning(c.source, c.mailbox, c.event_id)
    )


def _delete_attendees(dialect: str) -> Any:
    a = ATTENDEES.c
    return delete(ATTENDEES).where(tuple_(a.source, a.mailbox, a.event_id).in_(_keys(dialect)))


def _find(
    engine: Engine, edge: datetime, wanted: Callable[[str], bool] | None, limit: int
) -> list[tuple[datetime, str, str, str]]:
    """Up to ``limit`` copies before the edge (of the calendars ``wanted`` keeps), as
    (when, source, mailbox, event_id) in that order. A plain read: it waits for no writer."""
    c = EVENTS.c
    stmt = select(_when(), c.source, c.mailbox, c.event_id).where(_before_edge())
    found: list[tuple[datetime, str, str, str]] = []
    verdicts: dict[str, bool] = {}
    with engine.connect() as conn:
        rows = conn.execution_options(stream_results=True, yield_per=10_000).execute(
            stmt, {"edge": edge}
        )
        for when, source, mailbox, event_id in rows:
            if wanted is not None:
                ok = verdicts.get(mailbox)
                if ok is None:
                    ok = verdicts[mailbox] = wanted(mailbox)
                if not ok:
                    continue
            found.append((when, source, mailbox, event_id))
            if len(found) >= limit:
                break
        rows.close()
    found.sort()
    return found


def _batches(
    found: Iterable[tuple[datetime, str, str, str]], size: int
) -> Iterable[tuple[date, list[Key]]]:
    """The keys of each UTC day, ``size`` at a time."""
    for day, rows in groupby(found, key=lambda row: row[0].astimezone(UTC).date()):
        keys = [(source, mailbox, event_id) for _, source, mailbox, event_id in rows]
        for i in range(0, len(keys), size):
            yield day, keys[i : i + size]


def _write_lock(conn: Connection) -> None:
    """SQLite: take the write lock before the batch's first statement (``BEGIN IMMEDIATE``), so
    it never has to upgrade a read midway, trying again every :data:`SQLITE_RETRY` while another
    writer holds it, for as long as the connection's busy timeout; then once more the ordinary
    way, which fails as any write to a held database does (one line naming the database)."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    cursor = raw.cursor()
    try:
        (timeout_ms,) = cursor.execute("PRAGMA busy_timeout").fetchone()
        cursor.execute("PRAGMA busy_timeout = 0")
        try:
            deadline = time.monotonic() + timeout_ms / 1000
            while time.monotonic() < deadline:
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    # Anything but "held": the ordinary way below raises it as the store does.
                    if not getattr(exc, "sqlite_errorname", "").startswith("SQLITE_BUSY"):
                        break
                time.sleep(SQLITE_RETRY)
        finally:
            with suppress(sqlite3.Error):  # a broken connection fails the statement below
                cursor.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
    finally:
        cursor.close()
    conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def _checkpoints_apart(conn: Connection) -> Iterator[None]:
    """SQLite: no checkpoint inside a batch's commit while ``conn`` deletes (see
    :func:`_checkpoint`); the connection's own setting again afterwards. PostgreSQL: nothing."""
    if conn.dialect.name != "sqlite":
        yield
        return
    (pages,) = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").one()
    conn.exec_driver_sql("PRAGMA wal_autocheckpoint = 0")
    conn.commit()
    try:
        yield
    finally:
        if not conn.invalidated:  # a connection that broke is thrown away, setting and all
            conn.rollback()  # whatever failed midway: the setting goes back outside it
            conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint = {int(pages)}")
            conn.commit()


def _checkpoint(conn: Connection, committed: float) -> None:
    """SQLite, after a batch: copy the write-ahead log into the database, then leave the lock
    free for the rest of :data:`SQLITE_YIELD`.

    A batch dirties a page per row it deletes (the rows of a day lie all over the tables), tens
    of megabytes, and the commit that pushes the log past ``wal_autocheckpoint`` would copy it
    into the database itself: two thirds of the batch's time (benchmarks/bench_retention.py),
    with the write lock already released but the next batch waiting. A passive checkpoint here,
    between batches, takes no lock a writer needs (a sync commits meanwhile), and keeps the log
    from growing over a long run as autocheckpoints would.
    """
    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()
    conn.commit()
    # Room for a writer waiting in SQLite's busy handler (which tries again at most every
    # 100 ms) to take the lock before the next batch does.
    time.sleep(max(0.0, SQLITE_YIELD - (time.perf_counter() - committed)))


def _delete_batch(conn: Connection, edge: datetime, keys: Sequence[Key]) -> Deleted:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # psycopg prepares a statement after five runs, and PostgreSQL may then keep a generic
        # plan, blind to how many keys a batch holds: plan each batch for its own keys.
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
    gone: list[Key] = [
        (s, m, e)
        for s, m, e in conn.execute(
            _delete_events(dialect), {"edge": edge, **_parameters(dialect, keys)}
        )
    ]
    if not gone:
        return Deleted()
    attendees = conn.execute(_delete_attendees(dialect), _parameters(dialect, gone)).rowcount
    return Deleted(len(gone), attendees)


def delete_before(
    engine: Engine,
    edge: datetime,
    *,
    mailboxes: Callable[[str], bool] | None = None,
    batch_events: int = BATCH_EVENTS,
    scan_rows: int = SCAN_ROWS,
    on_batch: Callable[[Batch], None] | None = None,
) -> Deleted:
    """Delete every event copy that started before ``edge`` (an aware instant), and its
    attendees, in short transactions of one day and at most ``batch_events`` events each.

    ``mailboxes`` keeps the delete to the calendars it says yes to (a sharded nightly deletes
    its own share); ``on_batch`` hears of each transaction once it committed. Returns what was
    deleted. Safe beside a running sync: see the module's docstring.
    """
    if edge.tzinfo is None:
        raise ValueError(f"naive datetime {edge!r}: the retention edge must be an aware instant")
    total = Deleted()
    with engine.connect() as conn, _checkpoints_apart(conn):
        sqlite = conn.dialect.name == "sqlite"
        while True:
            found = _find(engine, edge, mailboxes, scan_rows)
            deleted = Deleted()
            for day, keys in _batches(found, batch_events):
                start = locked = time.perf_counter()
                with conn.begin():
                    if sqlite:
                        _write_lock(conn)
                        locked = time.perf_counter()
                    batch = _delete_batch(conn, edge, keys)
                done = time.perf_counter()
                deleted += batch
                if sqlite:
                    _checkpoint(conn, done)
                if on_batch is not None:
                    on_batch(Batch(day, batch, done - start, locked - start))
            total += deleted
            # Fewer than a full read: nothing older is left. Nothing deleted: what was found
            # has moved into the window since (a sync), so reading again would find the same.
            if len(found) < scan_rows or deleted.events == 0:
                return total


EDGE_TABLE = "events"
EDGES: Table = RetentionEdge.__table__  # type: ignore[assignment]


def record_edge(engine: Engine, edge: datetime) -> None:
    """Remember that events before ``edge`` are deleted (never moving the edge back)."""
    table = EDGES
    with engine.begin() as conn:
        current = conn.execute(
            select(table.c.deleted_before).where(table.c.table_name == EDGE_TABLE)
        ).scalar_one_or_none()
        if current is None:
            conn.execute(insert(table).values(table_name=EDGE_TABLE, deleted_before=edge))
        elif edge > current:
            conn.execute(
                update(table).where(table.c.table_name == EDGE_TABLE).values(deleted_before=edge)
            )


def deleted_before(engine: Engine) -> datetime | None:
    """The instant before which the retention deleted events; None if it never ran."""
    table = EDGES
    with engine.connect() as conn:
        return conn.execute(
            select(table.c.deleted_before).where(table.c.table_name == EDGE_TABLE)
        ).scalar_one_or_none()
