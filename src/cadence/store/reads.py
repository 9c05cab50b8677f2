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
events and their attendees are read in one snapshot (one read transaction) by plain scans, and
matched in Arrow (a hash join on the copy's key), so the two frames always agree.

SQLite is read in a child process. ADBC's SQLite driver carries its own copy of the SQLite
library, and two copies of SQLite in one process corrupt each other's file locks: POSIX locks
belong to the process, so one copy closing the file drops the other's locks, and the last one to
close deletes the write-ahead log under the other's open connections (SQLite's "how to corrupt"
page, multiple copies of SQLite linked into one application). In its own process the driver is
just another reader, as safe as any other; the columns come back as Arrow through a pipe.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, and_, false, func, or_, select
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
# SQLite's ADBC driver types each column from the rows of its first batch: one batch for the
# whole result, so that a column null in its first rows is still typed by its later ones.
SQLITE_BATCH_ROWS = 100_000_000


def _relevant(since: pd.Timestamp) -> ColumnElement[bool]:
    c = EVENTS.c
    bound = since.to_pydatetime()
    return or_(
        c.original_start >= bound,
        c.start >= bound,
        and_(c.status != "cancelled", or_(c.all_day.is_(None), c.all_day == false())),
    )


def _statements(since: pd.Timestamp) -> list[Select[Any]]:
    """Three plain statements, each a scan the database does fast (no correlated subquery, no
    window: those cost more than the reading itself): the relevant event copies; the copies that
    list more than ``MAX_LISTED`` people, with how many; the attendee rows of every other copy,
    with their copy's key. Matching the attendees to the relevant copies, and counting the
    others' people, is Arrow's (:func:`_join`)."""
    a, e = ATTENDEES.c, EVENTS.c
    a_key = [a[k] for k in KEY]
    events = select(*[e[name] for name in EVENT_COLUMNS]).where(_relevant(since))
    crowded = (
        select(*a_key, func.count().label("listed"))
        .where(a.is_resource == false())
        .group_by(*a_key)
        .having(func.count() > MAX_LISTED)
    )
    # An anti-join (an outer join keeping the rows with no crowded match): both backends run it
    # as one hash or index join, where NOT IN on three columns ran once per row on PostgreSQL.
    big = crowded.subquery()
    attendees = (
        select(*[a[name] for name in ATTENDEE_COLUMNS])
        .select_from(ATTENDEES.outerjoin(big, and_(*[a[k] == big.c[k] for k in KEY])))
        .where(big.c.listed.is_(None))
    )
    return [events, crowded, attendees]


def _join(events: pa.Table, crowded: pa.Table, attendees: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Number the event copies (``copy_id``: their position), give each attendee row its
    copy's number (rows of copies that are not relevant drop out), and each copy ``listed``:
    the people it lists (resources aside), from its attendee rows or, for a crowded copy, from
    the count the database made."""
    n = len(events)
    events, crowded, attendees = (_keys_as_text(t) for t in (events, crowded, attendees))
    # The join runs on (calendar number, event id) and carries row numbers only: joining on
    # three texts and carrying every column cost twice as much.
    calendars = pc.unique(_calendar(events))
    copy_ids = pa.array(np.arange(n, dtype=np.int64))
    numbered = pa.table(
        {"calendar": pc.index_in(_calendar(events), calendars), "event_id": events["event_id"]}
    ).append_column("copy_id", copy_ids)

    def matches(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """(row of ``table``, copy_id) of its rows whose copy is a relevant one, by copy."""
        keyed = pa.table(
            {
                "calendar": pc.index_in(_calendar(table), calendars),
                "event_id": table["event_id"],
                "row": pa.array(np.arange(len(table), dtype=np.int64)),
            }
        )
        found = keyed.join(numbered, ["calendar", "event_id"], join_type="inner")
        copy = found.column("copy_id").to_numpy()
        # A hash join's output has no set order: by copy, so every read gives the same frame.
        order = np.argsort(copy, kind="stable")
        return found.column("row").to_numpy()[order], copy[order]

    rows, copy_id = matches(attendees)
    wanted = [name for name in ATTENDEE_COLUMNS if name not in KEY]
    matched = (
        attendees.select(wanted).take(pa.array(rows)).append_column("copy_id", pa.array(copy_id))
    )
    person = ~_flags(matched.column("is_resource"))
    listed = np.bincount(copy_id[person], minlength=n).astype(np.int64)
    big_rows, big_copies = matches(crowded)
    listed[big_copies] = pc.cast(crowded.column("listed"), pa.int64()).to_numpy()[big_rows]
    events = events.append_column("listed", pa.array(listed)).append_column("copy_id", copy_ids)
    return events, matched


def _calendar(table: pa.Table) -> pa.ChunkedArray:
    """Source and mailbox as one text (a unit separator between): the calendar of a row."""
    return pc.binary_join_element_wise(table["source"], table["mailbox"], "\x1f")


def _keys_as_text(table: pa.Table) -> pa.Table:
    """The key columns as text: an empty result (no crowded copy) comes typed by guess."""
    for name in KEY:
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, pc.cast(table.column(name), pa.string()))
    return table


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


def read_arrow(backend: str, uri: str, statements: list[str]) -> list[pa.Table]:
    """Run ``statements`` in one read transaction through ADBC; their results as Arrow tables.
    (For SQLite this runs in the child process: see the module's docstring.)"""
    if backend == "sqlite":
        import adbc_driver_sqlite.dbapi as adbc
    else:
        import adbc_driver_postgresql.dbapi as adbc  # type: ignore[no-redef]
    conn = adbc.connect(uri)
    try:
        with conn.cursor() as cursor:
            if backend == "sqlite":
                # The driver types each column from its first batch: one batch for all rows,
                # so that a column null in its first rows is typed by its later ones.
                cursor.adbc_statement.set_options(
                    **{"adbc.sqlite.query.batch_rows": str(SQLITE_BATCH_ROWS)}
                )
            else:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            tables = []
            for sql in statements:
                cursor.execute(sql)
                tables.append(cursor.fetch_arrow_table())
            return tables
    finally:
        conn.close()


class _Reader:
    """The child process that reads SQLite: ``python -m cadence.store.reads``, started on first
    use and kept for this process's later reads, so only the first read pays for starting it
    (a fork of this process starts its own). A fresh interpreter: no lock, connection or thread
    of this process comes along, and nothing of the caller's main module is imported.

    One request is a line of JSON (backend, uri, statements); the answer a line of JSON (how
    many tables, or the error) and then each table as an Arrow IPC stream, written and read
    straight through the pipe (a stream ends itself: no copy of it is ever held whole).
    """

    def __init__(self) -> None:
        self._child: subprocess.Popen[bytes] | None = None
        self._pid = 0

    def _start(self) -> subprocess.Popen[bytes]:
        if self._child is None or self._pid != os.getpid() or self._child.poll() is not None:
            self._child = subprocess.Popen(
                [sys.executable, "-m", "cadence.store.reads"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            self._pid = os.getpid()
        return self._child

    def read(self, backend: str, uri: str, statements: list[str]) -> list[pa.Table]:
        child = self._start()
        assert child.stdin is not None and child.stdout is not None
        request = {"backend": backend, "uri": uri, "statements": statements}
        try:
            child.stdin.write(json.dumps(request).encode() + b"\n")
            child.stdin.flush()
            answer = json.loads(child.stdout.readline() or b'{"error": "the reader stopped"}')
        except (OSError, ValueError):
            self._stop()  # a broken pipe: the next read starts a new child
            raise
        if "error" in answer:
            raise StoreError(answer["error"])  # the child reported it and waits for more
        try:
            return [pa.ipc.open_stream(child.stdout).read_all() for _ in range(answer["tables"])]
        except BaseException:
            # Interrupted mid-stream (Ctrl-C, a broken pipe, a bad stream): what is left in the
            # pipe would be read as the next answer, so this child is done.
            self._stop()
            raise

    def _stop(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child.wait()
        self._child = None


def _serve() -> None:
    """The child's loop (``python -m cadence.store.reads``): requests until stdin closes."""
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        request = json.loads(line)
        try:
            tables = read_arrow(request["backend"], request["uri"], request["statements"])
        except Exception as exc:  # the driver's error, as one line for the parent to raise
            out.write(json.dumps({"error": first_line(exc)}).encode() + b"\n")
            out.flush()
            continue
        out.write(json.dumps({"tables": len(tables)}).encode() + b"\n")
        out.flush()
        while tables:
            table = tables.pop(0)  # each table is let go once it is written
            with pa.ipc.new_stream(out, table.schema) as writer:
                writer.write_table(table)
            del table
        out.flush()


_CHILD = _Reader()


def _read(engine: Engine, statements: list[str]) -> list[pa.Table]:
    url = engine.url
    backend = url.get_backend_name()
    uri = _adbc_uri(url)
    try:
        if backend == "sqlite":
            return _CHILD.read(backend, uri, statements)
        return read_arrow(backend, uri, statements)
    except Exception as exc:  # the drivers' own errors: one line, the password masked
        raise StoreError(f"cannot read the database {redact(str(url))}: {first_line(exc)}") from exc


def _times(column: pa.ChunkedArray) -> pd.Series:
    """An instant column as UTC-aware pandas times: integer microseconds (SQLite) are viewed
    as instants, ``timestamptz`` (PostgreSQL) taken as it is."""
    if pa.types.is_timestamp(column.type):
        column = pc.cast(column, pa.timestamp("us", tz="UTC"))
    else:
        column = pc.cast(pc.cast(column, pa.int64()), pa.timestamp("us", tz="UTC"))
    return column.to_pandas().astype("datetime64[ns, UTC]")


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
    statements = [_sql(stmt, engine) for stmt in _statements(since)]
    events, crowded, attendees = _read(engine, statements)
    events, attendees = _join(events, crowded, attendees)
    return _frame(events, EVENT_TIMES), _frame(attendees, ATTENDEE_TIMES)


def load_people(conn: Connection) -> tuple[pd.DataFrame, pd.DataFrame]:
    columns = Person.__table__.c
    people = pd.read_sql(select(*[columns[name] for name in PEOPLE_COLUMNS]), conn)
    aliases = pd.read_sql(select(Alias.alias, Alias.email), conn)
    return people, aliases


def load_frames(engine: Engine, since: pd.Timestamp) -> StoreFrames:
    """Everything a pipeline run at an as-of needing data from ``since`` on reads."""
    with engine.connect() as conn:
        people, aliases = load_people(conn)
    events, attendees = load_events(engine, since)
    return StoreFrames(people=people, aliases=aliases, events=events, attendees=attendees)


if __name__ == "__main__":
    _serve()
