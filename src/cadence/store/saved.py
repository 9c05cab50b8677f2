"""Reports' figures saved per week, for the web app: one row per (week, kind, subject).

``report all`` and the nightly compute every report once; saving their JSON here lets a page be
one primary-key read instead of a pipeline run. A week is saved whole in one transaction and
replaces what that week held, so a reader sees one run's figures for a week, never a mix. The
JSON is kept exactly as the command line prints it (zlib-compressed), so a page's JSON and the
CLI's are the same text.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from cadence.errors import StoreError
from cadence.store.database import first_line
from cadence.store.models import SavedView

SAVED: Table = SavedView.__table__  # type: ignore[assignment]
# Fast over slow: a week's views are written once a night and read on every page view.
COMPRESSION_LEVEL = 1
# Rows per INSERT: bounded statements, whatever the org's size.
BATCH_ROWS = 500


@dataclass(frozen=True)
class ViewRow:
    """One report to save: its kind (``manager``/``director``), its subject, and its JSON,
    compressed at once (a week of a large org is held in memory until it is saved)."""

    kind: str
    subject: str
    body: bytes

    @classmethod
    def of(cls, view: Mapping[str, Any], json_text: str) -> ViewRow:
        kind = view["kind"]
        return cls(kind, view[kind]["email"], zlib.compress(json_text.encode(), COMPRESSION_LEVEL))


@dataclass(frozen=True)
class SavedWeek:
    """A saved week: its label, the instant its figures are at, and when they were saved."""

    week: str
    as_of: datetime
    saved_at: datetime


def save_week(
    engine: Engine, week: str, as_of: datetime, saved_at: datetime, views: Iterable[ViewRow]
) -> int:
    """Replace ``week``'s saved reports with ``views``, atomically; returns how many were saved."""
    count = 0
    try:
        with engine.begin() as conn:
            conn.execute(delete(SAVED).where(SAVED.c.week == week))
            batch: list[dict[str, object]] = []
            for view in views:
                batch.append(
                    {
                        "week": week,
                        "kind": view.kind,
                        "subject": view.subject,
                        "as_of": as_of,
                        "saved_at": saved_at,
                        "body": view.body,
                    }
                )
                if len(batch) == BATCH_ROWS:
                    conn.execute(insert(SAVED), batch)
                    count += len(batch)
                    batch = []
            if batch:
                conn.execute(insert(SAVED), batch)
                count += len(batch)
    except SQLAlchemyError as exc:
        raise StoreError(f"could not save week {week}'s reports: {first_line(exc)}") from exc
    return count


def saved_view(engine: Engine, week: str, kind: str, subject: str) -> str | None:
    """The saved JSON of one report, or None if that week holds no such report."""
    query = select(SAVED.c.body).where(
        SAVED.c.week == week, SAVED.c.kind == kind, SAVED.c.subject == subject
    )
    with engine.connect() as conn:
        body = conn.execute(query).scalar_one_or_none()
    return None if body is None else zlib.decompress(body).decode()


def saved_subjects(engine: Engine, week: str) -> list[tuple[str, str]]:
    """Every (kind, subject) saved for ``week``, sorted."""
    query = (
        select(SAVED.c.kind, SAVED.c.subject)
        .where(SAVED.c.week == week)
        .order_by(SAVED.c.kind, SAVED.c.subject)
    )
    with engine.connect() as conn:
        return [(kind, subject) for kind, subject in conn.execute(query)]


def saved_weeks(engine: Engine) -> list[SavedWeek]:
    """Every saved week, oldest first."""
    query = (
        select(SAVED.c.week, func.max(SAVED.c.as_of), func.max(SAVED.c.saved_at))
        .group_by(SAVED.c.week)
        .order_by(SAVED.c.week)
    )
    with engine.connect() as conn:
        # max() keeps its column's type, so the instants come back as aware datetimes.
        return [SavedWeek(week, as_of, saved) for week, as_of, saved in conn.execute(query)]
