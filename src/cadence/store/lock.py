"""One nightly run at a time: a lock that names its holder and dies with it.

On PostgreSQL (hosts sharing one database) it is a session advisory lock, held by a dedicated
connection whose ``application_name`` says who holds it, so a second run can name the holder.
On SQLite it is an exclusive ``flock`` on ``<database>.lock`` beside the database file, whose
content names the holder; it is private (0600) and never opened through a symbolic link. Both
are released by the operating system or the server when the holding process dies, so a killed
run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
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
def run_lock(engine: Engine, what: str = "nightly", slot: int = 0) -> Iterator[str]:
    """Hold the run lock for the ``with`` block, or raise :class:`LockHeld` naming the holder.

    ``slot`` gives independent locks on one database (a sharded nightly locks its shard's).
    """
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, what, ADVISORY_KEY + slot) as holder:
            yield holder
    elif engine.dialect.name == "sqlite":
        path = _lock_path(engine)
        if slot:
            path = path.with_name(f"{path.name}.{slot}")
        with _file_lock(path, what) as holder:
            yield holder
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise StoreError(f"no run lock for the {engine.dialect.name} database")


def _lock_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise StoreError("an in-memory SQLite database cannot be shared, so it needs no lock")
    return Path(database + ".lock")


@contextmanager
def _file_lock(path: Path, what: str) -> Iterator[str]:
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
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = Path(path).read_text(encoding="utf-8", errors="replace").strip()
            raise LockHeld(f"another run holds the lock {path}: {other or 'unknown'}") from None
        os.ftruncate(fd, 0)
        os.write(fd, holder.encode())
        yield holder
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing releases the flock


@contextmanager
def _advisory_lock(engine: Engine, what: str, key: int) -> Iterator[str]:
    holder = holder_description(what)
    with engine.connect() as conn:
        conn.execute(text("SELECT set_config('application_name', :h, false)"), {"h": holder})
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        conn.commit()
        if not got:
            other = conn.execute(
                text(
                    "SELECT a.application_name FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted "
                    "AND ((l.classid::bigint << 32) | l.objid::bigint) = :k"
                ),
                {"k": key},
            ).scalar()
            raise LockHeld(f"another run holds the database lock: {other or 'unknown holder'}")
        try:
            yield holder
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
