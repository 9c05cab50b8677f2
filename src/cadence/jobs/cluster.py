"""The nightly's syncs as tasks on a Dask cluster (``cadence nightly --scheduler tcp://HOST:8786``).

Why: one host's nightly stops keeping up somewhere past tens of thousands of mailboxes, and
``--shard I/N`` on several hosts leaves the operator to guess when every shard is done and
leaves a dead host's mailboxes for the next night. On a cluster, the nightly that holds the run
lock hands the night's mailboxes to the workers in batches (``[sync] batch_mailboxes``) and
waits for every batch; then the figures are computed on the same cluster (the Dask engine) and
the reports written and sent once, by the process that holds the lock.

Each batch is one task, :func:`sync_batch`: on its worker it opens the source's connector and
syncs the batch with the very runner of a single-host night (a thread pool, retries, the
breaker, one transaction per page; the token saved with the last page). A worker that dies
mid-batch loses nothing: Dask gives the batch to another worker, whose run of each mailbox
resumes from the token the store holds (a half-read mailbox replays its pages, which are saved
as upserts), so the store ends as after an uninterrupted night. A batch whose workers die
:data:`ALLOWED_FAILURES` times is recorded as failed for each of its mailboxes; a store that
fails stops the night, as on one host.

What travels to the workers is the configuration and the mailboxes' addresses; never a secret.
The database URL goes without its password (workers take it from ``$PGPASSWORD``, a
``.pgpass`` file or their own ``$CADENCE_DATABASE_URL``), and each worker reads the sources' key
files and secret variables from its own file system and environment (docs/operations.md).
Every worker draws from the sources' shared request budgets (:mod:`cadence.store.budget`).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from itertools import zip_longest
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from cadence.config import Config
from cadence.connectors.base import RunCache
from cadence.errors import UsageError
from cadence.jobs.sync import MailboxResult, Progress, SyncSummary, sync_sources, utc_now
from cadence.store.database import make_engine
from cadence.store.people import load_chart
from cadence.store.sync_state import record_outcome

# How many times a batch may lose its worker before its mailboxes are recorded as failed
# (Dask's ``distributed.scheduler.allowed-failures`` default).
ALLOWED_FAILURES = 3

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def worker_config(config: Config, url: str) -> Config:
    """The configuration as it travels to the workers: the database URL without its password."""
    return replace(config, database=replace(config.database, url=_without_password(url)))


def _without_password(url: str) -> str:
    parsed = make_url(url)
    if parsed.password is None:
        return url
    return parsed.set(password=None).render_as_string(hide_password=False)


def _worker_engine(url: str) -> Engine:
    """One engine (one connection pool) per worker process and database."""
    url = os.environ.get("CADENCE_DATABASE_URL") or url
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def _night_cache(night: str, source: str) -> RunCache[Any, Any]:
    """The series this worker process fetched for ``source`` during ``night``: a batch reads
    the series its mailboxes share with earlier batches' once, not once a batch (a 1:1's two
    people are rarely in one batch). Only the current night's are kept."""
    with _caches_lock:
        for old in [key for key in _caches if key[0] != night]:
            del _caches[old]
        return _caches.setdefault((night, source), RunCache())


_caches: dict[tuple[str, str], RunCache[Any, Any]] = {}
_caches_lock = threading.Lock()


def sync_batch(
    config: Config,
    source: str,
    mailboxes: list[str],
    full: bool,
    now: Callable[[], datetime],
    night: str = "",
) -> list[MailboxResult]:
    """A cluster task: sync ``mailboxes`` of ``source`` as a single-host night does; ``night``
    names the nightly run, whose batches on one worker process share the series they fetch."""
    from cadence.connectors.kinds import connect

    engine = _worker_engine(config.database.url)
    try:
        connector = connect(config, source)
    except UsageError as exc:  # a key file or secret missing on this worker, not on the others
        reason = f"not synced: on worker {socket.gethostname()}: {exc}"
        return _record_lost(engine, source, mailboxes, reason, now)
    if night:
        connector.series_cache = _night_cache(night, source)
    summary = sync_sources(
        config, engine, {source: mailboxes}, {source: connector}, full=full, now=now
    )
    return summary.results


def by_team(mailboxes: list[str], manager_of: dict[str, str | None]) -> list[str]:
    """``mailboxes`` with each team together, its manager first: a batch then holds both
    people of most 1:1s and everyone of most team meetings, so their series are read once."""
    leads = {m for m in manager_of.values() if m}

    def team(mailbox: str) -> tuple[str, int, str]:
        if mailbox in leads:
            return (mailbox, 0, mailbox)
        return (manager_of.get(mailbox) or mailbox, 1, mailbox)

    return sorted(mailboxes, key=team)


def batches(plan: dict[str, list[str]], size: int) -> Iterator[tuple[str, list[str]]]:
    """The plan cut into batches of ``size``, the sources taking turns, so that every source's
    quota is spent from the start of the night rather than one source after the other."""
    per_source = [
        [(name, mailboxes[i : i + size]) for i in range(0, len(mailboxes), size)]
        for name, mailboxes in sorted(plan.items())
    ]
    for row in zip_longest(*per_source):
        yield from (batch for batch in row if batch is not None)


def require_shared_store(engine: Engine) -> None:
    """Refuse a store the workers cannot all write to (SQLite is a file on one host)."""
    if engine.dialect.name != "postgresql":
        raise UsageError(
            "a Dask cluster's workers need a database they can all reach: "
            "[database] url must be PostgreSQL to sync on a cluster"
        )


def sync_on_cluster(
    config: Config,
    engine: Engine,
    plan: dict[str, list[str]],
    scheduler: str,
    *,
    full: bool = False,
    progress: Progress | None = None,
    now: Callable[[], datetime] = utc_now,
) -> SyncSummary:
    """Sync the planned mailboxes on the cluster at ``scheduler``; failures are recorded per
    mailbox, never raised (a failing store is raised, as by :func:`sync_sources`)."""
    require_shared_store(engine)
    from distributed import Client, as_completed
    from distributed.scheduler import KilledWorker

    try:
        client = Client(scheduler, timeout="10s", set_as_default=False)
    except (OSError, ValueError, TypeError) as exc:  # unreachable, or not an address at all
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    shipped = worker_config(config, engine.url.render_as_string(hide_password=False))
    night = uuid.uuid4().hex
    manager_of = {p.email: p.manager_email for p in load_chart(engine)}
    teams = {name: by_team(mailboxes, manager_of) for name, mailboxes in plan.items()}
    summary = SyncSummary()
    total = sum(len(m) for m in plan.values())
    done = failed = 0
    clock = time.monotonic()
    with client:
        futures = {
            client.submit(
                sync_batch,
                shipped,
                name,
                batch,
                full,
                now,
                night,
                key=f"cadence-sync-{night}-{name}-{index}",
                pure=False,
                retries=0,
            ): (name, batch)
            for index, (name, batch) in enumerate(batches(teams, config.sync.batch_mailboxes))
        }
        try:
            for future in as_completed(futures):
                name, batch = futures[future]
                try:
                    results = future.result()
                except KilledWorker:
                    reason = (
                        f"not synced: the cluster lost the worker of this mailbox's batch "
                        f"{ALLOWED_FAILURES + 1} times"
                    )
                    results = _record_lost(engine, name, batch, reason, now)
                summary.results.extend(results)
                for result in results:
                    done += 1
                    failed += 0 if result.ok else 1
                    if progress:
                        progress(done, total, failed)
        except BaseException:
            client.cancel(list(futures))
            raise
    summary.results.sort(key=lambda r: (r.source, r.mailbox))
    summary.seconds = time.monotonic() - clock
    return summary


def _record_lost(
    engine: Engine, source: str, batch: list[str], reason: str, now: Callable[[], datetime]
) -> list[MailboxResult]:
    ran_at = now()
    for mailbox in batch:
        record_outcome(engine, source, mailbox, ran_at=ran_at, error=reason)
    return [MailboxResult(source, mailbox, reason, 0, 0) for mailbox in batch]
