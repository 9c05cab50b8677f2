"""Save normalised events in bulk, and a mailbox's sync token in the same transaction.

Saving is idempotent: the same events saved twice (at the same ``seen_at``) leave the same rows.
A later copy that does not say something (``None``) keeps what an earlier sync stored, because a
cancelled Google instance may carry nothing but its id (CALENDAR-APIS.md). Times that METRICS.md
needs but no source gives are recorded here, at the first sync that saw them:

- ``original_start`` keeps the first value seen, so a moved one-off counts as rescheduled;
- ``cancel_seen_at`` / ``response_seen_at``: the first sync that saw a cancellation or a response,
  left null when the mailbox's very first sync found it (its time is unknowable).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, case, delete, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cadence.normalised import Event
from cadence.store.models import Attendee as AttendeeRow
from cadence.store.models import Event as EventRow
from cadence.store.models import Mailbox, Source, SyncState

CHUNK = 5000

EVENTS: Table = EventRow.__table__  # type: ignore[assignment]
ATTENDEES: Table = AttendeeRow.__table__  # type: ignore[assignment]


def _insert(conn: Connection, table: Any) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def _event_rows(events: Sequence[Event], seen_at: datetime, first_sync: bool) -> list[dict]:
    rows = []
    for e in events:
        cancelled = e.status == "cancelled"
        rows.append(
            {
                "source": e.source,
                "mailbox": e.mailbox,
                "event_id": e.event_id,
                "series_id": e.series_id,
                "ical_uid": e.ical_uid,
                "original_start": e.original_start or e.start,
                "start": e.start,
                "end": e.end,
                "all_day": e.all_day,
                "event_type": e.event_type,
                "status": e.status,
                "organizer": e.organizer,
                "recurrence": e.recurrence,
                "source_updated": e.updated,
                "cancelled_at": e.updated if cancelled else None,
                "cancel_seen_at": seen_at if cancelled and not first_sync else None,
                "first_seen": seen_at,
                "last_seen": seen_at,
            }
        )
    return rows


def _attendee_rows(events: Sequence[Event], seen_at: datetime, first_sync: bool) -> list[dict]:
    seen = None if first_sync else seen_at
    rows = []
    for e in events:
        if e.attendees is None:
            continue
        for a in e.attendees:
            rows.append(
                {
                    "source": e.source,
                    "mailbox": e.mailbox,
                    "event_id": e.event_id,
                    "email": a.email,
                    "response": a.response,
                    "is_organizer": a.is_organizer,
                    "is_resource": a.is_resource,
                    "optional": a.optional,
                    "response_at": a.response_at,
                    "response_seen_at": seen,
                    "last_seen": seen_at,
                }
            )
    return rows


def _events_upsert(conn: Connection) -> Any:
    ins = _insert(conn, EVENTS)
    new, old = ins.excluded, EVENTS.c
    still_cancelled = and_(old.status == "cancelled", new.status == "cancelled")
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


def _attendees_upsert(conn: Connection) -> Any:
    ins = _insert(conn, ATTENDEES)
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


def save_events(
    conn: Connection, events: Sequence[Event], *, seen_at: datetime, first_sync: bool
) -> int:
    """Upsert ``events`` and their attendees inside the caller's transaction; returns the count.

    Attendees are replaced only for events whose copy lists them (``attendees`` not ``None``):
    someone taken off an invitation disappears, and a sparse copy keeps the stored list.
    """
    if not events:
        return 0
    events_stmt = _events_upsert(conn)
    attendees_stmt = _attendees_upsert(conn)
    for i in range(0, len(events), CHUNK):
        chunk = events[i : i + CHUNK]
        conn.execute(events_stmt, _event_rows(chunk, seen_at, first_sync))
        attendee_rows = _attendee_rows(chunk, seen_at, first_sync)
        if attendee_rows:
            conn.execute(attendees_stmt, attendee_rows)
        _drop_stale_attendees(conn, chunk, seen_at)
    return len(events)


def _drop_stale_attendees(conn: Connection, events: Sequence[Event], seen_at: datetime) -> None:
    keys = [(e.source, e.mailbox, e.event_id) for e in events if e.attendees is not None]
    if not keys:
        return
    c = ATTENDEES.c
    conn.execute(
        delete(ATTENDEES).where(
            tuple_(c.source, c.mailbox, c.event_id).in_(keys), c.last_seen < seen_at
        )
    )


def existing_events(
    conn: Connection, source: str, mailbox: str, event_ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The stored rows of these events of one mailbox, by event id (for removal handling)."""
    ids = list(event_ids)
    found: dict[str, dict[str, Any]] = {}
    c = EVENTS.c
    for i in range(0, len(ids), 500):
        rows = conn.execute(
            select(EVENTS).where(
                c.source == source, c.mailbox == mailbox, c.event_id.in_(ids[i : i + 500])
            )
        )
        for row in rows.mappings():
            found[row["event_id"]] = dict(row)
    return found


def ensure_mailboxes(engine: Engine, source: str, kind: str, emails: Iterable[str]) -> None:
    """Register a source and its mailboxes (idempotent)."""
    emails = sorted(set(emails))
    with engine.begin() as conn:
        conn.execute(
            _insert(conn, Source.__table__)
            .values(name=source, kind=kind)
            .on_conflict_do_update(index_elements=["name"], set_={"kind": kind})
        )
        if emails:
            conn.execute(
                _insert(conn, Mailbox.__table__).on_conflict_do_nothing(),
                [{"source": source, "email": e} for e in emails],
            )


def load_sync_state(engine: Engine, source: str, mailbox: str) -> SyncState | None:
    # An ORM session: on a Core connection, select(SyncState) yields its first column only.
    with Session(engine, expire_on_commit=False) as session:
        return session.scalars(
            select(SyncState).where(SyncState.source == source, SyncState.mailbox == mailbox)
        ).one_or_none()


def _upsert_state(conn: Connection, source: str, mailbox: str, **values: Any) -> None:
    stmt = _insert(conn, SyncState.__table__).values(source=source, mailbox=mailbox, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["source", "mailbox"], set_=values))


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
    """Save one page of a mailbox's events; with the last page, its token, atomically.

    The token is written in the same transaction as the events it covers, so a crash at any
    point leaves either both or neither: a token is never ahead of its events.
    """
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
    """Record how a mailbox's sync ended, for ``cadence status``."""
    values: dict[str, Any] = {
        "last_run_at": ran_at,
        "outcome": "failed" if error else "ok",
        "error": error,
        "events_changed": events_changed,
        "requests": requests,
    }
    if not error:
        values["last_success_at"] = ran_at
    with engine.begin() as conn:
        _upsert_state(conn, source, mailbox, **values)
