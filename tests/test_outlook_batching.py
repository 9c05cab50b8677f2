"""Graph's no-change night: every mailbox's first delta call read ahead, 20 to a ``$batch``.

A company of a couple of hundred mailboxes on the Graph stand-in (real msal, real requests, over
TLS), synced once in full; then the night that matters: nothing, or almost nothing, changed. What
a user would notice is counted at the stand-in: how many HTTP requests reach Graph, how many
``$batch`` requests carry the parts, and what the store holds afterwards. The stand-in allows one
request at a time per mailbox here (Graph allows 4), so any two requests for one mailbox in
flight at once would show as a throttled answer and a recorded wait.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from cadence.config import Config
from cadence.connectors.outlook import OutlookConnector
from cadence.sandbox.graph import GraphStandIn
from cadence.sandbox.tls import TLSFiles
from cadence.sandbox.world import Recurrence, World
from cadence.store.database import make_engine
from cadence.store.models import SyncState
from cadence.store.people import replace_chart
from outlook_support import NOW, Clock, Harness, chart, harness

pytestmark = pytest.mark.usefixtures("graph_secret")

PEOPLE = 200
PAGE = 5  # events per delta page where a test needs a round of several pages
SIGN_IN = ("openid", "token")


def emails(n: int = PEOPLE) -> list[str]:
    return [f"p{i:03d}@acme.test" for i in range(n)]


def company(n: int = PEOPLE) -> World:
    """``n`` people, about 7 reports a manager, each report with a meeting with their manager."""
    world = World(clock=Clock())
    people = emails(n)
    for i, email in enumerate(people):
        world.add_person(email, email, people[(i - 1) // 7] if i else None, side="outlook")
    for i, email in enumerate(people[1:], start=1):
        world.add_one_off(
            f"meet-{i}",
            people[(i - 1) // 7],
            [email],
            NOW + timedelta(days=1 + i % 20, hours=i % 8),
            timedelta(minutes=30),
            at=NOW - timedelta(days=30),
        )
    return world


@pytest.fixture
def night(sqlite_url: str, tls: TLSFiles) -> Iterator[Harness]:
    """The company after its first (full) sync, an hour before the night under test."""
    engine = make_engine(sqlite_url)
    with harness(engine, sqlite_url, company(), tls) as h:
        h.graph.mailbox_concurrency = 1
        assert not h.sync().failed
        _next_night(h)
        yield h
    engine.dispose()


def _next_night(h: Harness) -> None:
    h.clock.now += timedelta(hours=1)
    h.graph.reset_counts()
    h.graph.batch_parts = 0
    h.sleeps.waits.clear()


def graph_requests(graph: GraphStandIn) -> int:
    """HTTP requests Graph received (a ``$batch`` is one), sign-in apart."""
    return graph.http_requests - sum(graph.by_kind[k] for k in SIGN_IN)


def tokens(h: Harness) -> dict[str, Any]:
    with h.engine.connect() as conn:
        rows = conn.execute(select(SyncState.__table__)).mappings()
        return {r["mailbox"]: (r["token"], r["window_start"]) for r in rows}


def unseen(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without the times a sync saw them (a full round sees its events again)."""
    return [{k: v for k, v in r.items() if k not in ("first_seen", "last_seen")} for r in rows]


def with_workers(config: Config, workers: int) -> Config:
    return replace(config, sync=replace(config.sync, concurrency=workers))


def small_pages(h: Harness) -> None:
    """Delta pages of ``PAGE`` events, so a round with a few changes has several pages."""
    original = h.connect

    def connect(config: Config, name: str) -> OutlookConnector:
        c = original(config, name)
        c.prefer = f'outlook.timezone="UTC", odata.maxpagesize={PAGE}'
        return c

    h.connect = connect  # type: ignore[method-assign]


def add_daily_series(h: Harness, mailbox: str, uid: str, days: int) -> list[datetime]:
    """A daily series ``mailbox`` organises alone (no one else's calendar changes); the original
    starts the stand-in shows in the window of the mailbox's saved delta link."""
    start = NOW + timedelta(days=2, hours=7)
    s = h.world.add_series(
        uid, mailbox, [], start, timedelta(minutes=15), Recurrence("DAILY", count=days), at=NOW
    )
    with h.engine.connect() as conn:
        state = conn.execute(
            select(SyncState.window_start, SyncState.window_end).where(SyncState.mailbox == mailbox)
        ).one()
    return s.original_starts(state.window_start, state.window_end)


@pytest.mark.parametrize("workers", [1, 8])
def test_a_no_change_night_sends_full_batches_of_twenty(night: Harness, workers: int) -> None:
    night.config = with_workers(night.config, workers)
    rows, before = night.rows(), tokens(night)
    summary = night.sync()
    assert not summary.failed and summary.events_saved == 0
    batches = math.ceil(PEOPLE / 20)
    # Whatever the number of workers: one HTTP request per 20 mailboxes, each a full $batch,
    # each mailbox's delta link in one of them, and nothing asked twice.
    assert graph_requests(night.graph) == batches == night.graph.by_kind["batch"]
    assert night.graph.by_kind["delta"] == PEOPLE
    assert summary.requests == batches  # what the run log and `cadence status` count
    assert night.sleeps.waits == []  # never two requests in flight for one mailbox
    after = tokens(night)
    assert all(after[m][0] != before[m][0] for m in before)  # each saved its new delta link
    assert night.rows() == rows


def test_a_night_with_new_mailboxes_still_fills_every_batch(night: Harness) -> None:
    """Mailboxes without a delta link (new to the chart) do their full round on their own; the
    others, around them in the workers' order, still travel 20 to a batch."""
    newcomers = [f"p{i:03d}a@acme.test" for i in range(0, PEOPLE, 15)]
    for email in newcomers:
        night.world.add_person(email, email, "p000@acme.test", side="outlook")
    replace_chart(night.engine, chart(night.world))
    summary = night.sync()
    assert not summary.failed
    assert night.graph.by_kind["batch"] == math.ceil(PEOPLE / 20)
    direct = graph_requests(night.graph) - night.graph.by_kind["batch"]
    assert direct == len(newcomers)  # one full round each (an empty calendar: one page)
    assert all(tokens(night)[m][0] for m in newcomers)


def test_throttled_failed_and_expired_parts_are_retried_alone(night: Harness) -> None:
    people = emails()
    throttled, failing, expired = people[3], people[77], people[150]
    busy = {"error": {"code": "ApplicationThrottled", "message": "too many"}}
    night.graph.fault(kind="delta", mailbox=throttled, status=429, retry_after="5", body=busy)
    night.graph.fault(kind="delta", mailbox=failing, status=503, retry_after="2", body=None)
    night.graph.expire_delta_links(expired)
    rows, before = night.rows(), tokens(night)
    summary = night.sync()
    assert not summary.failed
    # Only the expired mailbox's full round lists its events again; nothing changes in store.
    assert {r.mailbox: r.events for r in summary.results if r.events} == {
        expired: len(night.rows(expired))
    }
    assert sorted(night.sleeps.waits) == [2.0, 5.0]  # each part's own Retry-After
    assert night.graph.by_kind["batch"] == math.ceil(PEOPLE / 20)
    # The throttled and the failed part again, alone; the expired one's full round (one page).
    assert graph_requests(night.graph) == night.graph.by_kind["batch"] + 3
    after = tokens(night)
    assert after[expired][1] == night.clock.now - timedelta(days=180)  # a new window
    assert all(after[m][1] == before[m][1] for m in people if m != expired)
    assert all(after[m][0] != before[m][0] for m in people)
    assert unseen(night.rows()) == unseen(rows)


def test_a_mailbox_with_changes_follows_its_further_pages(night: Harness) -> None:
    small_pages(night)
    changed = emails()[42]
    starts = add_daily_series(night, changed, "daily-standup", days=17)
    rows = [r for r in night.rows() if r["mailbox"] != changed]
    summary = night.sync()
    assert not summary.failed
    mine = [r for r in night.rows(changed) if r["ical_uid"] == "daily-standup"]
    assert sorted(r["original_start"] for r in mine) == starts
    assert summary.events_saved == len(starts)
    assert [r for r in night.rows() if r["mailbox"] != changed] == rows
    pages = math.ceil(len(starts) / PAGE)
    # The first page came in a batch; the rest follow by nextLink, with the series' master.
    assert night.graph.by_kind["batch"] == math.ceil(PEOPLE / 20)
    assert night.graph.by_kind["event"] == 1
    assert graph_requests(night.graph) == night.graph.by_kind["batch"] + (pages - 1) + 1
    assert night.sleeps.waits == []


def test_a_round_cut_after_its_batched_page_keeps_its_old_token(night: Harness) -> None:
    """The first page came in a batch and was stored; the next one fails: the delta link the
    batch answered is not saved, so the next night replays the round from the old one."""
    small_pages(night)
    changed = emails()[42]
    starts = add_daily_series(night, changed, "daily-standup", days=17)
    old = tokens(night)[changed]
    # Its batch part passes; every page after it is dropped.
    night.graph.fault(kind="delta", mailbox=changed, action="drop", skip=1, times=None)
    summary = night.sync()
    assert [r.mailbox for r in summary.failed] == [changed]
    assert tokens(night)[changed] == old
    assert (
        0 < len([r for r in night.rows(changed) if r["ical_uid"] == "daily-standup"]) < len(starts)
    )
    night.graph.clear_faults()
    _next_night(night)
    assert not night.sync().failed
    mine = [r for r in night.rows(changed) if r["ical_uid"] == "daily-standup"]
    assert sorted(r["original_start"] for r in mine) == starts
    assert tokens(night)[changed] != old


def test_a_no_change_night_on_both_databases(engine: Engine, db_url: str, tls: TLSFiles) -> None:
    n = 60
    with harness(engine, db_url, company(n), tls) as h:
        assert not h.sync().failed
        _next_night(h)
        summary = h.sync()
        assert not summary.failed and summary.events_saved == 0
        assert graph_requests(h.graph) == h.graph.by_kind["batch"] == math.ceil(n / 20)
