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

SQLite is read in a child process, one statement after the other in one read transaction.
ADBC's SQLite driver carries its own copy of the SQLite library, and two copies of SQLite in one
process corrupt each other's file locks: POSIX locks belong to the process, so one copy closing
the file drops the other's locks, and the last one to close deletes the write-ahead log under the
other's open connections (SQLite's "how to corrupt" page, multiple copies of SQLite linked into
one application). In its own process the driver is just another reader, as safe as any other;
the columns come back as Arrow through a pipe. PostgreSQL is read in this process, each
statement on a connection of its own, all in one exported snapshot, side by side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from functools import cache
from typing import IO, Any

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
from cadence.store.database import first_line, redact, sqlite_file
from cadence.store.models import Alias, Person
from cadence.store.upsert import ATTENDEES, EVENTS

try:
    from numpy._core.multiarray import _set_madvise_hugepage  # type: ignore[attr-defined]
except ImportError:  # numpy 1, whose core was still public
    from numpy.core.multiarray import _set_madvise_hugepage  # type: ignore[no-redef]

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
# Query results as Arrow tables, each handed over as soon as it is read.
Tables = Generator[pa.Table, None, None]


@cache
def plain_allocations() -> None:
    """Choose this process's allocators, once, at its first read of the store (and by a
    benchmark before it measures its floor). Arrow's default allocator (mimalloc, in the
    wheels) and numpy's requests for transparent huge pages (``madvise``) made this process
    stall in the kernel on every large allocation where the kernel compacts memory to find huge
    pages (``defrag = madvise``, a common setting): at 20,000 people, 4 of the load's 5 seconds
    and 2 of the compute's 5 were system time. The system allocator and plain pages take that
    away, for the reads and everything after them in this process (the compute, the views). Set
    at the first read rather than on import, so that importing cadence changes nothing in a
    process that never reads; the variables that choose them (``ARROW_DEFAULT_MEMORY_POOL``,
    ``NUMPY_MADVISE_HUGEPAGE``) win when set."""
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        pa.set_memory_pool(pa.system_memory_pool())
    if "NUMPY_MADVISE_HUGEPAGE" not in os.environ:
        _set_madvise_hugepage(False)


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


def read_arrow(backend: str, uri: str, statements: list[str]) -> Tables:
    """Run ``statements`` in one snapshot through ADBC; each result as an Arrow table, as soon
    as it is read, so that the caller works on one while the database reads the next. (For
    SQLite this runs in the child process: see the module's docstring.)"""
    if backend == "sqlite":
        return _read_sqlite(uri, statements)
    return _read_postgres(uri, statements)


def _read_sqlite(uri: str, statements: list[str]) -> Tables:
    """One read transaction, the statements one after the other."""
    import adbc_driver_sqlite.dbapi as adbc

    conn = adbc.connect(uri)
    try:
        with conn.cursor() as cursor:
            # The driver types each column from its first batch: one batch for all rows, so
            # that a column null in its first rows is typed by its later ones.
            cursor.adbc_statement.set_options(
                **{"adbc.sqlite.query.batch_rows": str(SQLITE_BATCH_ROWS)}
            )
            for sql in statements:
                cursor.execute(sql)
                yield cursor.fetch_arrow_table()
    finally:
        conn.close()


def _read_postgres(uri: str, statements: list[str]) -> Tables:
    """Each statement on a connection of its own, all in one snapshot (the first transaction
    exports it, the others import it: they see the very same rows), read at once by a thread
    each (the driver reads without the GIL): the server scans the events and the attendees
    side by side, on a core each, where one after the other took their sum."""
    import adbc_driver_postgresql.dbapi as adbc

    conns: list[Any] = []
    cursors: list[Any] = []
    try:
        snapshot = None
        for _ in statements:
            conns.append(adbc.connect(uri))
            cursor = conns[-1].cursor()
            cursors.append(cursor)
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            if snapshot is None:
                cursor.execute("SELECT pg_export_snapshot()")
                (snapshot,) = cursor.fetchone()
            else:
                cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            # Plain scans: compiling them (JIT) took longer than it saved, up to a second.
            cursor.execute("SET LOCAL jit = off")
        with ThreadPoolExecutor(len(statements), thread_name_prefix="cadence-read") as pool:
            results = [
                pool.submit(_fetch, c, sql) for c, sql in zip(cursors, statements, strict=True)
            ]
            for result in results:
                yield result.result()
    finally:
        # A connection closes only once its cursors are; a failed read may have left them open.
        for handle in (*cursors, *conns):
            with suppress(Exception):
                handle.close()


def _fetch(cursor: Any, sql: str) -> pa.Table:
    cursor.execute(sql)
    return cursor.fetch_arrow_table()


class _Reader:
    """The child process that reads SQLite: ``python -m cadence.store.reads``, started on first
    use and kept for this process's later reads, so only the first read pays for starting it
    (a fork of this process starts its own). A fresh interpreter: no lock, connection or thread
    of this process comes along, and nothing of the caller's main module is imported.

    One request is a line of JSON (backend, uri, statements); the answer, for each statement
    as soon as it is read, a line of JSON (``table``, or the error, which ends the answer) and
    then the table as an Arrow IPC stream, written and read straight through the pipe (a stream
    ends itself: no copy of it is ever held whole).
    """

    def __init__(self) -> None:
        self._child: subprocess.Popen[bytes] | None = None
        self._pid = 0
        # An answer not read to its end (its reader dropped before it began): the pipe holds
        # the rest, which the next request would take for its own answer.
        self._unread = False

    def _start(self) -> subprocess.Popen[bytes]:
        if self._pid != os.getpid():
            # A fork of the process that started the child: not this one's to use or stop.
            self._child, self._unread = None, False
        if self._unread:
            self._stop()
        if self._child is None or self._child.poll() is not None:
            self._child = subprocess.Popen(
                [sys.executable, "-m", "cadence.store.reads"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            self._pid = os.getpid()
        return self._child

    def read(self, backend: str, uri: str, statements: list[str]) -> Tables:
        """Send the request now (the child reads while this process goes on); the tables as
        they come."""
        child = self._start()
        assert child.stdin is not None and child.stdout is not None
        request = {"backend": backend, "uri": uri, "statements": statements}
        try:
            child.stdin.write(json.dumps(request).encode() + b"\n")
            child.stdin.flush()
        except OSError:
            self._stop()  # a broken pipe: the next read starts a new child
            raise
        self._unread = True
        return self._answers(child.stdout, len(statements))

    def _answers(self, answers: IO[bytes], pending: int) -> Tables:
        try:
            while pending:
                answer = json.loads(answers.readline() or b'{"error": "the reader stopped"}')
                if "error" in answer:
                    pending = 0  # the child reported it and waits for the next request
                    self._unread = False
                    raise StoreError(answer["error"])
                table = pa.ipc.open_stream(answers).read_all()
                pending -= 1
                self._unread = pending > 0
                yield table
        finally:
            if pending:
                # Left mid-answer (Ctrl-C, a broken pipe, a bad stream, a caller that stopped
                # reading): what is left in the pipe would be read as the next answer, so this
                # child is done.
                self._stop()

    def _stop(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child.wait()
        self._child = None
        self._unread = False


def _serve() -> None:
    """The child's loop (``python -m cadence.store.reads``): requests until stdin closes."""
    plain_allocations()
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        request = json.loads(line)
        tables = read_arrow(request["backend"], request["uri"], request["statements"])
        while True:
            try:
                table = next(tables, None)
            except Exception as exc:  # the driver's error, as one line for the parent to raise
                out.write(json.dumps({"error": first_line(exc)}).encode() + b"\n")
                out.flush()
                break
            if table is None:
                break
            out.write(b'{"table": true}\n')
            with pa.ipc.new_stream(out, table.schema) as writer:
                writer.write_table(table)
            del table  # let go once written
            out.flush()


_CHILD = _Reader()


def _read(engine: Engine, statements: list[str]) -> Tables:
    """The results of ``statements``, as they are read; SQLite's reader starts on them at once,
    so the caller can read the people meanwhile."""
    plain_allocations()
    url = engine.url
    backend = url.get_backend_name()
    uri = _adbc_uri(url)
    try:
        if backend == "sqlite":
            tables = _CHILD.read(backend, uri, statements)
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


if __name__ == "__main__":
    _serve()
