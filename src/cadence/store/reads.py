"""Read what the pipeline needs from the store into pandas frames: columnar, with no Python
object per row.

The pipeline computes from frames (:class:`cadence.frames.StoreFrames`) and knows no SQL; this is
the one place that reads them. Only the needed columns, and only the events that can matter at
as-of: those whose original start (or actual start) is at or after ``since`` (the start of the
window or of the trend, whichever is earlier, and everything in the future for
``next_scheduled``), plus older timed events that were not cancelled, which is all ``last_held``
can need from before the window.

Every report, nightly and page starts with this read of a million or more rows, so it goes the
fastest way each backend has: the statements are SQLAlchemy Core (the models stay the schema's
one definition), compiled for the backend and run through ADBC, which hands the rows over as
Arrow columns (PostgreSQL's binary COPY underneath; SQLite's C API), never as a Python tuple per
row. Instants arrive as instants: ``timestamptz`` from PostgreSQL, integer microseconds from
SQLite (:class:`cadence.store.models.UTCDateTime`), turned into UTC-aware pandas times column by
column. Texts with few distinct values become categoricals straight from Arrow dictionaries. The
events and their attendees are read in one snapshot by two statements (:func:`_statements`),
each result handed over as soon as it is read, so the events become a frame while the database
still reads the attendees; the attendee rows are matched to their copies in Arrow (one hash
lookup of each row's key), so the two frames always agree.

SQLite is read in a child process, one statement after the other in one read transaction, and
PostgreSQL in this one, the two statements side by side in one snapshot: why, and how, is
:mod:`cadence.store.arrow_reads`'.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, and_, exists, false, func, null, or_, select, union_all
from sqlalchemy.engine import URL
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from cadence.errors import StoreError
from cadence.frames import (
    ATTENDEE_COLUMNS,
    ATTENDEE_TIMES,
    EVENT_COLUMNS,
    EVENT_TIMES,
    MAX_LISTED,
    PEOPLE_COLUMNS,
    StoreFrames,
)
from cadence.store.arrow_reads import CHILD, Tables, plain_allocations, read_arrow
from cadence.store.database import first_line, redact, sqlite_file
from cadence.store.models import Alias, Person
from cadence.store.upsert import ATTENDEES, EVENTS

KEY = ("source", "mailbox", "event_id")
# Texts with few distinct values (per company, not per event) are kept as categoricals.
CATEGORICAL = frozenset(
    {"source", "mailbox", "series_id", "ical_uid", "event_type", "status", "organizer"}
    | {"recurrence", "email", "response"}
)
FLAGS = {"all_day": True, "is_organizer": False, "is_resource": False}  # name -> nullable


def _relevant(since: pd.Timestamp) -> ColumnElement[bool]:
    c = EVENTS.c
    bound = since.to_pydatetime()
    return or_(
        c.original_start >= bound,
        c.start >= bound,
        and_(c.status != "cancelled", or_(c.all_day.is_(None), c.all_day == false())),
    )


def _statements(since: pd.Timestamp) -> list[Select[Any]]:
    """Two statements: the relevant event copies; and the attendee rows of every copy that lists
    at most ``MAX_LISTED`` people, followed by one row per other copy (a crowded one) with its
    key and how many people it lists (``listed``, null on the attendee rows).

    The crowded copies are counted once, as a common table expression both halves use (each
    backend materialises one used twice): counting them in a statement of their own, then
    again inside the anti-join, cost a second pass over the attendees. The count itself only
    looks at the copies listing more than ``MAX_LISTED`` rows, resources included, which the
    attendees' key index alone tells (an index-only scan, half the cost of reading each row's
    resource flag); the attendee rows are kept by an anti-join (``NOT EXISTS``; NOT IN on three
    columns ran once per row on PostgreSQL). No window function: that costs more than the
    reading itself. Matching the attendees to the relevant copies is Arrow's (:func:`_match`).
    """
    a, e = ATTENDEES.c, EVENTS.c
    a_key = [a[k] for k in KEY]
    events = select(*[e[name] for name in EVENT_COLUMNS]).where(_relevant(since))
    # Materialised, or PostgreSQL plans the count into each parallel worker of the join.
    many = (
        select(*a_key)
        .group_by(*a_key)
        .having(func.count() > MAX_LISTED)
        .cte("many_rows")
        .prefix_with("MATERIALIZED")
    )
    crowded = (
        select(*a_key, func.count().label("listed"))
        .select_from(ATTENDEES.join(many, and_(*[a[k] == many.c[k] for k in KEY])))
        .where(a.is_resource == false())
        .group_by(*a_key)
        .having(func.count() > MAX_LISTED)
        .cte("crowded")
    )
    same_copy = and_(*[a[k] == crowded.c[k] for k in KEY])
    attendees = select(*[a[name] for name in ATTENDEE_COLUMNS], null().label("listed")).where(
        ~exists().where(same_copy)
    )
    others = [null() for name in ATTENDEE_COLUMNS if name not in KEY]
    counts = select(*[crowded.c[k] for k in KEY], *others, crowded.c.listed)
    return [events, union_all(attendees, counts)]  # type: ignore[list-item]


def _copy_keys(table: pa.Table) -> pa.ChunkedArray:
    """Each row's event copy (source, mailbox, event id) as one text: the lengths of the source
    and the mailbox first, so that no text inside them can make two keys alike."""
    parts = [pc.cast(table.column(name), pa.string()) for name in KEY]
    lengths = [pc.cast(pc.utf8_length(part), pa.string()) for part in parts[:2]]
    return pc.binary_join_element_wise(*lengths, *parts, "\x1f")


def _match(copies: pa.ChunkedArray, rows: pa.Table) -> tuple[np.ndarray, pa.Table]:
    """``listed`` for each of the event copies whose keys are ``copies`` (:func:`_copy_keys`;
    ``copy_id`` is a copy's position): how many people (resources aside) it lists, from its
    attendee rows in ``rows`` or, for a crowded one, from its count row there; and those
    attendee rows with their copy's ``copy_id``, in the order the database gave them (rows of
    copies that are not relevant drop out). Each copy's rows keep their order, which is all
    the pipeline's tie-breaks read of it."""
    n = len(copies)
    copy_id = _copy_ids(copies, rows)
    counted = np.asarray(pc.is_valid(rows.column("listed")).to_numpy(zero_copy_only=False))
    person_rows = np.flatnonzero((copy_id >= 0) & ~counted)
    by_copy = copy_id[person_rows]
    wanted = rows.select([name for name in ATTENDEE_COLUMNS if name not in KEY])
    matched = wanted if len(person_rows) == len(rows) else wanted.take(pa.array(person_rows))
    matched = matched.append_column("copy_id", pa.array(by_copy))
    person = ~_flags(matched.column("is_resource"))
    listed = np.bincount(by_copy[person], minlength=n).astype(np.int64)
    count_rows = np.flatnonzero((copy_id >= 0) & counted)
    counts = pc.cast(rows.column("listed").take(pa.array(count_rows)), pa.int64())
    listed[copy_id[count_rows]] = np.asarray(counts.to_numpy(), dtype=np.int64)
    return listed, matched


# Rows matched to their copies by one thread below this, by two above.
MATCH_SPLIT_ROWS = 200_000


def _copy_ids(copies: pa.ChunkedArray, rows: pa.Table) -> np.ndarray:
    """The position among ``copies`` of each row's copy (-1: not among them). A large table is
    matched in two halves at once: Arrow's kernels run without the GIL, and this, at the end
    of a read, is the one step nothing else runs beside."""
    parts = [rows]
    if len(rows) > MATCH_SPLIT_ROWS:
        half = len(rows) // 2
        parts = [rows.slice(0, half), rows.slice(half)]

    def match(part: pa.Table) -> np.ndarray:
        found = pc.fill_null(pc.index_in(_copy_keys(part), value_set=copies), -1)
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)

    with ThreadPoolExecutor(len(parts), thread_name_prefix="cadence-match") as pool:
        return np.concatenate(list(pool.map(match, parts)))


def _flags(column: pa.ChunkedArray) -> np.ndarray:
    """A flag column (SQLite's 0/1, PostgreSQL's booleans) as booleans, null as false."""
    values = pc.fill_null(pc.cast(column, pa.bool_()), False)
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)


def _sql(stmt: Select[Any], engine: Engine) -> str:
    # The only value bound is ``since``, an instant cadence computed: rendered as a literal, so
    # the text runs as it is through the backend's own driver.
    return str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))


def _adbc_uri(url: URL) -> str:
    """The URI ADBC opens for the engine's database."""
    if url.get_backend_name() == "sqlite":
        path = sqlite_file(url)
        if path is not None:
            return str(path)
        if url.database and url.database.startswith("file:"):
            return url.database
        raise StoreError(
            "an in-memory SQLite database cannot be read for reports: give cadence a database file"
        )
    libpq = url.set(drivername="postgresql")
    return libpq.render_as_string(hide_password=False)


def _read(engine: Engine, statements: list[str]) -> Tables:
    """The results of ``statements``, as they are read; SQLite's reader starts on them at once,
    so the caller can read the people meanwhile."""
    plain_allocations()
    url = engine.url
    backend = url.get_backend_name()
    uri = _adbc_uri(url)
    try:
        if backend == "sqlite":
            tables = CHILD.read(backend, uri, statements)
        else:
            tables = read_arrow(backend, uri, statements)
    except Exception as exc:
        raise _cannot_read(url, exc) from exc
    return _errors_named(tables, url)


def _errors_named(tables: Tables, url: URL) -> Tables:
    try:
        yield from tables
    except Exception as exc:
        raise _cannot_read(url, exc) from exc


def _cannot_read(url: URL, exc: Exception) -> StoreError:
    """The drivers' own errors: one line, the password masked."""
    return StoreError(f"cannot read the database {redact(str(url))}: {first_line(exc)}")


def _times(column: pa.ChunkedArray) -> pd.Series:
    """An instant column as UTC-aware pandas times: integer microseconds (SQLite) are viewed
    as instants, ``timestamptz`` (PostgreSQL) taken as it is. Arrow makes them nanoseconds and
    hands them over as plain datetime64, which pandas marks UTC without touching a value
    (Arrow's own conversion of an aware column converted each value three times over)."""
    if not pa.types.is_timestamp(column.type):
        column = pc.cast(pc.cast(column, pa.int64()), pa.timestamp("us", tz="UTC"))
    naive = pc.cast(pc.cast(column, pa.timestamp("ns", tz="UTC")), pa.timestamp("ns"))
    return pd.Series(naive.to_numpy()).dt.tz_localize("UTC")


def _text(column: pa.ChunkedArray, categorical: bool) -> pd.Series:
    """A text column: a categorical from an Arrow dictionary (no Python string per row), or
    Arrow-backed strings. An all-null column may come typed as something else: it is cast."""
    column = pc.cast(column, pa.string())
    if categorical:
        return column.dictionary_encode().to_pandas()
    return pd.Series(pd.arrays.ArrowStringArray(column))


def _frame(table: pa.Table, times: tuple[str, ...]) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for name in table.column_names:
        column = table.column(name)
        if name in times:
            columns[name] = _times(column)
        elif name in FLAGS:
            nullable = FLAGS[name]
            columns[name] = (
                pd.Series(column.to_pandas(), dtype="boolean") if nullable else _flags(column)
            )
        elif name in ("copy_id", "listed"):
            columns[name] = column.to_numpy().astype(np.int64)
        else:
            columns[name] = _text(column, name in CATEGORICAL)
    return pd.DataFrame(columns)


def load_events(engine: Engine, since: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The relevant event copies and their attendees, ``copy_id`` joining the two.

    ``events.listed`` is how many people (resources aside) the copy lists; the attendee rows of
    copies listing more than ``MAX_LISTED`` are not read.
    """
    return _events(_read(engine, _event_statements(engine, since)))


def _event_statements(engine: Engine, since: pd.Timestamp) -> list[str]:
    return [_sql(stmt, engine) for stmt in _statements(since)]


def _events(tables: Tables) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`load_events` from the results of :func:`_statements`."""
    try:
        events = next(tables)
        # The events become a frame while the database reads the attendees.
        copies = _copy_keys(events)
        frame = _frame(events, EVENT_TIMES)
        del events
        attendees = next(tables)
    finally:
        tables.close()
    listed, matched = _match(copies, attendees)
    frame["listed"] = listed
    frame["copy_id"] = np.arange(len(frame), dtype=np.int64)
    return frame, _frame(matched, ATTENDEE_TIMES)


def load_people(conn: Connection) -> tuple[pd.DataFrame, pd.DataFrame]:
    columns = Person.__table__.c
    people = pd.read_sql(select(*[columns[name] for name in PEOPLE_COLUMNS]), conn)
    aliases = pd.read_sql(select(Alias.alias, Alias.email), conn)
    return people, aliases


def load_frames(engine: Engine, since: pd.Timestamp) -> StoreFrames:
    """Everything a pipeline run at an as-of needing data from ``since`` on reads."""
    tables = _read(engine, _event_statements(engine, since))
    try:
        with engine.connect() as conn:
            people, aliases = load_people(conn)
    except BaseException:
        tables.close()
        raise
    events, attendees = _events(tables)
    return StoreFrames(people=people, aliases=aliases, events=events, attendees=attendees)
