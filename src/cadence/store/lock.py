"""One nightly run at a time: a lock that names its holder and dies with it.

On PostgreSQL (hosts sharing one database) it is a session advisory lock, held by a dedicated
connection whose ``application_name`` says who holds it, so a second run can name the holder.
On SQLite it is an exclusive ``flock`` on ``<database>.lock`` beside the database file, whose
content names the holder; it is private (0600) and never opened through a symbolic link. Both
are released by the operating system or the server when the holding process dies, so a killed
run never leaves a stale lock behind.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text

from cadence.errors import LockHeld, StoreError

# An arbitrary, fixed 64-bit key: every cadence run on one database agrees on it.
ADVISORY_KEY = 0x6361_6465_6E63_65  # "cadence"


def holder_description(what: str) -> str:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return f"cadence {what} pid {os.getpid()} on {socket.gethostname()} since {now}"


@contextmanager
def run_lock(engine: Engine, what: str = "nightly", shard: int | None = None) -> Iterator[str]:
    """Hold the run lock for the ``with`` block, or raise :class:`LockHeld` naming the holder.

    A run of the whole org (``shard`` None: a sync, a nightly) holds the lock alone. Shard ``i``
    of a sharded nightly shares it with the other shards and holds its shard's own lock alone:
    shards run side by side, but never beside a run of the whole org, nor twice.
    """
    if engine.dialect.name not in ("postgresql", "sqlite"):  # pragma: no cover
        raise StoreError(f"no run lock for the {engine.dialect.name} database")
    with ExitStack() as held:
        holder = held.enter_context(_lock(engine, what, 0, shared=shard is not None))
        if shard is not None:
            holder = held.enter_context(_lock(engine, what, shard, shared=False))
        yield holder


def _lock(engine: Engine, what: str, slot: int, *, shared: bool) -> AbstractContextManager[str]:
    if engine.dialect.name == "postgresql":
        return _advisory_lock(engine, what, ADVISORY_KEY + slot, shared=shared)
    path = _lock_path(engine)
    if slot:
        path = path.with_name(f"{path.name}.{slot}")
    return _file_lock(path, what, shared=shared)


def _lock_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise StoreError("an in-memory SQLite database cannot be shared, so it needs no lock")
    return Path(database + ".lock")


@contextmanager
def _file_lock(path: Path, what: str, *, shared: bool = False) -> Iterator[str]:
    holder = holder_description(what)
    try:
        # Private (0600, or what a stricter umask leaves), and never through a symbolic link:
        # whoever could plant one beside the database would have cadence truncate its target.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        reason = (
            "it is a symbolic link, which cadence never follows"
            if path.is_symlink()
            else exc.strerror
        )
        raise StoreError(f"cannot open the lock file {path}: {reason}") from exc
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            other = Path(path).read_text(encoding="utf-8", errors="replace").strip()
            other = other or ("a sharded nightly" if not shared else "unknown")
            raise LockHeld(f"another run holds the lock {path}: {other}") from None
        if shared:  # the file names the holder only while one run holds it alone
            yield holder
            return
        try:
            os.ftruncate(fd, 0)
            os.write(fd, holder.encode())
        except OSError as exc:  # the holder's name could not be written: say where, and why
            reason = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror
            raise StoreError(f"cannot write the lock file {path}: {reason}") from exc
        yield holder
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing releases the flock


@contextmanager
def _advisory_lock(engine: Engine, what: str, key: int, *, shared: bool = False) -> Iterator[str]:
    holder = holder_description(what)
    mode = "_shared" if shared else ""
    with engine.connect() as conn:
        conn.execute(text("SELECT set_config('application_name', :h, false)"), {"h": holder})
        got = conn.execute(text(f"SELECT pg_try_advisory_lock{mode}(:k)"), {"k": key}).scalar()
        conn.commit()
        if not got:
            other = conn.execute(
                text(
                    "SELECT a.application_name FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted "
                    "AND ((l.classid::bigint << 32) | l.objid::bigint) = :k "
                    # pg_locks lists every database's locks; the key is taken per database, so
                    # a cadence on another database of the server holds one of its own.
                    "AND l.database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database())"
                ),
                {"k": key},
            ).scalar()
            raise LockHeld(f"another run holds the database lock: {other or 'unknown holder'}")
        try:
            yield holder
        finally:
            conn.execute(text(f"SELECT pg_advisory_unlock{mode}(:k)"), {"k": key})
            conn.commit()
