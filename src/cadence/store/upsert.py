"""Save normalised events in bulk: the merge that every sync's pages go through.

Saving is idempotent: the same events saved twice (at the same ``seen_at``) leave the same rows.
A later copy that does not say something (``None``) keeps what an earlier sync stored, because a
cancelled Google instance may carry nothing but its id (docs/google.md). Times the figures need
but no source gives are recorded here as sightings, at the first sync that saw them (the pipeline
alone decides from them when a miss happened, docs/metrics.md):

- ``original_start`` keeps the first value seen, so a moved one-off counts as rescheduled;
- ``cancel_seen_at`` / ``response_seen_at``: the first sync that saw a cancellation or a response,
  left null when the mailbox's very first sync found it (its time is unknowable).

Every value is first put in the form its column can hold (:mod:`cadence.store.fitting`): a sender
chooses an invitation's UID and its guests' addresses, and one value PostgreSQL refuses would
otherwise fail the page and its mailbox.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    MetaData,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    case,
    delete,
    func,
    literal_column,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.elements import ColumnElement

from cadence.normalised import Attendee, Event
from cadence.store.fitting import fitted_events
from cadence.store.forget import address_hash
from cadence.store.models import Attendee as AttendeeRow
from cadence.store.models import Event as EventRow
from cadence.store.models import UTCDateTime, to_micros

# Events staged and merged at a time: a page is one chunk (Google's pages hold at most 2,500);
# the stale-attendee delete binds one parameter per event, well below both backends' limits.
CHUNK = 10_000

EVENTS: Table = EventRow.__table__  # type: ignore[assignment]
ATTENDEES: Table = AttendeeRow.__table__  # type: ignore[assignment]


_STAGING = MetaData()


def _staging(table: Table, names: Sequence[str], *extra: Column[Any]) -> Table:
    """A temporary table with ``table``'s columns ``names``, no keys, that a page is loaded into.

    Its strings are plain ``text``: the real tables' columns check the values when they are
    merged, and PostgreSQL estimates a staged page's size better without ``varchar(1024)``s.
    """
    columns = [
        Column(n, table.c[n].type if isinstance(table.c[n].type, UTCDateTime | Boolean) else Text())
        for n in names
    ]
    return Table(
        f"cadence_stage_{table.name}",
        _STAGING,
        *columns,
        *extra,
        prefixes=["TEMPORARY"],
        # Emptied by PostgreSQL at commit, which is far cheaper than a TRUNCATE per page.
        postgresql_on_commit="DELETE ROWS",
    )


# What a copy says, staged as is, in the order _event_rows and _attendee_rows build their tuples.
# The columns a sync derives (original_start's default, the cancellation's and the sync's
# times) are computed by the merge statements, once for the whole page.
# In the models' column order (the schema's one definition), less what the merge derives.
EVENTS_DERIVED = ("cancelled_at", "cancel_seen_at", "first_seen", "last_seen")
ATTENDEES_DERIVED = ("response_seen_at", "last_seen")
STAGE_EVENTS = _staging(
    EVENTS,
    [c.name for c in EVENTS.columns if c.name not in EVENTS_DERIVED],
    Column("lists_attendees", Boolean),
)
STAGE_ATTENDEES = _staging(
    ATTENDEES, [c.name for c in ATTENDEES.columns if c.name not in ATTENDEES_DERIVED]
)
# The sync's time, and the same time or null (on a mailbox's very first sync) for the first
# sight of a cancellation or a response.
SEEN = bindparam("seen", type_=UTCDateTime())
SEEN_CHANGE = bindparam("seen_change", type_=UTCDateTime())
CANCELLED: ColumnElement[str] = literal_column("'cancelled'")


def dialect_insert(dialect: str, table: Any) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (both spell it the same way)."""
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


class _Times(dict[datetime | None, Any]):
    """Each distinct time of a batch checked and converted once (many events share them)."""

    def __init__(self, to_stored: Callable[[datetime], Any]) -> None:
        super().__init__({None: None})
        self._to_stored = to_stored

    def __missing__(self, value: datetime) -> Any:
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: cadence stores aware UTC times only")
        stored = self[value] = self._to_stored(value)
        return stored


def _sqlite_time(value: datetime) -> int:
    # What UTCDateTime binds on SQLite, so that bulk-written times compare equal to times
    # written and queried through the models.
    return to_micros(value)


def _event_rows(events: Sequence[Event], time: _Times) -> list[tuple[Any, ...]]:
    return [
        (
            e.source,
            e.mailbox,
            e.event_id,
            e.series_id,
            e.ical_uid,
            time[e.original_start],
            time[e.start],
            time[e.end],
            e.all_day,
            e.event_type,
            e.status,
            e.organizer,
            e.recurrence,
            time[e.updated],
            e.attendees is not None,  # lists_attendees: replace the stored list
        )
        for e in events
    ]


def with_placeholders(events: Sequence[Event], placeholders: Mapping[str, str]) -> Sequence[Event]:
    """``events`` with every organizer and attendee whose address hashes
    (:func:`cadence.store.forget.address_hash`) to a key of ``placeholders`` written as that
    key's placeholder, before they are saved.

    This is how a forgotten or opted-out person's address never reaches the store again when
    others' calendars list them: the attendee row stays (a three-person meeting must not turn
    into a 1:1), anonymous. The connectors know no database, so the sync job passes the hashes.
    """
    if not placeholders:
        return events
    known: dict[str, str | None] = {}

    def hidden(address: str) -> str | None:
        if address not in known:
            known[address] = placeholders.get(address_hash(address))
        return known[address]

    saved = []
    for e in events:
        organizer = hidden(e.organizer) if e.organizer else None
        attendees = e.attendees
        if attendees and any(hidden(a.email) for a in attendees):
            attendees = tuple(
                replace(a, email=p) if (p := hidden(a.email)) else a for a in attendees
            )
        if organizer is not None or attendees is not e.attendees:
            e = replace(e, organizer=organizer or e.organizer, attendees=attendees)
        saved.append(e)
    return saved


def _distinct(attendees: tuple[Attendee, ...]) -> tuple[Attendee, ...]:
    """Someone listed twice counts once, as their last listing says."""
    if len(attendees) < 2 or len({a.email for a in attendees}) == len(attendees):
        return attendees
    return tuple({a.email: a for a in attendees}.values())


def _attendee_rows(events: Sequence[Event], time: _Times) -> list[tuple[Any, ...]]:
    return [
        (
            e.source,
            e.mailbox,
            e.event_id,
            a.email,
            a.response,
            a.is_organizer,
            a.is_resource,
            a.optional,
            time[a.response_at],
        )
        for e in events
        if e.attendees
        for a in _distinct(e.attendees)
    ]


def _events_upsert(dialect: str) -> Any:
    """Staged events into ``events``, merged with the stored row by the module's rules."""
    staged = STAGE_EVENTS.c
    cancelled = staged.status == CANCELLED
    derived = {
        # A one-off's original start is its start (the first one seen, by the merge below).
        "original_start": func.coalesce(staged.original_start, staged.start),
        "cancelled_at": case((cancelled, staged.source_updated)),
        "cancel_seen_at": case((cancelled, SEEN_CHANGE)),
        "first_seen": SEEN,
        "last_seen": SEEN,
    }
    names = [c.name for c in EVENTS.columns]
    ins = dialect_insert(dialect, EVENTS).from_select(
        names, select(*(derived[n] if n in derived else staged[n] for n in names)).where(true())
    )
    new, old = ins.excluded, EVENTS.c
    still_cancelled = and_(old.status == CANCELLED, new.status == CANCELLED)
    keep_new_else_old = [
        "series_id",
        "ical_uid",
        "start",
        "end",
        "all_day",
        "event_type",
        "organizer",
        "recurrence",
        "source_updated",
    ]
    values: dict[str, Any] = {c: func.coalesce(new[c], old[c]) for c in keep_new_else_old}
    values.update(
        original_start=func.coalesce(old.original_start, new.original_start),
        status=new.status,
        cancelled_at=case(
            (still_cancelled, func.coalesce(old.cancelled_at, new.cancelled_at)),
            else_=new.cancelled_at,
        ),
        cancel_seen_at=case((still_cancelled, old.cancel_seen_at), else_=new.cancel_seen_at),
        last_seen=new.last_seen,
    )
    return ins.on_conflict_do_update(index_elements=["source", "mailbox", "event_id"], set_=values)


def _attendees_upsert(dialect: str) -> Any:
    """Staged attendees into ``attendees``: a response's times kept while it is unchanged."""
    staged = STAGE_ATTENDEES.c
    derived = {"response_seen_at": SEEN_CHANGE, "last_seen": SEEN}
    names = [c.name for c in ATTENDEES.columns]
    ins = dialect_insert(dialect, ATTENDEES).from_select(
        names, select(*(derived[n] if n in derived else staged[n] for n in names)).where(true())
    )
    new, old = ins.excluded, ATTENDEES.c
    same = old.response == new.response
    values = {
        "response": new.response,
        "is_organizer": new.is_organizer,
        "is_resource": new.is_resource,
        "optional": new.optional,
        "response_at": case(
            (same, func.coalesce(old.response_at, new.response_at)), else_=new.response_at
        ),
        "response_seen_at": case((same, old.response_seen_at), else_=new.response_seen_at),
        "last_seen": new.last_seen,
    }
    return ins.on_conflict_do_update(
        index_elements=["source", "mailbox", "event_id", "email"], set_=values
    )


def _stale_attendees(dialect: str) -> Any:
    """Attendees of one mailbox's events (by id) whom their staged new list leaves out.

    The ids come as a list, not a join with the staging table: the delete then reads only this
    mailbox's attendees, through the key, on both backends and whatever the planner believes
    about the tables' sizes (a join planned while the tables were small scans them once they
    are not: quadratic over a first sync).
    """
    listed, stored = STAGE_ATTENDEES.c, ATTENDEES.c
    source, mailbox = bindparam("source", type_=Text()), bindparam("mailbox", type_=Text())
    # PostgreSQL takes the ids as one array, SQLite (which has none) as one parameter each.
    listing = (
        stored.event_id == any_(bindparam("event_ids", type_=postgresql.ARRAY(Text())))
        if dialect == "postgresql"
        else stored.event_id.in_(bindparam("event_ids", expanding=True))
    )
    return delete(ATTENDEES).where(
        stored.source == source,
        stored.mailbox == mailbox,
        listing,
        tuple_(stored.event_id, stored.email).not_in(
            select(listed.event_id, listed.email).where(
                listed.source == source, listed.mailbox == mailbox
            )
        ),
    )


class _Statements:
    """The merge, written once, compiled for one dialect."""

    def __init__(self, dialect: str) -> None:
        self.events = _events_upsert(dialect)
        self.attendees = _attendees_upsert(dialect)
        self.stale = _stale_attendees(dialect)
        self.create = [CreateTable(t, if_not_exists=True) for t in (STAGE_EVENTS, STAGE_ATTENDEES)]
        self.clear = [delete(t) for t in (STAGE_EVENTS, STAGE_ATTENDEES)]


@cache
def _statements(dialect: str) -> _Statements:
    return _Statements(dialect)


def _load_sqlite(conn: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
    # The raw driver's executemany: no per-value processing, the values are already stored form.
    placeholders = ", ".join("?" * len(table.columns))
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(f"INSERT INTO {table.name} VALUES ({placeholders})", rows)
    finally:
        cursor.close()


def _copy_type(column: Column[Any]) -> str:
    if isinstance(column.type, UTCDateTime):
        return "timestamptz"
    return "bool" if isinstance(column.type, Boolean) else "text"


def _load_postgresql(conn: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
    # COPY in binary: the fastest way into PostgreSQL, and no text parsing of times on the server.
    names = ", ".join(f'"{c.name}"' for c in table.columns)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([_copy_type(c) for c in table.columns])
        for row in rows:
            copy.write_row(row)


def _unique_batches(events: Sequence[Event]) -> list[Sequence[Event]]:
    """``events`` split so no batch holds an event twice, later copies in later batches.

    One set-based statement cannot merge two copies of a row (PostgreSQL refuses to), so a
    repeated event is saved after its earlier copy, exactly as if they came in two pages.
    """
    if len({(e.source, e.mailbox, e.event_id) for e in events}) == len(events):
        return [events]
    batches: list[list[Event]] = []
    copies: dict[tuple[str, str, str], int] = {}
    for e in events:
        key = (e.source, e.mailbox, e.event_id)
        n = copies[key] = copies.get(key, -1) + 1
        if n == len(batches):
            batches.append([])
        batches[n].append(e)
    return list(batches)


def _listing_attendees(events: Sequence[Event]) -> dict[tuple[str, str], list[str]]:
    """The ids of the events whose copy lists attendees, by (source, mailbox)."""
    ids: dict[tuple[str, str], list[str]] = {}
    for e in events:
        if e.attendees is not None:
            ids.setdefault((e.source, e.mailbox), []).append(e.event_id)
    return ids


def save_events(
    conn: Connection, events: Sequence[Event], *, seen_at: datetime, first_sync: bool
) -> int:
    """Upsert ``events`` and their attendees inside the caller's transaction; returns the count.

    Attendees are replaced only for events whose copy lists them (``attendees`` not ``None``):
    someone taken off an invitation disappears, and a sparse copy keeps the stored list.

    The rows are built once in Python, loaded into temporary staging tables by the fastest
    path each driver has (SQLite ``executemany``, PostgreSQL binary ``COPY``), and merged by the
    same three set-based statements on both backends.
    """
    if not events:
        return 0
    events = fitted_events(events)
    postgres = conn.dialect.name == "postgresql"
    statements = _statements(conn.dialect.name)
    load = _load_postgresql if postgres else _load_sqlite
    time = _Times((lambda t: t) if postgres else _sqlite_time)
    if postgres:
        # psycopg prepares a statement after five runs, and PostgreSQL may then keep a generic
        # plan made while the tables were small, which scans attendees where it should probe
        # the key: plan afresh every time, for the rest of this transaction.
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
    for create in statements.create:
        conn.execute(create)
    seen = {"seen": seen_at, "seen_change": None if first_sync else seen_at}
    for batch in _unique_batches(events):
        for i in range(0, len(batch), CHUNK):
            chunk = batch[i : i + CHUNK]
            # Whatever an earlier chunk or call of this transaction staged goes first (on
            # PostgreSQL the tables start every transaction empty, so this is free there).
            for clear in statements.clear:
                conn.execute(clear)
            load(conn, STAGE_EVENTS, _event_rows(chunk, time))
            load(conn, STAGE_ATTENDEES, _attendee_rows(chunk, time))
            conn.execute(statements.events, seen)
            for (source, mailbox), ids in _listing_attendees(chunk).items():
                conn.execute(
                    statements.stale, {"source": source, "mailbox": mailbox, "event_ids": ids}
                )
            conn.execute(statements.attendees, seen)
    return len(events)
