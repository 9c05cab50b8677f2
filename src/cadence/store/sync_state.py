"""Where each mailbox's sync stands: its registration, its token and window, its last outcome.

A page of events and, with the last page, the token that covers them are saved in one
transaction (:func:`save_page`), so a crash at any point leaves either both or neither: a token
is never ahead of its events, and the next run replays what was not saved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, bindparam, func, select, text

from cadence.normalised import Event
from cadence.store.database import short_message
from cadence.store.models import Mailbox, Source, SyncState
from cadence.store.upsert import dialect_insert, save_events


def ensure_mailboxes(engine: Engine, source: str, kind: str, emails: Iterable[str]) -> None:
    """Register a source and its mailboxes (idempotent)."""
    emails = sorted(set(emails))
    with engine.begin() as conn:
        conn.execute(
            dialect_insert(conn.dialect.name, Source.__table__)
            .values(name=source, kind=kind)
            .on_conflict_do_update(index_elements=["name"], set_={"kind": kind})
        )
        if emails:
            conn.execute(
                dialect_insert(conn.dialect.name, Mailbox.__table__).on_conflict_do_nothing(),
                [{"source": source, "email": e} for e in emails],
            )


def load_sync_state(engine: Engine, source: str, mailbox: str) -> SyncState | None:
    """A mailbox's saved sync state (detached from any session), or ``None`` before its first."""
    # A plain select, not the ORM's Session.get: it is read once or twice for every mailbox of
    # every night, and a session's setup was most of a no-change mailbox's CPU.
    table = SyncState.__table__
    with engine.connect() as conn:
        row = conn.execute(_LOAD_STATE, {"source": source, "mailbox": mailbox}).first()
    return None if row is None else SyncState(**dict(zip(table.columns.keys(), row, strict=True)))


_LOAD_STATE = select(SyncState.__table__).where(
    SyncState.__table__.c.source == bindparam("source"),
    SyncState.__table__.c.mailbox == bindparam("mailbox"),
)
_UPSERTS: dict[tuple[str, ...], TextClause] = {}


def _upsert_state(conn: Connection, source: str, mailbox: str, **values: Any) -> None:
    # One text statement per set of columns (the same SQL on SQLite and PostgreSQL), the values
    # bound with their columns' types: the dialects' on-conflict inserts were compiled anew at
    # every execution, twice a mailbox a night, and that was a no-change night's largest cost.
    keys = tuple(sorted(values))
    stmt = _UPSERTS.get(keys)
    if stmt is None:
        table = SyncState.__table__
        # A new row gets the NOT NULL counters' defaults; an existing one only what is given.
        inserted = ("source", "mailbox", *keys, *(k for k in _COUNTERS if k not in keys))
        update = ", ".join(f"{k} = excluded.{k}" for k in keys)
        sql = (
            f"INSERT INTO {SyncState.__tablename__} ({', '.join(inserted)}) "
            f"VALUES ({', '.join(':' + k for k in inserted)}) "
            "ON CONFLICT (source, mailbox) DO " + (f"UPDATE SET {update}" if keys else "NOTHING")
        )
        stmt = _UPSERTS[keys] = text(sql).bindparams(
            *(bindparam(k, type_=table.c[k].type) for k in inserted)
        )
    conn.execute(stmt, {**_COUNTERS, "source": source, "mailbox": mailbox, **values})


_COUNTERS = {"events_changed": 0, "requests": 0}


def save_page(
    engine: Engine,
    source: str,
    mailbox: str,
    events: Sequence[Event],
    *,
    seen_at: datetime,
    first_sync: bool,
    token: str | None = None,
    window: tuple[datetime, datetime] | None = None,
) -> int:
    """Save one page of a mailbox's events; with the last page, its token, atomically."""
    with engine.begin() as conn:
        n = save_events(conn, events, seen_at=seen_at, first_sync=first_sync)
        if token is not None:
            values: dict[str, Any] = {"token": token}
            if window is not None:
                values.update(window_start=window[0], window_end=window[1])
            if first_sync:
                values["first_synced_at"] = seen_at
            _upsert_state(conn, source, mailbox, **values)
        return n


def drop_token(engine: Engine, source: str, mailbox: str) -> None:
    """Forget a mailbox's token (it expired, or a full resync was asked for)."""
    with engine.begin() as conn:
        _upsert_state(conn, source, mailbox, token=None)


def record_outcome(
    engine: Engine,
    source: str,
    mailbox: str,
    *,
    ran_at: datetime,
    error: str | None,
    events_changed: int = 0,
    requests: int = 0,
) -> None:
    """Record how a mailbox's sync ended, for ``cadence status``.

    ``error`` is kept as one short line with its secrets masked (:func:`short_message`),
    whatever raised it: a driver's message goes on with its SQL, thousands of characters that
    ``cadence status`` would print on every line of a failing mailbox.
    """
    values: dict[str, Any] = {
        "last_run_at": ran_at,
        "outcome": "failed" if error else "ok",
        "error": (short_message(error) or "failed") if error else None,
        "events_changed": events_changed,
        "requests": requests,
    }
    if not error:
        values["last_success_at"] = ran_at
    with engine.begin() as conn:
        _upsert_state(conn, source, mailbox, **values)


def earliest_read(engine: Engine) -> datetime | None:
    """The earliest instant any mailbox's calendar was read from (None before the first sync):
    before it the store knows of no 1:1 at all, so no week before it can be reported on."""
    with engine.connect() as conn:
        return conn.execute(select(func.min(SyncState.window_start))).scalar_one_or_none()
