"""What earlier syncs stored of one mailbox, as the plain records a connector reads.

A listing does not always say what happened: Google may list a cancelled instance as its id
alone, and Graph reports an occurrence ``@removed`` or simply stops listing it. What that means
depends on what this calendar held before, so the sync job hands each reader a
:class:`MailboxCopies` (the connectors' ``StoredCopies``): the connector asks, the store answers
with :class:`cadence.normalised.StoredCopy` records, and the connector never sees a database.
It asks by the ids its calendar gives, which the store may keep in a shorter form
(:mod:`cadence.store.fitting`): the answer is keyed by the ids it asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, RowMapping, select

from cadence.normalised import StoredCopy
from cadence.store.fitting import EVENT_ID_LIMIT, is_replacement, stored_ids
from cadence.store.upsert import EVENTS

# Ids bound per query: well below both backends' parameter limits.
ID_BATCH = 500
_COLUMNS = [
    EVENTS.c.event_id,
    EVENTS.c.status,
    EVENTS.c.organizer,
    EVENTS.c.series_id,
    EVENTS.c.original_start,
    EVENTS.c.start,
]


def _record(row: RowMapping) -> StoredCopy:
    return StoredCopy(
        event_id=row["event_id"],
        status=row["status"],
        organizer=row["organizer"],
        series_id=row["series_id"],
        original_start=row["original_start"],
        start=row["start"],
    )


class MailboxCopies:
    """The stored copies of one (source, mailbox), read on demand."""

    def __init__(self, engine: Engine, source: str, mailbox: str) -> None:
        self.engine = engine
        self.source = source
        self.mailbox = mailbox

    def _where(self) -> list[Any]:
        return [EVENTS.c.source == self.source, EVENTS.c.mailbox == self.mailbox]

    def copies(self, event_ids: Iterable[str]) -> dict[str, StoredCopy]:
        asked = stored_ids(event_ids)  # stored id -> the id the connector knows
        ids = list(asked)
        found: dict[str, StoredCopy] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), ID_BATCH):
                query = select(*_COLUMNS).where(
                    *self._where(), EVENTS.c.event_id.in_(ids[i : i + ID_BATCH])
                )
                for row in conn.execute(query).mappings():
                    ident = asked[row["event_id"]]
                    found[ident] = replace(_record(row), event_id=ident)
        return found

    def series_copies(self, series_ids: Iterable[str]) -> dict[str, list[StoredCopy]]:
        asked = stored_ids(series_ids)
        ids = sorted(asked)
        found: dict[str, list[StoredCopy]] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), ID_BATCH):
                query = select(*_COLUMNS).where(
                    *self._where(), EVENTS.c.series_id.in_(ids[i : i + ID_BATCH])
                )
                for row in conn.execute(query).mappings():
                    found.setdefault(asked[row["series_id"]], []).append(_record(row))
        return found

    def organised_live(self, start: datetime, end: datetime) -> list[str]:
        c = EVENTS.c
        query = select(c.event_id).where(
            *self._where(),
            c.organizer == self.mailbox,
            c.status != "cancelled",
            c.original_start >= start,
            c.original_start < end,
            c.start >= start,
            c.start < end,
        )
        with self.engine.connect() as conn:
            ids = conn.execute(query).scalars().all()
        # A replaced id is not the one the calendar lists, so the connector would take it for
        # gone and cancel a live event: it is left out (its cancellation will come by delta).
        return [i for i in ids if not is_replacement(i, EVENT_ID_LIMIT)]
