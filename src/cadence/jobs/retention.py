"""The nightly's last step: forget the events older than ``[store] retention_days``.

cadence keeps what calendars said only as long as the configuration allows; the nightly ends by
deleting every event copy (and its attendees) that started before the **edge**, now minus
``retention_days``, in short transactions that a concurrent sync's writes interleave with
(:mod:`cadence.store.retention`). The store then remembers that edge, and the report jobs refuse
to reach behind it (:mod:`cadence.jobs.figures`): a report whose figures need deleted data says
so instead of showing the gap as 1:1s that never happened. What counts is the edge a deletion
used, not the clock: a store no retention has run on answers for any time it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from cadence.config import Config
from cadence.jobs.sync import in_shard
from cadence.store.retention import Batch, Deleted, delete_before, record_edge


def retention_edge(config: Config, now: datetime) -> datetime | None:
    """The instant before which the store keeps no event: ``now`` minus ``[store]
    retention_days``; None when retention is off (``retention_days = 0`` keeps everything)."""
    days = config.store.retention_days
    return now - timedelta(days=days) if days else None


def delete_old_events(
    config: Config,
    engine: Engine,
    now: datetime,
    *,
    shard: tuple[int, int] | None = None,
    on_batch: Callable[[Batch], None] | None = None,
) -> Deleted:
    """Delete the events that started before the retention edge at ``now``, with their
    attendees; a sharded nightly deletes those of its own share of the mailboxes, so the shards
    together cover every calendar, each once."""
    edge = retention_edge(config, now)
    if edge is None:
        return Deleted()
    deleted = delete_before(
        engine,
        edge,
        mailboxes=None if shard is None else (lambda mailbox: in_shard(mailbox, shard)),
        on_batch=on_batch,
    )
    record_edge(engine, edge)
    return deleted
