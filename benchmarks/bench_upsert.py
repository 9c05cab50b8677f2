"""How fast the store upserts events: rows per second on SQLite and on PostgreSQL.

Builds N normalised events (default 1,000,000) with two attendees each, spread over many
mailboxes, and saves them as a sync would: page by page through ``save_page``, the last page of
each mailbox with its token. It loads them into a fresh SQLite file and into a fresh PostgreSQL
database (created here and dropped at the end), then saves the same events again a day later
(the nightly re-sync that finds everything already stored), and prints event rows per second
for both loads. The target is at least 50,000 event rows per second on both backends.

Usage: ``python benchmarks/bench_upsert.py [--events N] [--mailboxes M] [--page P]
[--writers 1 4]``: each load runs with one writer, then with several threads each saving its
own mailboxes, as a sync's concurrent workers do.
PostgreSQL is reached at ``$CADENCE_TEST_POSTGRES_URL`` (default: the local server, database
``test``, used only to create and drop the benchmark's own database); it is skipped with a
message when no server answers.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from cadence.normalised import Attendee, Event
from cadence.store.database import make_engine, upgrade
from cadence.store.models import Attendee as AttendeeRow
from cadence.store.models import Event as EventRow
from cadence.store.sync_state import save_page

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SOURCE = "google"
WEEKLY = "RRULE:FREQ=WEEKLY;BYDAY=TU"


def build_events(n: int, mailboxes: int) -> dict[str, list[Event]]:
    """``n`` events by mailbox: a third weekly series occurrences, a tenth cancelled."""
    base = datetime(2026, 1, 5, 9, tzinfo=UTC)
    by_mailbox: dict[str, list[Event]] = {f"user{m}@example.com": [] for m in range(mailboxes)}
    names = list(by_mailbox)
    for i in range(n):
        mailbox = names[i % mailboxes]
        peer = f"peer{i % 997}@example.com"
        start = base + timedelta(minutes=30 * (i // mailboxes))
        series = i % 3 == 0
        by_mailbox[mailbox].append(
            Event(
                source=SOURCE,
                mailbox=mailbox,
                event_id=f"{uuid.UUID(int=i).hex}_{i}",
                status="cancelled" if i % 10 == 0 else "confirmed",
                ical_uid=f"{uuid.UUID(int=i % 50_000 if series else i).hex}@google.com",
                series_id=f"s{i % 50_000}" if series else None,
                original_start=start,
                start=start,
                end=start + timedelta(minutes=30),
                all_day=False,
                event_type="default",
                organizer=mailbox,
                recurrence=WEEKLY if series else None,
                updated=start - timedelta(days=3),
                attendees=(
                    Attendee(mailbox, "accepted", is_organizer=True),
                    Attendee(
                        peer,
                        "declined" if i % 7 == 0 else "accepted",
                        response_at=start - timedelta(days=1),
                    ),
                ),
            )
        )
    return by_mailbox


def load(
    engine: Engine,
    by_mailbox: dict[str, list[Event]],
    page: int,
    seen_at: datetime,
    first_sync: bool,
    writers: int = 1,
) -> float:
    """Save every mailbox page by page, the token with its last page, with ``writers`` threads
    each saving its own mailboxes (as a sync's workers do); returns the seconds."""
    started = time.perf_counter()
    mailboxes = list(by_mailbox.items())
    shares = [dict(mailboxes[w::writers]) for w in range(writers)]
    with ThreadPoolExecutor(max_workers=writers) as pool:
        for done in [
            pool.submit(_save_all, engine, share, page, seen_at, first_sync) for share in shares
        ]:
            done.result()
    return time.perf_counter() - started


def _save_all(
    engine: Engine,
    by_mailbox: dict[str, list[Event]],
    page: int,
    seen_at: datetime,
    first_sync: bool,
) -> None:
    for mailbox, events in by_mailbox.items():
        pages: Sequence[Sequence[Event]] = [
            events[i : i + page] for i in range(0, len(events), page)
        ] or [[]]
        for number, chunk in enumerate(pages, 1):
            last = number == len(pages)
            save_page(
                engine,
                SOURCE,
                mailbox,
                chunk,
                seen_at=seen_at,
                first_sync=first_sync,
                token=f"token-{mailbox}" if last else None,
                window=(seen_at - timedelta(days=365), seen_at + timedelta(days=180))
                if last
                else None,
            )


def run(
    name: str, url: str, by_mailbox: dict[str, list[Event]], page: int, n: int, writers: int
) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
        day = datetime(2026, 11, 1, 2, tzinfo=UTC)
        first = load(engine, by_mailbox, page, day, True, writers)
        again = load(engine, by_mailbox, page, day + timedelta(days=1), False, writers)
        with engine.connect() as conn:
            events = conn.execute(select(func.count()).select_from(EventRow)).scalar_one()
            attendees = conn.execute(select(func.count()).select_from(AttendeeRow)).scalar_one()
        assert (events, attendees) == (n, 2 * n), (events, attendees)
        print(
            f"{name:<10} {writers} writer{'s' if writers > 1 else ' '}"
            f" first load {n / first:>10,.0f} event rows/s ({first:6.1f} s)"
            f"   re-upsert {n / again:>10,.0f} event rows/s ({again:6.1f} s)"
            f"   [{events:,} events, {attendees:,} attendees]",
            flush=True,
        )
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--mailboxes", type=int, default=200)
    parser.add_argument("--page", type=int, default=2500, help="events per page (Google's max)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--writers",
        type=int,
        nargs="+",
        default=[1, 4],
        help="concurrent writers, each saving its own mailboxes as a sync's workers do",
    )
    args = parser.parse_args()
    by_mailbox = build_events(args.events, args.mailboxes)
    print(
        f"{args.events:,} events with 2 attendees each, {args.mailboxes} mailboxes, "
        f"pages of {args.page}",
        flush=True,
    )
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            for writers in args.writers:
                path = Path(tmp) / f"bench-{writers}.db"
                run("sqlite", f"sqlite:///{path}", by_mailbox, args.page, args.events, writers)
    if args.only != "sqlite":
        admin_url = os.environ.get("CADENCE_TEST_POSTGRES_URL", DEFAULT_PG)
        try:
            admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure to reach the server means: skip it
            print(
                f"postgresql skipped: not reachable at "
                f"{make_url(admin_url).render_as_string()}: {str(exc).splitlines()[0]}"
            )
            return
        for writers in args.writers:
            name = f"cadence_bench_{uuid.uuid4().hex[:12]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
                run("postgresql", url, by_mailbox, args.page, args.events, writers)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
