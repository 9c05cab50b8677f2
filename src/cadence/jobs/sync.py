"""``cadence sync``: read every mailbox of every source (or those named) into the store.

This job knows nothing of Google or Microsoft: it asks a connector
(:class:`cadence.connectors.base.CalendarConnector`) for one reader per worker thread and, per
mailbox,

1. loads the saved sync state and plans the round (:func:`plan_round`): the saved token and its
   window, or a full round over ``now - lookback_days .. now + horizon_days`` on a first sync,
   with ``--full``, or when fewer than ``rebaseline_days`` of the saved window's horizon remain;
2. saves every page the reader yields with :func:`cadence.store.sync_state.save_page`; the token
   comes only with the last page, so it lands in the same transaction as the last events it
   covers and a crash anywhere leaves the previous token, which replays what was not yet saved;
3. on :class:`cadence.errors.TokenExpired` drops the token and does a full round; on any other
   error records the failure for that mailbox, named by this job, and goes on with the others.

Forgotten people (``cadence forget``) and those who opted out (``[org] exclude``) are never read,
and wherever another mailbox's events list them, a placeholder is stored instead of their address
(:func:`hidden_people`, :func:`cadence.store.upsert.with_placeholders`; docs/erasure.md).

Each source's requests are paced by its request budget (``[sources.NAME] requests_per_minute``,
:mod:`cadence.store.budget`), handed to its connector as a ``throttle`` callback, which every
process of a night draws from alike.

Every mailbox's outcome goes to ``sync_state`` (``cadence status``); the run is one row of the
run log (:mod:`cadence.jobs.run_log`), with the summary layout of :meth:`SyncSummary.as_dict`.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Engine

from cadence.config import Config, SyncConfig
from cadence.connectors.base import CalendarConnector, MailboxJob, MailboxReader, Window
from cadence.errors import ConfigError, InputError, StoreError, SyncError, TokenExpired
from cadence.jobs.run_log import logged_run
from cadence.normalised import normalise_email
from cadence.store.budget import open_budget
from cadence.store.copies import MailboxCopies
from cadence.store.database import short_message
from cadence.store.forget import address_hash, forgotten_placeholders, new_placeholder, person_of
from cadence.store.lock import run_lock
from cadence.store.models import SyncState
from cadence.store.people import mailbox_emails
from cadence.store.sync_state import (
    drop_token,
    ensure_mailboxes,
    load_sync_state,
    record_outcome,
    save_page,
)
from cadence.store.upsert import with_placeholders


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class MailboxResult:
    source: str
    mailbox: str
    error: str | None
    events: int
    requests: int

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SyncSummary:
    """What a sync run did; ``failed`` mailboxes are named with their reason."""

    results: list[MailboxResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> list[MailboxResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[MailboxResult]:
        return [r for r in self.results if not r.ok]

    @property
    def events_saved(self) -> int:
        return sum(r.events for r in self.results)

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        """The run log's summary of a run that synced (``nightly`` adds its report keys)."""
        return {
            "mailboxes_synced": len(self.ok),
            "mailboxes_failed": len(self.failed),
            "events_changed": self.events_saved,
            "requests": self.requests,
            "seconds": round(self.seconds, 1),
        }


Progress = Callable[[int, int, int], None]  # (mailboxes done, total, failed so far)
ConnectorFactory = Callable[[Config, str], CalendarConnector]


def plan_round(
    state: SyncState | None, sync: SyncConfig, now: datetime, full: bool
) -> tuple[str | None, Window]:
    """The token to continue from (None: a full round) and the window the round covers."""
    now = now.replace(microsecond=0)
    fresh = Window(
        now - timedelta(days=sync.lookback_days), now + timedelta(days=sync.horizon_days)
    )
    if full or state is None or not state.token:
        return None, fresh
    if state.window_start is None or state.window_end is None:
        return None, fresh
    if state.window_end - now < timedelta(days=sync.rebaseline_days):
        return None, fresh
    return state.token, Window(state.window_start, state.window_end)


def in_shard(mailbox: str, shard: tuple[int, int] | None) -> bool:
    """Whether shard ``(i, n)`` (1-based) syncs ``mailbox``: a hash every host computes alike."""
    if shard is None:
        return True
    index, count = shard
    return zlib.crc32(mailbox.encode()) % count == index - 1


def hidden_people(engine: Engine, config: Config) -> dict[str, str]:
    """Whom a sync never reads and never names, as :func:`with_placeholders` takes them: the hash
    of every forgotten address (``cadence forget``) and of every opted-out person's email and
    aliases (``[org] exclude``), each mapped to this run's placeholder for that person."""
    hidden = forgotten_placeholders(engine)
    for email in config.org.exclude:
        person = person_of(engine, email)
        addresses = [email] if person is None else [email, person.email, *person.aliases]
        placeholder = new_placeholder()
        for address in addresses:
            hidden.setdefault(address_hash(address), placeholder)
    return hidden


def select_mailboxes(
    engine: Engine,
    config: Config,
    source: str,
    only: Sequence[str] = (),
    shard: tuple[int, int] | None = None,
    hidden: Mapping[str, str] | None = None,
) -> list[str]:
    """The mailboxes a source reads: its people (with one source, everyone) but the forgotten
    and the opted out (``hidden``, default :func:`hidden_people`), maybe filtered, and with
    ``shard`` only this host's share of them."""
    if hidden is None:
        hidden = hidden_people(engine, config)
    emails = mailbox_emails(engine, source if len(config.sources) > 1 else None)
    emails = [e for e in emails if in_shard(e, shard) and address_hash(e) not in hidden]
    if not only:
        return emails
    wanted = {normalise_email(m) for m in only}
    return [e for e in emails if e in wanted]


def run_sync(
    config: Config,
    engine: Engine,
    *,
    source: str | None = None,
    mailboxes: Sequence[str] = (),
    full: bool = False,
    progress: Progress | None = None,
    connect: ConnectorFactory | None = None,
    now: Callable[[], datetime] = utc_now,
    shard: tuple[int, int] | None = None,
    command: str = "sync",
) -> SyncSummary:
    """``cadence sync``: :func:`sync_sources` under the run lock, as a run of its own in the run
    log, under ``command``'s name; raises LockHeld while another sync or nightly runs."""
    # One sync at a time: two of them (or a sync during the nightly) would race on the same
    # mailboxes' tokens. A sharded sync locks as the sharded nightly does (store/lock.py).
    plan, connectors = prepare(config, engine, source, mailboxes, shard, connect)
    with run_lock(engine, command, shard=shard[0] if shard else None):
        with logged_run(engine, command, now) as run:
            run.step = "sync"
            summary = sync_sources(
                config, engine, plan, connectors, full=full, progress=progress, now=now
            )
            run.summary = summary.as_dict()
    return summary


def prepare(
    config: Config,
    engine: Engine,
    source: str | None = None,
    mailboxes: Sequence[str] = (),
    shard: tuple[int, int] | None = None,
    connect: ConnectorFactory | None = None,
) -> tuple[dict[str, list[str]], dict[str, CalendarConnector]]:
    """The mailboxes each chosen source reads, and its connector; bad usage raises before any
    mailbox is read."""
    if connect is None:
        from cadence.connectors.kinds import connect as default_connect

        connect = default_connect
    if not config.sources:
        raise ConfigError(f"{config._where()}: no [sources.NAME] section: nothing to sync")
    if source is not None and source not in config.sources:
        raise ConfigError(
            f"{config._where()}: no source named {source!r} (have {sorted(config.sources)})"
        )
    names = [source] if source else sorted(config.sources)
    hidden = hidden_people(engine, config)
    plan = {
        name: select_mailboxes(engine, config, name, mailboxes, shard, hidden) for name in names
    }
    if mailboxes:
        found = {m for ms in plan.values() for m in ms}
        missing = sorted({normalise_email(m) for m in mailboxes} - found)
        never = [m for m in missing if address_hash(m) in hidden]
        unknown = [m for m in missing if m not in never]
        if missing:
            parts = [f"never synced (opted out or forgotten): {', '.join(never)}"] if never else []
            if unknown:
                parts.append("not in the org chart of the chosen source(s): " + ", ".join(unknown))
            raise InputError("; ".join(parts))
    if sum(len(ms) for ms in plan.values()) == 0:
        everyone = {n: select_mailboxes(engine, config, n, mailboxes, None, hidden) for n in names}
        if shard is not None and any(everyone.values()):
            count = sum(len(ms) for ms in everyone.values())
            raise InputError(
                f"shard {shard[0]}/{shard[1]} holds none of the {count} mailboxes of the org "
                "chart: run fewer shards"
            )
        raise InputError(
            "no mailboxes to sync: load the org chart first (cadence org import / org pull)"
        )
    # Every source's settings and secrets are checked before any mailbox is read, so a
    # missing secret of the second source does not surface after the first one's sync.
    connectors = {name: connect(config, name) for name in names if plan[name]}
    return plan, connectors


def sync_sources(
    config: Config,
    engine: Engine,
    plan: dict[str, list[str]],
    connectors: dict[str, CalendarConnector],
    *,
    full: bool = False,
    progress: Progress | None = None,
    now: Callable[[], datetime] = utc_now,
) -> SyncSummary:
    """Sync the planned mailboxes; failures are recorded per mailbox, never raised.

    Forgotten and opted-out people (:func:`hidden_people`, read again here, under the run lock)
    are left out whatever the plan says, and stored as placeholders on others' events."""
    hidden = hidden_people(engine, config)
    plan = {name: [m for m in ms if address_hash(m) not in hidden] for name, ms in plan.items()}
    summary = SyncSummary()
    clock = time.monotonic()
    counter = _Progress(sum(len(plan[name]) for name in connectors), progress)
    # Set when the store fails: the mailboxes not yet started, of every source, are left alone
    # (each would make its API calls only to fail on the database in turn).
    stopped = threading.Event()

    def one_source(name: str) -> list[MailboxResult]:
        src = config.sources[name]
        ensure_mailboxes(engine, name, src.kind, plan[name])
        budget = open_budget(engine, name, src.requests_per_minute)
        if budget is not None:
            connectors[name].throttle = budget.take
        workers = src.concurrency or config.sync.concurrency
        return _sync_source(
            connectors[name],
            engine,
            config.sync,
            name,
            plan[name],
            full,
            workers,
            now,
            counter,
            stopped,
            hidden,
        )

    # Sources are different services with their own quotas: they are read side by side.
    with ThreadPoolExecutor(max_workers=len(connectors), thread_name_prefix="source") as pool:
        for results in pool.map(one_source, connectors):
            summary.results.extend(results)
    summary.seconds = time.monotonic() - clock
    return summary


class _Progress:
    def __init__(self, total: int, callback: Progress | None) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self._callback = callback
        self._lock = threading.Lock()

    def __call__(self, result: MailboxResult) -> None:
        with self._lock:
            self.done += 1
            self.failed += 0 if result.ok else 1
            if self._callback:
                self._callback(self.done, self.total, self.failed)


@runtime_checkable
class ReadsAhead(Protocol):
    """A connector that reads the first call of incremental rounds ahead of their mailboxes'
    syncs (Graph, 20 mailboxes a ``$batch``): told the mailboxes in the order the workers take
    them, and the token each round starts from (``None``: a full round)."""

    def read_ahead(
        self, mailboxes: Sequence[str], token_of: Callable[[str], str | None]
    ) -> None: ...


BREAKER_MIN = 10


class _Breaker:
    """Stops reading a source that has failed for every one of its first mailboxes.

    Without it, an endpoint that is down or a key that was revoked costs every mailbox its full
    round of retries (minutes for a large org) before the run can say so. One success anywhere
    keeps it closed, so a few bad mailboxes never stop the others.
    """

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.successes = 0
        self.failures = 0
        self.last_error = ""
        self._lock = threading.Lock()

    def record(self, result: MailboxResult) -> None:
        with self._lock:
            if result.ok:
                self.successes += 1
            else:
                self.failures += 1
                self.last_error = result.error or ""

    def tripped(self) -> str | None:
        with self._lock:
            if self.successes or self.failures < self.threshold:
                return None
            return (
                f"not tried: the source failed for the first {self.failures} mailboxes "
                f"and none succeeded (last: {self.last_error})"
            )


def _sync_source(
    connector: CalendarConnector,
    engine: Engine,
    sync: SyncConfig,
    source: str,
    mailboxes: list[str],
    full: bool,
    workers: int,
    now: Callable[[], datetime],
    progress: _Progress,
    stopped: threading.Event,
    hidden: Mapping[str, str],
) -> list[MailboxResult]:
    local = threading.local()
    readers: list[MailboxReader] = []
    readers_lock = threading.Lock()

    def reader() -> MailboxReader:
        r = getattr(local, "reader", None)
        if r is None:
            r = local.reader = connector.open_worker()
            with readers_lock:
                readers.append(r)
        return r

    breaker = _Breaker(threshold=max(BREAKER_MIN, 2 * workers))
    if isinstance(connector, ReadsAhead) and not full:

        def token_of(mailbox: str) -> str | None:
            # The plan sync_mailbox will make: a round whose plan differs by then (its window
            # came due for a re-baseline meanwhile) makes its own first call.
            return plan_round(load_sync_state(engine, source, mailbox), sync, now(), full)[0]

        connector.read_ahead(mailboxes, token_of)

    def one(mailbox: str) -> MailboxResult | None:
        if stopped.is_set():
            return None
        reason = breaker.tripped()
        if reason is not None:
            record_outcome(engine, source, mailbox, ran_at=now(), error=reason)
            result = MailboxResult(source, mailbox, reason, 0, 0)
        else:
            result = sync_mailbox(
                reader(), engine, sync, source, mailbox, full=full, now=now, placeholders=hidden
            )
            breaker.record(result)
        progress(result)
        return result

    results = []
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"sync-{source}") as pool:
            futures = [pool.submit(one, m) for m in mailboxes]
            for f in as_completed(futures):
                try:
                    result = f.result()
                except StoreError:
                    stopped.set()
                    raise
                if result is not None:
                    results.append(result)
    finally:
        for r in readers:
            r.close()
    return sorted(results, key=lambda r: r.mailbox)


def sync_mailbox(
    reader: MailboxReader,
    engine: Engine,
    sync: SyncConfig,
    source: str,
    mailbox: str,
    *,
    full: bool = False,
    now: Callable[[], datetime] = utc_now,
    placeholders: Mapping[str, str] | None = None,
) -> MailboxResult:
    """One mailbox's round (and a full one after an expired token); the outcome is recorded.

    ``placeholders`` (address hash -> placeholder; default: the forgotten people's) are written
    for those people wherever this mailbox's events list them."""
    if placeholders is None:
        placeholders = forgotten_placeholders(engine)
    seen_at = now()
    before = reader.requests
    events = 0
    error: str | None = None
    try:
        state = load_sync_state(engine, source, mailbox)
        first_sync = state is None or state.first_synced_at is None
        token, window = plan_round(state, sync, seen_at, full)
        try:
            events = _round(
                reader, engine, source, mailbox, token, window, seen_at, first_sync, placeholders
            )
        except TokenExpired:
            if token is None:
                raise
            drop_token(engine, source, mailbox)
            token, window = plan_round(None, sync, seen_at, True)
            events += _round(
                reader, engine, source, mailbox, None, window, seen_at, first_sync, placeholders
            )
    except SyncError as exc:
        error = short_message(str(exc.about(mailbox)))
    except StoreError:
        raise  # the database failing is the run's failure, not this mailbox's
    except Exception as exc:  # a bug or an unforeseen answer must not stop the other mailboxes
        error = short_message(f"unexpected {type(exc).__name__}: {exc}")
    requests = reader.requests - before
    record_outcome(
        engine,
        source,
        mailbox,
        ran_at=seen_at,
        error=error,
        events_changed=events,
        requests=requests,
    )
    return MailboxResult(source, mailbox, error, events, requests)


def _round(
    reader: MailboxReader,
    engine: Engine,
    source: str,
    mailbox: str,
    token: str | None,
    window: Window,
    seen_at: datetime,
    first_sync: bool,
    placeholders: Mapping[str, str],
) -> int:
    stored = MailboxCopies(engine, source, mailbox)
    job = MailboxJob(source, mailbox, token, window, stored, seen_at)
    saved = 0
    for page in reader.pages(job):
        saved += save_page(
            engine,
            source,
            mailbox,
            with_placeholders(page.events, placeholders),
            seen_at=seen_at,
            first_sync=first_sync,
            token=page.token,
            window=(window.start, window.end) if page.token else None,
        )
        if page.token is not None:
            return saved
    raise SyncError("the listing ended without a sync token; will retry next run")
