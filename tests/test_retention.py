"""``[store] retention_days`` on SQLite and PostgreSQL: the nightly's last step deletes every event
that started before the edge, with its attendees, keeps everything a report inside the window
needs (a series that began long ago included), lets a sync write between its batches, and a
report or a web week that would need the deleted data is refused instead of showing zeros."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from cadence.config import Config, parse_config
from cadence.errors import StoreError, UsageError
from cadence.jobs.export import export_parquet
from cadence.jobs.figures import compute
from cadence.jobs.retention import delete_old_events, retention_edge
from cadence.jobs.sync import in_shard
from cadence.normalised import Attendee, Event
from cadence.pipeline.views import manager_view
from cadence.sandbox.demo import GOOGLE
from cadence.store.database import make_engine
from cadence.store.retention import Batch, delete_before
from cadence.store.sync_state import save_page
from cadence.store.upsert import ATTENDEES, EVENTS
from cadence.web.pages import WeekFigures
from live_company import Live, start
from pipeline.builders import Meeting, add_people, changed, save, store, weekly

# Relative to the real clock: the report jobs refuse against today's retention edge, so fixed
# dates would turn into refusals as the calendar moves on.
_today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
NOW = _today - timedelta(days=_today.weekday())  # this week's Monday, noon
DAYS = 400
EDGE = NOW - timedelta(days=DAYS)
MGR, REP, ANN, BOSS = "mia@acme.test", "rob@acme.test", "ann@acme.test", "dana@acme.test"


def config(days: int = DAYS) -> Config:
    return parse_config({"store": {"retention_days": days}})


def _rows(
    engine: Engine,
) -> tuple[list[tuple[str, str, str, datetime | None, datetime | None]], set[tuple[str, str, str]]]:
    """Every event copy (key, start, original start) and the keys the attendee rows name."""
    e, a = EVENTS.c, ATTENDEES.c
    with engine.connect() as conn:
        events = [
            (r.source, r.mailbox, r.event_id, r.start, r.original_start)
            for r in conn.execute(
                select(e.source, e.mailbox, e.event_id, e.start, e.original_start)
            )
        ]
        attendees = {tuple(r) for r in conn.execute(select(a.source, a.mailbox, a.event_id))}
    return events, attendees  # type: ignore[return-value]


def _old(start: datetime | None, original: datetime | None) -> bool:
    """Before the edge by every time the copy knows (and it knows one)."""
    known = [t for t in (start, original) if t is not None]
    return bool(known) and all(t < EDGE for t in known)


def _company(engine: Engine) -> None:
    """Two years of a weekly 1:1 (a few cancelled), one-offs either side of the edge, a one-off
    moved from before the edge into the window, a sparse cancelled copy known only by its
    original start, and a copy that knows no time at all."""
    add_people(
        engine, [(BOSS, "Dana", None), (MGR, "Mia", BOSS), (REP, "Rob", MGR), (ANN, "Ann", MGR)]
    )
    first = NOW - timedelta(weeks=104)
    series = weekly("w", first, 108)
    series = [changed(m, status="cancelled") if i % 9 == 4 else m for i, m in enumerate(series)]
    store(engine, series)
    one_offs = [
        Meeting("old-1", EDGE - timedelta(days=30), people=(MGR, ANN)),
        Meeting("new-1", EDGE + timedelta(days=30), people=(MGR, ANN)),
        Meeting("ann-recent", NOW - timedelta(days=40), people=(MGR, ANN)),
    ]
    store(engine, one_offs)
    moved = Meeting("moved", EDGE - timedelta(days=10), people=(MGR, ANN))
    store(engine, [moved])
    store(
        engine,
        [changed(moved, start=NOW - timedelta(days=14))],
        seen_at=NOW - timedelta(days=20),
        first_sync=False,
    )
    sparse = Event(
        source="g",
        mailbox=MGR,
        event_id="w_sparse",
        status="cancelled",
        series_id="w",
        ical_uid="w",
        original_start=EDGE - timedelta(days=3),
    )
    timeless = Event(source="g", mailbox=MGR, event_id="timeless", status="cancelled")
    save(engine, [sparse, timeless], NOW - timedelta(days=300), first_sync=True)


def test_retention_deletes_what_started_before_the_edge_and_keeps_the_figures(
    engine: Engine,
) -> None:
    _company(engine)
    events, attendees = _rows(engine)
    old = {row[:3] for row in events if _old(row[3], row[4])}
    kept = {row[:3] for row in events} - old
    assert len(old) > 90 and ("g", MGR, "timeless") in kept and ("g", MGR, "moved") in kept
    old_attendee_rows = _attendee_count(engine, old)
    before = compute(engine, config(), NOW)

    deleted = delete_old_events(config(), engine, NOW)

    assert (deleted.events, deleted.attendees) == (len(old), old_attendee_rows)
    events, attendees = _rows(engine)
    assert {row[:3] for row in events} == kept
    assert not [row for row in events if _old(row[3], row[4])]
    assert not attendees & old, "no attendee row of a deleted event is left"
    assert attendees <= kept, "every attendee row still has its event"
    # The one-off moved into the window keeps its first planned start: it still counts as moved.
    moved = [row for row in events if row[:3] == ("g", MGR, "moved")]
    assert moved[0][4] is not None and moved[0][4] < EDGE

    after = compute(engine, config(), NOW)
    assert manager_view(after, MGR) == manager_view(before, MGR)
    columns = ["scheduled", "held", "missed", "last_held", "intended_cadence_days", "status"]
    assert after.pairs[columns].equals(before.pairs[columns])
    # The series began two years ago, long before the edge: it is still the pair's cadence.
    rob = after.pairs[after.pairs["report"] == REP].iloc[0]
    assert rob["intended_cadence_days"] == 7 and rob["held"] > 0

    again = delete_old_events(config(), engine, NOW)
    assert (again.events, again.attendees) == (0, 0)


def _attendee_count(engine: Engine, keys: set[tuple[str, str, str]]) -> int:
    a = ATTENDEES.c
    with engine.connect() as conn:
        rows = conn.execute(select(a.source, a.mailbox, a.event_id)).all()
    return sum(tuple(r) in keys for r in rows)


def test_retention_off_keeps_everything(engine: Engine) -> None:
    _company(engine)
    events, _ = _rows(engine)
    deleted = delete_old_events(config(0), engine, NOW)
    assert (deleted.events, deleted.attendees) == (0, 0)
    assert len(_rows(engine)[0]) == len(events)
    assert retention_edge(config(0), NOW) is None


def test_a_report_that_needs_deleted_data_says_so(engine: Engine) -> None:
    _company(engine)
    # Before anything was deleted, any time the store holds is answered, however old.
    assert compute(engine, config(), NOW - timedelta(days=300)) is not None
    delete_old_events(config(), engine, NOW)
    # 12 weeks of window, 26 of trend and the week before: 150 days back reaches 339 days.
    compute(engine, config(), NOW - timedelta(days=150))
    as_of = NOW - timedelta(days=300)
    with pytest.raises(UsageError) as refused:
        compute(engine, config(), as_of)
    message = str(refused.value)
    assert message.startswith(f"the figures at as-of {as_of.isoformat()} need 1:1s from ")
    assert f" on, but events before {EDGE.date().isoformat()} were deleted " in message
    assert message.endswith(f"([store] retention_days = {DAYS})")
    # The data is gone whatever the configuration says now.
    with pytest.raises(UsageError):
        compute(engine, config(0), as_of)


def test_an_export_that_needs_deleted_data_says_so(engine: Engine, tmp_path: Path) -> None:
    _company(engine)
    delete_old_events(config(), engine, NOW)
    out = tmp_path / "export"
    # Ten weeks back from 150 days ago stay inside what is kept; a year back does not.
    export_parquet(engine, config(), out, NOW - timedelta(days=150), weeks=10)
    with pytest.raises(UsageError, match=r"events before .* were deleted"):
        export_parquet(engine, config(), tmp_path / "old", NOW, weeks=52)
    assert not (tmp_path / "old").exists()


def test_the_web_app_offers_no_week_that_needs_deleted_data(engine: Engine) -> None:
    _company(engine)
    window = (NOW - timedelta(days=600), NOW + timedelta(days=35))
    save_page(engine, "g", MGR, [], seen_at=NOW, first_sync=True, token="t", window=window)
    everything = WeekFigures(engine, config(), now=lambda: NOW).weeks()
    delete_old_events(config(), engine, NOW)
    weeks = WeekFigures(engine, config(), now=lambda: NOW)
    offered = weeks.weeks()
    assert offered[-1] == weeks.current()
    oldest = offered[0]
    # The oldest week's figures (window, trend and the week before) start after the edge...
    assert weeks.as_of(oldest) - timedelta(weeks=26 + 1) >= EDGE - timedelta(days=7)
    assert weeks.answerable(oldest)
    earlier = everything[: everything.index(oldest)]
    # ...and every week before it, which the store could answer without retention, is gone.
    assert earlier and not any(weeks.answerable(w) for w in earlier)
    assert weeks.view_json(earlier[-1], "manager", MGR) is None


def _old_one_offs(count: int) -> list[Event]:
    """``count`` one-offs of Mia's and Rob's over the 30 days before the edge."""
    return [
        Event(
            source="g",
            mailbox=MGR if i % 2 else REP,
            event_id=f"old-{i}",
            status="confirmed",
            ical_uid=f"old-{i}",
            start=(when := EDGE - timedelta(days=1 + i % 30, minutes=i)),
            end=when + timedelta(minutes=30),
            organizer=MGR,
            attendees=(Attendee(MGR, "accepted", is_organizer=True), Attendee(REP, "accepted")),
        )
        for i in range(count)
    ]


def test_a_sync_writes_between_the_batches(db_url: str) -> None:
    """Each batch is its own short transaction: a sync saving pages meanwhile gets the database
    between two batches (on SQLite the one writer lock) rather than waiting for the whole run."""
    engine, sync = make_engine(db_url), make_engine(db_url)
    try:
        save_page(engine, "g", MGR, _old_one_offs(600), seen_at=NOW, first_sync=True)
        pages = 0
        saved = threading.Condition()
        stop = threading.Event()
        failed: list[BaseException] = []

        def syncing() -> None:
            nonlocal pages
            try:
                n = 0
                while not stop.is_set():
                    page = [
                        Event(
                            source="g",
                            mailbox=MGR,
                            event_id=f"new-{n}-{i}",
                            status="confirmed",
                            start=NOW - timedelta(days=1, minutes=i),
                            end=NOW - timedelta(days=1, minutes=i - 30),
                            attendees=(Attendee(MGR, "accepted"), Attendee(REP, "accepted")),
                        )
                        for i in range(50)
                    ]
                    save_page(sync, "g", MGR, page, seen_at=NOW, first_sync=False)
                    n += 1
                    with saved:
                        pages += 1
                        saved.notify_all()
            except BaseException as exc:
                failed.append(exc)

        writer = threading.Thread(target=syncing)
        writer.start()
        interleaved: list[bool] = []

        def between(batch: Batch) -> None:
            # The batch has committed: the sync must now get a page in before the next one.
            with saved:
                seen = pages
                interleaved.append(saved.wait_for(lambda: pages > seen, timeout=20))

        try:
            deleted = delete_before(engine, EDGE, batch_events=100, on_batch=between)
        finally:
            stop.set()
            writer.join(timeout=60)
        assert not failed, failed
        assert deleted.events == 600 and deleted.attendees == 1200
        assert len(interleaved) == 30 and all(interleaved), "a day a batch, the sync between"

        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(EVENTS)).scalar_one()
        assert stored == pages * 50, "every page the sync saved is kept"
    finally:
        engine.dispose()
        sync.dispose()


def test_a_writer_holding_sqlite_past_the_timeout_fails_the_step_in_one_line(
    sqlite_url: str,
) -> None:
    """The retention waits for the write lock as long as any SQLite writer does (the URL's
    timeout), then fails as a held database fails any command, and deletes nothing."""
    engine = make_engine(sqlite_url + "?timeout=0.5")
    save(engine, _old_one_offs(10), NOW, first_sync=True)
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="another writer holds it"):
            delete_before(engine, EDGE)
    finally:
        holder.rollback()
        holder.close()
    with engine.connect() as conn, engine.connect() as other:
        assert conn.execute(select(func.count()).select_from(EVENTS)).scalar_one() == 10
        # Both pooled connections (the retention's read's and its batches') keep their own
        # checkpointing: the retention turns it off only while it runs.
        for c in (conn, other):
            assert c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 10_000
    assert delete_before(engine, EDGE).events == 10
    engine.dispose()


def test_a_sharded_nightly_deletes_its_own_mailboxes_only(engine: Engine) -> None:
    events = [
        Event(
            source="g",
            mailbox=f"p{i}@acme.test",
            event_id=f"old-{i}",
            status="confirmed",
            start=EDGE - timedelta(days=2),
            end=EDGE - timedelta(days=2) + timedelta(minutes=30),
        )
        for i in range(40)
    ]
    save(engine, events, NOW, first_sync=True)
    mine = {e.mailbox for e in events if in_shard(e.mailbox, (1, 3))}
    deleted = delete_old_events(config(), engine, NOW, shard=(1, 3))
    assert deleted.events == len(mine) > 0
    left = {row[1] for row in _rows(engine)[0]}
    assert left == {e.mailbox for e in events} - mine


@pytest.fixture
def live(tmp_path: Path, sqlite_url: str) -> Iterator[Live]:
    yield from start(tmp_path, sqlite_url)


def test_the_nightly_ends_by_deleting_old_events_and_says_how_many(live: Live) -> None:
    engine = make_engine(live.database_url)
    old = datetime.now(UTC) - timedelta(days=DAYS + 30)
    mailbox = live.company.people[0].email
    events = [
        Event(
            source=GOOGLE,
            mailbox=mailbox,
            event_id=f"ancient-{i}",
            status="confirmed",
            start=old + timedelta(hours=i),
            end=old + timedelta(hours=i, minutes=30),
            attendees=(Attendee(mailbox, "accepted"),),
        )
        for i in range(7)
    ]
    save(engine, events, old, first_sync=True)
    result = live.cadence("nightly")
    assert result.returncode == 0, result.stderr
    assert "7 events past retention deleted" in result.stderr
    status = json.loads(live.cadence("status", "--json").stdout)
    assert status["last_run"]["summary"]["events_deleted"] == 7
    e = EVENTS.c
    with engine.connect() as conn:
        left = conn.execute(select(func.count()).where(e.event_id.like("ancient-%"))).scalar_one()
    engine.dispose()
    assert left == 0
