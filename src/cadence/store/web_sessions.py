"""The web app's signed-in people, kept server-side.

A session's secret lives only in the person's cookie; this table keeps its SHA-256, the person,
and when the session began and was last used, so that signing out, an idle timeout or the
absolute limit ends a session for good (a copied cookie is worth nothing afterwards), and a copy
of the database signs nobody in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, Table, delete, insert, or_, select, update

from cadence.store.models import WebSession

SESSIONS: Table = WebSession.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class StoredSession:
    email: str
    created_at: datetime
    seen_at: datetime


def add_session(engine: Engine, secret_hash: str, email: str, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(SESSIONS).values(
                secret_hash=secret_hash, email=email, created_at=now, seen_at=now
            )
        )


def find_session(engine: Engine, secret_hash: str) -> StoredSession | None:
    query = select(SESSIONS.c.email, SESSIONS.c.created_at, SESSIONS.c.seen_at).where(
        SESSIONS.c.secret_hash == secret_hash
    )
    with engine.connect() as conn:
        row = conn.execute(query).one_or_none()
    return None if row is None else StoredSession(*row)


def touch_session(engine: Engine, secret_hash: str, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(SESSIONS).where(SESSIONS.c.secret_hash == secret_hash).values(seen_at=now)
        )


def end_session(engine: Engine, secret_hash: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(SESSIONS).where(SESSIONS.c.secret_hash == secret_hash))


def end_expired_sessions(engine: Engine, idle_before: datetime, created_before: datetime) -> int:
    """Delete every session idle since before ``idle_before`` or begun before
    ``created_before``; returns how many ended."""
    with engine.begin() as conn:
        result = conn.execute(
            delete(SESSIONS).where(
                or_(SESSIONS.c.seen_at < idle_before, SESSIONS.c.created_at < created_before)
            )
        )
    return int(result.rowcount or 0)
