"""Query results as Arrow tables through ADBC, and the child process that reads SQLite.

Why a module of its own: the child (``python -m cadence.store.arrow_reads``) is started by every
process's first read of a SQLite store, and what it imports is what it costs to start. This
module imports nothing but Arrow, numpy and ADBC's drivers (no pandas, SQLAlchemy or Alembic),
which halves that start (about 0.5 s instead of 1 s). What the statements are, and what becomes
of their results, is :mod:`cadence.store.reads`'.

Why a child for SQLite: ADBC's SQLite driver carries its own copy of the SQLite library, and two
copies of SQLite in one process corrupt each other's file locks: POSIX locks belong to the
process, so one copy closing the file drops the other's locks, and the last one to close deletes
the write-ahead log, or truncates the shared memory file, under the other's open connections
(SQLite's "how to corrupt" page, multiple copies of SQLite linked into one application). In its
own process the driver is just another reader, as safe as any other; the columns come back as
Arrow through a pipe. PostgreSQL's driver (libpq) has no such trap: it is read in the caller's
process, each statement on a connection of its own, all in one exported snapshot, side by side.

The child sends a driver's error as it is; the caller turns it into its one line, secrets
masked, as it does its own drivers' errors.
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

import pyarrow as pa
import pyarrow.ipc

from cadence.errors import StoreError

try:
    from numpy._core.multiarray import _set_madvise_hugepage  # type: ignore[attr-defined]
except ImportError:  # numpy 1, whose core was still public
    from numpy.core.multiarray import _set_madvise_hugepage  # type: ignore[no-redef]

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


class ReaderChild:
    """The child process that reads SQLite: ``python -m cadence.store.arrow_reads``, started on
    first use and kept for this process's later reads, so only the first read pays for starting
    it (a fork of this process starts its own). A fresh interpreter: no lock, connection or
    thread of this process comes along, and nothing of the caller's main module is imported.

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
                [sys.executable, "-m", "cadence.store.arrow_reads"],
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
    """The child's loop (``python -m cadence.store.arrow_reads``): requests until stdin
    closes."""
    plain_allocations()
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        request = json.loads(line)
        tables = read_arrow(request["backend"], request["uri"], request["statements"])
        while True:
            try:
                table = next(tables, None)
            except Exception as exc:  # the driver's error, for the parent to raise
                out.write(json.dumps({"error": str(exc) or type(exc).__name__}).encode() + b"\n")
                out.flush()
                break
            if table is None:
                break
            out.write(b'{"table": true}\n')
            with pa.ipc.new_stream(out, table.schema) as writer:
                writer.write_table(table)
            del table  # let go once written
            out.flush()


# The one child of this process (a fork of it starts its own).
CHILD = ReaderChild()


if __name__ == "__main__":
    _serve()
