"""How long the nightly's retention step holds the database per day of events it deletes, while a
sync keeps writing, on SQLite and PostgreSQL, measured against a plain DELETE of the same rows.

Why: ``[store] retention_days`` makes every nightly delete a day or so of events (the first run
after turning it on, months), and a writer may be busy meanwhile: on SQLite one writer at a time,
so a long delete would stall everyone else's writes. ``cadence.store.retention`` therefore
deletes a day at a time in short transactions, found by one read and deleted by key. This prints,
per day of events before the edge, the seconds its transactions **held** the database (on SQLite
the write lock, from taking it to the commit) as median and max over the days, beside the
**floor**: the same day's rows deleted by one plain ``DELETE`` of the events by their start and
one of their attendees, with no writer running, in a transaction rolled back so that the
measured run deletes the very same rows; and the ratio. The target is under a second a day on
both backends. It prints too the day's transactions from begin to commit, which on SQLite also
wait for the sync's page in progress to commit, and how long the sync's pages took while the
retention ran and before it (a sync alone), which is what the batching is for.

The company: ``benchmarks/bench_reports.py``'s (same generator, same seed, 20,000 people by
default), its 1:1s generated over enough weeks before its as-of (2026-11-23) to reach at least
``--days-past`` days before the retention edge (as-of minus ``--retention-days``, 400 by
default): about two million event rows and four million attendee rows. It is stored afresh into
each backend (the measurement deletes part of it): a temporary SQLite file, and the PostgreSQL
database ``cadence_bench_retention`` on the server ``--postgres-url`` points at (created if
missing, emptied and rebuilt; never the database the URL names, which the test suite uses).

The sync: a second process saving pages of 2,500 events (Google's largest page, two attendees
each) of 2,500 mailboxes through ``cadence.store.sync_state.save_page``, back to back, eight
pages round and round (after the first round, a re-sync of the same events), inside the kept
window; it starts before the retention and runs until it ends. Back to back is the worst case:
a real sync fetches each page between two saves, and a nightly's own sync is over before its
retention step begins (they hold the same run lock); the web app's writes and a sharded
nightly's other shards are what writes beside it.

Usage: ``python benchmarks/bench_retention.py [--people N] [--backends sqlite postgresql]
[--retention-days D] [--days-past P] [--postgres-url URL]``. ``--people 2000`` while developing,
the full size once.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection as Pipe
from multiprocessing.synchronize import Event as Flag
from pathlib import Path

import pandas as pd
import psycopg
from psycopg import sql
from sqlalchemy import Connection, bindparam, delete, func, select, tuple_
from sqlalchemy.engine import make_url

import bench_reports
from bench_reports import (
    AS_OF,
    Company,
    Store,
    build_company,
    libpq,
    load_average,
    sqlite_store,
    store_company,
)
from cadence.config import parse_config
from cadence.jobs.retention import delete_old_events
from cadence.normalised import Attendee, Event
from cadence.store.database import make_engine, upgrade
from cadence.store.models import UTCDateTime
from cadence.store.retention import Batch
from cadence.store.sync_state import save_page
from cadence.store.upsert import ATTENDEES, EVENTS

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DATABASE = "cadence_bench_retention"
FLOOR_DATABASE = "cadence_bench_retention_floor"
BACKENDS = ("sqlite", "postgresql")
TARGET_SECONDS = 1.0  # per day of events deleted
PAGE_EVENTS, PAGES = 2_500, 8
SYNC_ALONE_SECONDS = 10.0  # the sync's pages timed before the retention starts


# -- the company and the stores --------------------------------------------------------------------


def company_over(people: int, retention_days: int, days_past: int) -> Company:
    """bench_reports' company, its 1:1s reaching ``days_past`` days before the retention edge."""
    # The generator reads WEEKS_BACK when it runs: the same company, over more weeks.
    bench_reports.WEEKS_BACK = math.ceil((retention_days + days_past) / 7) + 1
    return build_company(people)


def postgres_store(admin_url: str) -> Store:
    """An empty, migrated ``cadence_bench_retention`` on the server ``admin_url`` is on."""
    admin = make_url(admin_url)
    with psycopg.connect(libpq(admin), autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DATABASE,)
        ).fetchone()
        if found is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DATABASE)))
    url = admin.set(database=BENCH_DATABASE)
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    engine = make_engine(url.render_as_string(hide_password=False))
    upgrade(engine)
    return Store("postgresql", engine, libpq(url), built=True)


# -- the floor -------------------------------------------------------------------------------------


def days_before(company: Company, edge: datetime) -> dict[date, tuple[datetime, datetime]]:
    """Each UTC day holding events before the edge, and its span up to the edge."""
    starts = company.events["start"]
    old = starts[starts < pd.Timestamp(edge)]
    spans = {}
    for day in sorted(set(old.dt.tz_convert("UTC").dt.date)):
        lo = datetime(day.year, day.month, day.day, tzinfo=UTC)
        spans[day] = (lo, min(lo + timedelta(days=1), edge))
    return spans


def floor_seconds(url: str, spans: dict[date, tuple[datetime, datetime]]) -> dict[date, float]:
    """Per day: one plain DELETE of its attendees and one of its events, by start, committed
    (on a copy of the store, whose rows the measured run then deletes again)."""
    e, a = EVENTS.c, ATTENDEES.c
    lo, hi = bindparam("lo", type_=UTCDateTime()), bindparam("hi", type_=UTCDateTime())
    in_day = (e.start >= lo) & (e.start < hi)
    keys = select(e.source, e.mailbox, e.event_id).where(in_day)
    attendees = delete(ATTENDEES).where(tuple_(a.source, a.mailbox, a.event_id).in_(keys))
    events = delete(EVENTS).where(in_day)
    seconds = {}
    engine = make_engine(url)
    with engine.connect() as conn:
        warm(conn)
        for day, (start, end) in spans.items():
            began = time.perf_counter()
            with conn.begin():
                conn.execute(attendees, {"lo": start, "hi": end})
                conn.execute(events, {"lo": start, "hi": end})
            seconds[day] = time.perf_counter() - began
    engine.dispose()
    return seconds


def warm(conn: Connection) -> None:
    """Both tables read once, as the night's reports leave the caches before the retention."""
    conn.execute(select(func.max(EVENTS.c.start))).scalar_one()
    conn.execute(select(func.max(ATTENDEES.c.last_seen))).scalar_one()
    conn.rollback()


@contextmanager
def floor_copy(store: Store, admin_url: str) -> Iterator[str]:
    """A copy of the store to measure the floor on, removed afterwards: a file beside a SQLite
    store, ``cadence_bench_retention_floor`` (its template the store) on the PostgreSQL server
    ``admin_url`` points at."""
    store.engine.dispose()  # PostgreSQL copies a database nobody is connected to
    if store.backend == "sqlite":
        path = Path(store.adbc_target)
        copy = path.with_name("floor.db")
        shutil.copy(path, copy)
        try:
            yield f"sqlite:///{copy}"
        finally:
            copy.unlink()
        return
    admin = make_url(admin_url)
    floor = sql.Identifier(FLOOR_DATABASE)
    with psycopg.connect(libpq(admin), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(floor))
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(floor, sql.Identifier(BENCH_DATABASE))
        )
    try:
        yield admin.set(database=FLOOR_DATABASE).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq(admin), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(floor))


# -- the sync beside it ----------------------------------------------------------------------------


def _page(number: int) -> list[Event]:
    base = AS_OF - timedelta(days=3)
    out = []
    for i in range(PAGE_EVENTS):
        manager, report = f"p{i // 7}@bench.test", f"p{i + 1}@bench.test"
        start = base + timedelta(minutes=number * PAGE_EVENTS + i)
        out.append(
            Event(
                source="bench",
                mailbox=report,
                event_id=f"sync-{number}-{i}",
                status="confirmed",
                ical_uid=f"sync-{number}-{i}",
                start=start,
                end=start + timedelta(minutes=30),
                organizer=manager,
                event_type="default",
                attendees=(
                    Attendee(manager, "accepted", is_organizer=True),
                    Attendee(report, "accepted"),
                ),
            )
        )
    return out


def sync_writer(url: str, started: Flag, stop: Flag, out: Pipe) -> None:
    """A sync's writes until ``stop``: pages round and round; sends (wall start, seconds) each."""
    engine = make_engine(url)
    pages = [_page(n) for n in range(PAGES)]
    timed: list[tuple[float, float]] = []
    n = 0
    while not stop.is_set():
        began = time.time()
        page = pages[n % PAGES]
        save_page(engine, "bench", page[0].mailbox, page, seen_at=AS_OF, first_sync=False)
        timed.append((began, time.time() - began))
        n += 1
        started.set()
    engine.dispose()
    out.send(timed)


# -- the measurement -------------------------------------------------------------------------------


@dataclass
class Measured:
    per_day: dict[date, float]  # the day's transactions, begin to commit
    held: dict[date, float]  # of which holding the database (SQLite: its write lock)
    longest_hold: float
    batches: int
    events: int
    attendees: int
    wall: float
    pages_alone: list[float]
    pages_during: list[float]


def measure(store: Store, url: str, retention_days: int) -> Measured:
    """The retention step at as-of with a sync writing beside it."""
    context = multiprocessing.get_context("spawn")
    started, stop = context.Event(), context.Event()
    receive, send = context.Pipe(duplex=False)
    writer = context.Process(target=sync_writer, args=(url, started, stop, send))
    writer.start()
    if not started.wait(timeout=300):
        raise SystemExit("the sync writer did not save a page in 300 s")
    time.sleep(SYNC_ALONE_SECONDS)
    batches: list[Batch] = []
    config = parse_config({"store": {"retention_days": retention_days}})
    began = time.time()
    deleted = delete_old_events(config, store.engine, AS_OF, on_batch=batches.append)
    ended = time.time()
    stop.set()
    timed: list[tuple[float, float]] = receive.recv()
    writer.join()
    per_day: dict[date, float] = defaultdict(float)
    held: dict[date, float] = defaultdict(float)
    for batch in batches:
        per_day[batch.day] += batch.seconds
        held[batch.day] += batch.seconds - batch.waited
    return Measured(
        per_day=dict(per_day),
        held=dict(held),
        longest_hold=max((b.seconds - b.waited for b in batches), default=0.0),
        batches=len(batches),
        events=deleted.events,
        attendees=deleted.attendees,
        wall=ended - began,
        pages_alone=[s for t, s in timed if t + s < began],
        pages_during=[s for t, s in timed if t < ended and t + s > began],
    )


def _spread(values: list[float]) -> str:
    if not values:
        return "none"
    return f"median {statistics.median(values):6.3f} s, max {max(values):6.3f} s"


def _ratio(values: list[float], floors: list[float]) -> str:
    median = statistics.median(values) / statistics.median(floors)
    return f"median {median:5.2f}x, max {max(values) / max(floors):5.2f}x"


def report(
    store: Store, company: Company, edge: datetime, floor: dict[date, float], got: Measured
) -> None:
    floors, days, held = list(floor.values()), list(got.per_day.values()), list(got.held.values())
    verdict = "ok" if held and max(held) < TARGET_SECONDS else "over"
    lines: list[tuple[str, str]] = [
        ("floor: one plain DELETE a day, no writer", f"{_spread(floors)}  ({len(floors)} days)"),
        (
            "retention a day, holding the database",
            f"{_spread(held)}  ({len(held)} days, {got.batches} transactions)",
        ),
        ("  ratio to the floor", f"{_ratio(held, floors)}  (target under 1 s a day: {verdict})"),
        ("retention a day, waits for the sync too", _spread(days)),
        ("  ratio to the floor", _ratio(days, floors)),
        ("longest transaction's hold (its lock)", f"{got.longest_hold:6.3f} s"),
        (
            "retention's wall time (its reads too)",
            f"{got.wall:6.2f} s for {got.events:,} events, {got.attendees:,} attendee rows",
        ),
        ("the sync's pages (2,500 events) alone", _spread(got.pages_alone)),
        ("the sync's pages during the retention", _spread(got.pages_during)),
    ]
    print(
        f"\n{store.backend}: {len(company.events):,} event rows, {len(company.attendees):,}"
        f" attendee rows; edge {edge:%Y-%m-%d %H:%M} UTC"
    )
    for label, value in lines:
        print(f"  {label:<42} {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--retention-days", type=int, default=400)
    parser.add_argument("--days-past", type=int, default=14, help="history before the edge")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CADENCE_TEST_POSTGRES_URL", DEFAULT_PG),
        help=f"the PostgreSQL server (the company goes into its {BENCH_DATABASE} database)",
    )
    args = parser.parse_args()
    print(f"load average at start: {load_average()}")
    edge = AS_OF - timedelta(days=args.retention_days)
    started = time.perf_counter()
    company = company_over(args.people, args.retention_days, args.days_past)
    spans = days_before(company, edge)
    print(
        f"company: {len(company.people):,} people, {company.occurrences:,} 1:1 occurrences,"
        f" {len(company.events):,} event rows, {len(company.attendees):,} attendee rows,"
        f" {len(spans)} days of events before the edge"
        f" (generated in {time.perf_counter() - started:.1f} s)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for backend in dict.fromkeys(args.backends):
            if backend == "sqlite":
                store = sqlite_store(Path(tmp) / "bench.db", args.people)
                url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            else:
                store = postgres_store(args.postgres_url)
                url = store.engine.url.render_as_string(hide_password=False)
            began = time.perf_counter()
            store_company(store.engine, company)
            print(f"{backend}: stored in {time.perf_counter() - began:.1f} s (not counted)")
            with floor_copy(store, args.postgres_url) as copy:
                floor = floor_seconds(copy, spans)
            with store.engine.connect() as conn:
                warm(conn)
            got = measure(store, url, args.retention_days)
            report(store, company, edge, floor, got)
            store.engine.dispose()
    print(f"\nload average at end: {load_average()}")


if __name__ == "__main__":
    main()
