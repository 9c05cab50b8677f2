"""The tables cadence keeps, as SQLAlchemy 2 typed models.

Nothing here stores a title, a description or a location: cadence never needs them.
Times are stored as UTC instants in the form each backend reads fastest (:class:`UTCDateTime`:
``timestamptz`` in PostgreSQL, integer microseconds since 1970 in SQLite) and always come back
timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    DateTime,
    Double,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """An aware instant as SQLite stores it: whole microseconds since 1970-01-01 UTC."""
    return (value - EPOCH) // MICROSECOND


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant on every backend.

    PostgreSQL keeps it as ``timestamptz``. SQLite has no time type: it keeps an integer, the
    microseconds since 1970-01-01 UTC, so that reading a million instants is reading a million
    integers (a columnar read hands them over as they are) rather than parsing a million texts,
    and instants compare and sort as numbers. Python code sees aware datetimes either way.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        stored: TypeEngine[Any] = BigInteger() if dialect.name == "sqlite" else DateTime(True)
        return dialect.type_descriptor(stored)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> object:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: cadence stores aware UTC times only")
        return to_micros(value) if dialect.name == "sqlite" else value.astimezone(UTC)

    def process_result_value(self, value: object, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, int):
            return EPOCH + value * MICROSECOND
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Person(Base):
    """One row of the org chart."""

    __tablename__ = "people"
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    manager_email: Mapped[str | None] = mapped_column(String(320), index=True)
    team: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str | None] = mapped_column(String(200))
    # Where they work, for their public holidays: DE, US-CA (checked by cadence.orgchart).
    country: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str | None] = mapped_column(String(64))  # an IANA name


class Alias(Base):
    """Another email of a person, which counts as their primary email wherever it appears."""

    __tablename__ = "aliases"
    alias: Mapped[str] = mapped_column(String(320), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)


class Source(Base):
    __tablename__ = "sources"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))


class Mailbox(Base):
    """A calendar cadence reads, and where its sync stands."""

    __tablename__ = "mailboxes"
    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), primary_key=True)


class SyncState(Base):
    """Per mailbox: the saved sync token (Google) or delta link (Graph) and its window.

    ``token`` is written only in the transaction that saves the last page's events, so it is
    never ahead of the events it covers. ``first_synced_at`` is set when the first full sync
    completed: misses found before then have no knowable time (docs/metrics.md).
    """

    __tablename__ = "sync_state"
    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(320), primary_key=True)
    token: Mapped[str | None] = mapped_column(Text)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(20))  # ok | failed
    error: Mapped[str | None] = mapped_column(Text)
    events_changed: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)


class Event(Base):
    """One occurrence as one calendar (source, mailbox) holds it."""

    __tablename__ = "events"
    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(320), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(1024), primary_key=True)
    series_id: Mapped[str | None] = mapped_column(String(1024))
    ical_uid: Mapped[str | None] = mapped_column(String(1024))
    original_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    all_day: Mapped[bool | None] = mapped_column(Boolean)
    event_type: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    organizer: Mapped[str | None] = mapped_column(String(320))
    recurrence: Mapped[str | None] = mapped_column(Text)
    source_updated: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The cancellation's time as the source gives it, and the first sync that saw it cancelled
    # (null when the mailbox's very first sync found it already cancelled: unknowable).
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)

    # No secondary index: every sync rewrites every row it sees, and an index on ical_uid or
    # original_start doubled the cost of that write (docs/store.md) while no query used one
    # (the pipeline reads the events whole and matches copies in pandas).


class Attendee(Base):
    """A participant of one stored event copy (the organizer included, flagged)."""

    __tablename__ = "attendees"
    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(320), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(1024), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    response: Mapped[str] = mapped_column(String(20))
    is_organizer: Mapped[bool] = mapped_column(Boolean, default=False)
    is_resource: Mapped[bool] = mapped_column(Boolean, default=False)
    optional: Mapped[bool] = mapped_column(Boolean, default=False)
    # The response's time as the source gives it, and the first sync that saw this response
    # (null when the mailbox's very first sync found it).
    response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)


# Half-empty pages on PostgreSQL: every sync rewrites each row it sees again, and with room on
# the row's own page that rewrite is a HOT update (no new index entry, a third of the WAL); a
# full page would send it to another page and leave the old one to vacuum anyway.
SYNC_REWRITTEN_FILLFACTOR = 50
for _rewritten in (Event.__table__, Attendee.__table__):
    event.listen(
        _rewritten,
        "after_create",
        DDL(f"ALTER TABLE %(table)s SET (fillfactor = {SYNC_REWRITTEN_FILLFACTOR})").execute_if(
            dialect="postgresql"
        ),
    )


class RunLog(Base):
    """One line per nightly or sync run, for ``cadence status``."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    command: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    summary: Mapped[str | None] = mapped_column(Text)  # JSON


class SavedView(Base):
    """One report's figures for one week, as its JSON (zlib-compressed), saved by ``report all``
    and the nightly so that the web app's pages never wait for the pipeline.

    ``subject`` is the person the report is for (a manager or a director); ``as_of`` is the
    instant the figures were computed at. A week holds one run: saving a week again replaces it.
    """

    __tablename__ = "saved_views"
    week: Mapped[str] = mapped_column(String(10), primary_key=True)  # 2026-W49
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # manager | director
    subject: Mapped[str] = mapped_column(String(320), primary_key=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class WebSession(Base):
    """A signed-in person of the web app. Only a hash of the session's secret is kept, so the
    table alone signs nobody in; signing out deletes the row."""

    __tablename__ = "web_sessions"
    secret_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ForgottenPerson(Base):
    """Someone erased with ``cadence forget``: only the SHA-256 of their normalised email (and of
    each alias), so that later syncs and org imports skip them without the store naming them."""

    __tablename__ = "forgotten_people"
    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    forgotten_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RetentionEdge(Base):
    """The instant before which the retention has deleted events (the latest edge any nightly
    deleted before): reports that would need older events are refused, and only once something
    was in fact deleted, so a store that never ran retention answers for any time it holds."""

    __tablename__ = "retention_edge"
    table_name: Mapped[str] = mapped_column(String(40), primary_key=True)  # "events"
    deleted_before: Mapped[datetime] = mapped_column(UTCDateTime)


class RequestBudget(Base):
    """A source's request budget, a token bucket every process of every host draws from
    (:mod:`cadence.store.budget`): ``tokens`` (negative while callers wait for refills) as of
    ``refilled_at``, seconds since 1970 on the database server's clock, so hosts whose clocks
    disagree still share one bucket."""

    __tablename__ = "request_budgets"
    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    tokens: Mapped[float] = mapped_column(Double)
    refilled_at: Mapped[float] = mapped_column(Double)
