"""Read what the pipeline needs from the store into pandas frames, with SQL.

The pipeline computes from frames (:class:`cadence.frames.StoreFrames`) and knows no SQL; this is
the one place that reads them. Only the needed columns, and only the events that can matter at
as-of: those whose original start (or actual start) is at or after ``since`` (the start of the
window or of the trend, whichever is earlier, and everything in the future for
``next_scheduled``), plus older timed events that were not cancelled, which is all ``last_held``
can need from before the window.

SQLite hands datetimes back as naive strings and PostgreSQL as aware datetimes; both become
UTC-aware pandas datetimes here, parsed column by column rather than value by value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals
from sqlalchemy import Connection, Engine, and_, case, false, func, or_, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType

from cadence.frames import (
    ATTENDEE_COLUMNS,
    ATTENDEE_TIMES,
    EVENT_COLUMNS,
    EVENT_TIMES,
    MAX_LISTED,
    PEOPLE_COLUMNS,
    StoreFrames,
)
from cadence.store.models import Alias, Person
from cadence.store.upsert import ATTENDEES, EVENTS

KEY = ("source", "mailbox", "event_id")
# Texts with few distinct values (per company, not per event) are kept as categoricals.
CATEGORICAL = frozenset(
    {"source", "mailbox", "series_id", "ical_uid", "event_type", "status", "organizer"}
    | {"recurrence", "email", "response"}
)
CHUNK_ROWS = 200_000


def utc(values: pd.Series) -> pd.Series:
    """A datetime column as UTC-aware pandas datetimes, whichever form the driver gave it in."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
    # Strings (SQLite) and aware datetimes (PostgreSQL) alike; ISO8601 takes both.
    return pd.to_datetime(values, utc=True, format="ISO8601").astype("datetime64[ns, UTC]")


def _flag(values: pd.Series, nullable: bool) -> pd.Series:
    """SQLite's 0/1 (or null) and PostgreSQL's booleans, as pandas booleans."""
    flags = values.astype("boolean")
    return flags if nullable else flags.fillna(False).astype(bool)


def _relevant(since: pd.Timestamp) -> ColumnElement[bool]:
    c = EVENTS.c
    bound = since.to_pydatetime()
    return or_(
        c.original_start >= bound,
        c.start >= bound,
        and_(c.status != "cancelled", or_(c.all_day.is_(None), c.all_day == false())),
    )


def _raw(column: ColumnElement) -> ColumnElement:
    # Untyped, so SQLAlchemy does not build a Python datetime per value: pandas parses columns.
    return type_coerce(column, NullType()).label(column.key)


def _read(conn: Connection, stmt: object, times: tuple[str, ...]) -> pd.DataFrame:
    """Read in chunks, each made compact at once (times parsed, texts as categoricals), so the
    peak memory is one chunk of Python objects plus the compact result."""
    chunks = []
    for chunk in pd.read_sql(stmt, conn, chunksize=CHUNK_ROWS):  # type: ignore[call-overload]
        for name in chunk.columns:
            if name in times:
                chunk[name] = utc(chunk[name])
            elif name in CATEGORICAL:
                chunk[name] = chunk[name].astype("category")
        chunks.append(chunk)
    if len(chunks) == 1:
        return chunks[0]
    columns = {}
    for name in chunks[0].columns:
        parts = [c[name] for c in chunks]
        if name in CATEGORICAL:
            columns[name] = _union(parts)
        else:
            columns[name] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(columns)


def _union(parts: list[pd.Series]) -> pd.Series:
    try:
        return pd.Series(union_categoricals(parts, ignore_order=True))
    except TypeError:
        # A chunk where the column is all null may have typed its (empty) categories apart.
        texts = pd.concat([part.astype(object) for part in parts], ignore_index=True)
        return texts.astype("category")


def load_events(conn: Connection, since: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The relevant event copies and their attendees, ``copy_id`` joining the two.

    ``events.listed`` is how many people (resources aside) the copy lists; the attendee rows of
    copies listing more than ``MAX_LISTED`` are not read.
    """
    relevant = _relevant(since)
    a = ATTENDEES.c
    join = and_(*[a[k] == EVENTS.c[k] for k in KEY])
    listed = (
        select(func.count()).where(join, a.is_resource == false()).scalar_subquery().label("listed")
    )
    events = _read(
        conn,
        select(*[_raw(EVENTS.c[name]) for name in EVENT_COLUMNS], listed).where(relevant),
        EVENT_TIMES,
    )
    counted = (
        select(
            *[a[name] for name in ATTENDEE_COLUMNS],
            func.sum(case((a.is_resource == false(), 1), else_=0))
            .over(partition_by=[a[k] for k in KEY])
            .label("listed"),
        )
        .select_from(ATTENDEES.join(EVENTS, join))
        .where(relevant)
        .subquery()
    )
    attendees = _read(
        conn,
        select(*[_raw(counted.c[name]) for name in ATTENDEE_COLUMNS]).where(
            counted.c.listed <= MAX_LISTED
        ),
        ATTENDEE_TIMES,
    )
    events["all_day"] = _flag(events["all_day"], nullable=True)
    for name in ("is_organizer", "is_resource"):
        attendees[name] = _flag(attendees[name], nullable=False)
    events["copy_id"] = np.arange(len(events), dtype=np.int64)
    copies = pd.MultiIndex.from_frame(events[list(KEY)])
    attendees["copy_id"] = copies.get_indexer(pd.MultiIndex.from_frame(attendees[list(KEY)]))
    # A sync between the two reads may add attendees of a copy the first read did not see.
    attendees = attendees[attendees["copy_id"] >= 0].drop(columns=["source", "mailbox", "event_id"])
    return events, attendees.reset_index(drop=True)


def load_people(conn: Connection) -> tuple[pd.DataFrame, pd.DataFrame]:
    columns = Person.__table__.c
    people = pd.read_sql(select(*[columns[name] for name in PEOPLE_COLUMNS]), conn)
    aliases = pd.read_sql(select(Alias.alias, Alias.email), conn)
    return people, aliases


def load_frames(engine: Engine, since: pd.Timestamp) -> StoreFrames:
    """Everything a pipeline run at an as-of needing data from ``since`` on reads."""
    with engine.connect() as conn:
        people, aliases = load_people(conn)
        events, attendees = load_events(conn, since)
    return StoreFrames(people=people, aliases=aliases, events=events, attendees=attendees)
