"""How fast ``cadence sync`` reads a Google Workspace: full sync, then a no-change incremental.

Builds a company of N people (default 1,000) in a tree of managers with about 7 reports each, and
26 weeks (plus the 5-week horizon) of realistic meetings: weekly or biweekly 1:1s of every pair
(some cancelled, declined or moved), monthly skip-levels, weekly team meetings, ad-hoc meetings
among peers, and out-of-office days. The Google stand-in serves it from a separate process (so
its work does not compete with the sync for this process's GIL) with a fixed latency per request
(default 50 ms). The real connector then syncs every mailbox into a fresh SQLite database.

Prints, for the full sync and for an incremental sync with nothing changed: wall time, requests
per mailbox (API calls and token requests apart), and the ideal wall time
``requests x latency / concurrency``. Targets: the incremental sync makes one API request per
mailbox; the full sync's wall time is within 1.5x of its ideal.

Usage: ``python benchmarks/bench_google_sync.py [--people N] [--latency S] [--concurrency C]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from cadence.config import parse_config
from cadence.jobs.sync import SyncSummary, run_sync
from cadence.sandbox.google import GoogleStandIn
from cadence.sandbox.world import Guest, ManualClock, Recurrence, World
from cadence.store.database import make_engine, upgrade
from cadence.store.models import Person

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
WEEK = timedelta(days=7)
DAYS = ("MO", "TU", "WE", "TH", "FR")


def build_company(people: int, seed: int = 7) -> World:
    """A tree of managers (about 7 reports each) and half a year of their meetings."""
    rng = random.Random(seed)
    world = World(ManualClock(NOW))
    emails = [f"p{i:05d}@acme.test" for i in range(people)]
    managers: dict[str, str | None] = {emails[0]: None}
    for i, email in enumerate(emails[1:], start=1):
        managers[email] = emails[(i - 1) // 7]
    for email in emails:
        world.add_person(email, f"Person {email[1:6]}", managers[email])
    reports: dict[str, list[str]] = {}
    for email, manager in managers.items():
        if manager:
            reports.setdefault(manager, []).append(email)
    first = NOW - 27 * WEEK
    created = first - WEEK

    def weekday_start(week0: datetime, day: int, hour: int) -> datetime:
        monday = week0 - timedelta(days=week0.weekday())
        return monday.replace(hour=hour, minute=0) + timedelta(days=day)

    n = 0
    for manager, team in reports.items():
        for report in team:
            n += 1
            interval = rng.choice((1, 1, 1, 2))
            day = rng.randrange(5)
            start = weekday_start(first, day, rng.randrange(9, 17))
            uid = f"one-on-one-{n}@acme.test"
            world.add_series(
                uid,
                manager,
                [report],
                start,
                timedelta(minutes=rng.choice((30, 30, 45))),
                Recurrence("WEEKLY", interval=interval, byday=(DAYS[day],)),
                at=created,
            )
            occurrences = world.series[uid].original_starts(first, NOW)
            for t in rng.sample(occurrences, k=min(len(occurrences), rng.randrange(0, 5))):
                what = rng.random()
                at = t - timedelta(hours=rng.choice((2, 20, 72)))
                if what < 0.5:
                    world.cancel_instance(uid, t, at=at)
                elif what < 0.75:
                    world.decline(uid, report, t, at=at)
                else:
                    world.move_instance(uid, t, t + timedelta(days=1), at=at)
            grand = managers.get(manager)
            if grand and rng.random() < 0.5:
                world.add_series(
                    f"skip-{n}@acme.test",
                    grand,
                    [report],
                    weekday_start(first, rng.randrange(5), 15),
                    timedelta(minutes=30),
                    Recurrence("MONTHLY"),
                    at=created,
                )
        world.add_series(
            f"team-{manager}",
            manager,
            [*team, Guest("room@resource.calendar.google.com", "accepted", resource=True)],
            weekday_start(first, 0, 9),
            timedelta(hours=1),
            Recurrence("WEEKLY", byday=("MO",)),
            at=created,
        )
    for email in emails:
        peers = reports.get(managers[email] or "", [])
        for k in range(14):  # an ad-hoc meeting every other week, with two or three peers
            n += 1
            guests = rng.sample(peers, k=min(len(peers), rng.randrange(2, 4)))
            start = weekday_start(first + 2 * k * WEEK, rng.randrange(5), rng.randrange(9, 17))
            world.add_one_off(
                f"adhoc-{n}@acme.test",
                email,
                [g for g in guests if g != email],
                start,
                timedelta(minutes=rng.choice((30, 60))),
                at=created,
            )
        for _ in range(rng.randrange(0, 4)):
            n += 1
            day = NOW - timedelta(days=rng.randrange(0, 180))
            world.add_one_off(
                f"ooo-{n}@acme.test",
                email,
                [],
                day.replace(hour=0),
                timedelta(days=1),
                all_day=True,
                event_type="outOfOffice",
                at=created,
            )
    return world


def serve(conn: Connection, people: int, latency: float, key: str) -> None:
    """The stand-in's process: build the world, serve it, answer the parent's questions."""
    world = build_company(people)
    with GoogleStandIn(world, latency=latency) as stand_in:
        stand_in.write_key(Path(key))
        conn.send((stand_in.url, stand_in.calendar_endpoint, sorted(world.people)))
        while True:
            command = conn.recv()
            if command == "counts":
                conn.send(dict(stand_in.by_kind))
                stand_in.reset_counts()
            elif command == "stop":
                return


def cpu_seconds() -> float:
    """CPU time of this process (the sync, not the stand-in), all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def report(
    label: str,
    summary: SyncSummary,
    counts: dict[str, Any],
    latency: float,
    concurrency: int,
    cpu: float,
) -> None:
    mailboxes = len(summary.results)
    api = sum(v for k, v in counts.items() if k != "token")
    total = api + counts.get("token", 0)
    ideal = total * latency / concurrency
    print(
        f"{label}: {summary.seconds:.1f} s wall for {mailboxes} mailboxes "
        f"({len(summary.failed)} failed); {api / mailboxes:.2f} API requests per mailbox "
        f"(events.list {counts.get('events.list', 0)}, events.get {counts.get('events.get', 0)}) "
        f"+ {counts.get('token', 0) / mailboxes:.2f} token requests; "
        f"ideal {ideal:.1f} s (requests x {latency * 1000:.0f} ms / {concurrency}); "
        f"ratio {summary.seconds / ideal:.2f}; {summary.events_saved} events saved; "
        f"sync process CPU {cpu:.1f} s; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "sa.json"
        parent, child = mp.Pipe()
        started = time.monotonic()
        proc = mp.get_context("spawn").Process(
            target=serve, args=(child, args.people, args.latency, str(key))
        )
        proc.start()
        url, endpoint, emails = parent.recv()
        print(
            f"stand-in up at {url} with {args.people} people in {time.monotonic() - started:.1f} s"
        )
        db = f"sqlite:///{tmp}/cadence.db"
        engine = make_engine(db)
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(Person.__table__.insert(), [{"email": e, "name": e} for e in emails])
        config = parse_config(
            {
                "database": {"url": db},
                "sync": {"concurrency": args.concurrency},
                "sources": {
                    "acme": {
                        "kind": "google",
                        "service_account_file": str(key),
                        "api_endpoint": endpoint,
                    }
                },
            },
            Path(tmp) / "cadence.toml",
        )
        try:
            parent.send("counts")
            parent.recv()
            cpu = cpu_seconds()
            full = run_sync(config, engine, now=lambda: NOW)
            parent.send("counts")
            spent, cpu = cpu_seconds() - cpu, cpu_seconds()
            report("full sync", full, parent.recv(), args.latency, args.concurrency, spent)
            incremental = run_sync(config, engine, now=lambda: NOW + timedelta(hours=1))
            parent.send("counts")
            spent = cpu_seconds() - cpu
            report(
                "no-change incremental",
                incremental,
                parent.recv(),
                args.latency,
                args.concurrency,
                spent,
            )
        finally:
            parent.send("stop")
            proc.join()
            engine.dispose()


if __name__ == "__main__":
    main()
