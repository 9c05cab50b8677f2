"""Google sync end to end: the real google-auth and google-api-python-client talk HTTP to the
loopback stand-in, the runner saves into a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
import pytest
from google.oauth2 import service_account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from cadence.config import Config, parse_config
from cadence.connectors.directory import fetch_directory
from cadence.connectors.google import GoogleConnector
from cadence.connectors.retry import RetryPolicy
from cadence.errors import AuthError, ConfigError, InputError
from cadence.jobs.sync import SyncSummary, run_sync
from cadence.sandbox.google import GoogleStandIn, event_id, instance_id, rate_limited
from cadence.sandbox.world import Guest, ManualClock, Recurrence, World
from cadence.store.database import make_engine, upgrade
from cadence.store.models import Attendee, Event, Person, SyncState

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)  # a Wednesday
MON = datetime(2026, 11, 23, 10, tzinfo=UTC)
WEEK = timedelta(days=7)
HALF_HOUR = timedelta(minutes=30)
ANN, BOB, CAT, DAN = "ann@acme.test", "bob@acme.test", "cat@acme.test", "dan@acme.test"
ROOM = "room-1@resource.calendar.google.com"


def build_world(clock: ManualClock) -> World:
    w = World(clock)
    w.add_person(ANN, "Ann Boss")
    for p in (BOB, CAT, DAN):
        w.add_person(p, p.split("@")[0].title(), ANN)
    created = NOW - 30 * WEEK
    # Weekly 1:1s ann-bob (with a room), biweekly ann-cat, a team meeting, and a few others.
    w.add_series(
        "ann-bob@acme.test",
        ANN,
        [BOB, Guest(ROOM, "accepted", resource=True)],
        MON - 20 * WEEK,
        HALF_HOUR,
        Recurrence("WEEKLY", byday=("MO",)),
        at=created,
    )
    w.add_series(
        "ann-cat@acme.test",
        CAT,
        [ANN],
        MON - 20 * WEEK + timedelta(days=1),
        HALF_HOUR,
        Recurrence("WEEKLY", interval=2, byday=("TU",)),
        at=created,
    )
    w.add_series(
        "team@acme.test",
        ANN,
        [BOB, CAT, DAN],
        MON - 10 * WEEK + timedelta(days=3),
        timedelta(hours=1),
        Recurrence("WEEKLY", byday=("TH",), count=20),
        at=created,
    )
    w.add_one_off(
        "ooo@acme.test",
        BOB,
        [],
        MON + timedelta(days=2),
        timedelta(days=1),
        all_day=True,
        event_type="outOfOffice",
        at=created,
    )
    w.add_one_off(
        "ann-dan@acme.test", DAN, [ANN], MON - WEEK + timedelta(hours=5), HALF_HOUR, at=created
    )
    # An instance cancelled before the first sync: its time is unknowable (docs/metrics.md).
    w.cancel_instance("ann-bob@acme.test", MON - 3 * WEEK, at=NOW - 5 * WEEK)
    return w


@dataclass
class Env:
    world: World
    stand_in: GoogleStandIn
    clock: ManualClock
    config: Config
    engine: Engine
    sleeps: list[float]
    tmp: Path
    timeout: float = 1.5
    page_size: int = 4  # small, so that paging is exercised

    def connector(self, config: Config, name: str, retries: int = 3) -> GoogleConnector:
        policy = RetryPolicy(max_retries=retries, sleep=self.sleeps.append)
        return GoogleConnector(
            config, config.sources[name], policy, timeout=self.timeout, page_size=self.page_size
        )

    def sync(self, retries: int = 3, **kw: Any) -> SyncSummary:
        return run_sync(
            self.config,
            self.engine,
            connect=lambda c, n: self.connector(c, n, retries),
            now=self.clock,
            **kw,
        )


def make_config(tmp: Path, stand_in: GoogleStandIn, db_url: str) -> Config:
    key = stand_in.write_key(tmp / "sa.json")
    return parse_config(
        {
            "database": {"url": db_url},
            "sources": {
                "acme": {
                    "kind": "google",
                    "service_account_file": str(key),
                    "admin_email": ANN,
                    "api_endpoint": stand_in.calendar_endpoint,
                    "directory_endpoint": stand_in.directory_endpoint,
                    "concurrency": 3,
                }
            },
        },
        tmp / "cadence.toml",
    )


def load_people(engine: Engine, world: World) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(Person),
            [
                {"email": p.email, "name": p.name, "manager_email": p.manager, "source": "acme"}
                for p in world.people.values()
            ],
        )


@pytest.fixture
def env(tmp_path: Path, engine: Engine) -> Iterator[Env]:
    clock = ManualClock(NOW)
    world = build_world(clock)
    with GoogleStandIn(world, undelegated=set()) as stand_in:
        config = make_config(tmp_path, stand_in, str(engine.url))
        load_people(engine, world)
        yield Env(world, stand_in, clock, config, engine, [], tmp_path)


def rows(engine: Engine, mailbox: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """Stored events by (mailbox, event id), each with its attendees."""
    with engine.connect() as conn:
        q = select(Event.__table__)
        if mailbox:
            q = q.where(Event.mailbox == mailbox)
        events = {(r["mailbox"], r["event_id"]): dict(r) for r in conn.execute(q).mappings()}
        for a in conn.execute(select(Attendee.__table__)).mappings():
            key = (a["mailbox"], a["event_id"])
            if key in events:
                events[key].setdefault("attendees", {})[a["email"]] = dict(a)
    return events


def states(engine: Engine) -> dict[str, SyncState]:
    with Session(engine) as session:
        return {s.mailbox: s for s in session.scalars(select(SyncState))}


def iid(uid: str, original: datetime) -> str:
    return f"{event_id(uid)}_{original.strftime('%Y%m%dT%H%M%SZ')}"


def test_first_sync_reads_every_mailbox_over_the_window(env: Env) -> None:
    summary = env.sync()
    assert not summary.failed, summary.failed
    assert [r.mailbox for r in summary.ok] == [ANN, BOB, CAT, DAN]
    window = (NOW - timedelta(days=180), NOW + timedelta(days=35))
    stored = rows(env.engine)
    for person in (ANN, BOB, CAT, DAN):
        expected = {
            instance_id(o.series, o.original_start) for o in env.world.instances(person, *window)
        }
        assert {eid for (m, eid) in stored if m == person} == expected
    bob_one_on_one = stored[(BOB, iid("ann-bob@acme.test", MON))]
    assert bob_one_on_one["ical_uid"] == "ann-bob@acme.test"
    assert bob_one_on_one["recurrence"] == "RRULE:FREQ=WEEKLY;BYDAY=MO"
    assert bob_one_on_one["organizer"] == ANN and bob_one_on_one["status"] == "confirmed"
    people = bob_one_on_one["attendees"]
    assert people[ANN]["is_organizer"] and not people[BOB]["is_organizer"]
    assert people[ROOM]["is_resource"] and not people[ANN]["is_resource"]
    # The organizer ann-cat series is cat's: she is added as organizer even if not listed.
    assert (
        stored[(ANN, iid("ann-cat@acme.test", MON - 20 * WEEK + timedelta(days=1)))]["organizer"]
        == CAT
    )
    ooo = stored[(BOB, event_id("ooo@acme.test"))]
    assert ooo["all_day"] and ooo["event_type"] == "outOfOffice" and ooo["recurrence"] is None
    # Cancelled before the first sync: sparse, filled from the series, time unknowable.
    early = stored[(BOB, iid("ann-bob@acme.test", MON - 3 * WEEK))]
    assert early["status"] == "cancelled" and early["start"] == MON - 3 * WEEK
    assert early["organizer"] == ANN and early["cancel_seen_at"] is None
    assert set(early["attendees"]) == {ANN, BOB, ROOM}
    # Every mailbox has a token, its window and the first-sync mark; paging took several pages.
    saved = states(env.engine)
    assert all(s.token and s.first_synced_at == NOW and s.outcome == "ok" for s in saved.values())
    assert saved[BOB].window_start == window[0] and saved[BOB].window_end == window[1]
    assert env.stand_in.by_kind["events.list"] > 8
    # Each series was fetched once for the whole run, whichever mailbox met it first.
    assert env.stand_in.by_kind["events.get"] == 3


def test_incremental_sync_picks_up_cancel_decline_move_and_new_series(env: Env) -> None:
    env.sync()
    env.clock.advance(timedelta(days=1))
    env.stand_in.reset_counts()
    w = env.world
    next_mon = MON + WEEK
    w.cancel_instance("ann-bob@acme.test", next_mon)
    w.decline("team@acme.test", DAN, MON + timedelta(days=3))
    moved_to = MON + 2 * WEEK + timedelta(days=1, hours=2)
    w.move_instance("ann-bob@acme.test", MON + 2 * WEEK, moved_to)
    w.add_series(
        "ann-dan-weekly@acme.test",
        ANN,
        [DAN],
        MON + timedelta(days=4),
        HALF_HOUR,
        Recurrence("WEEKLY", byday=("FR",)),
    )
    summary = env.sync()
    assert not summary.failed
    stored = rows(env.engine)
    seen = NOW + timedelta(days=1)
    for person in (ANN, BOB):
        cancelled = stored[(person, iid("ann-bob@acme.test", next_mon))]
        assert cancelled["status"] == "cancelled" and cancelled["cancel_seen_at"] == seen
        # The sparse copy kept what the first sync knew.
        assert cancelled["organizer"] == ANN and cancelled["start"] == next_mon
        assert set(cancelled["attendees"]) == {ANN, BOB, ROOM}
        moved = stored[(person, iid("ann-bob@acme.test", MON + 2 * WEEK))]
        assert moved["start"] == moved_to and moved["original_start"] == MON + 2 * WEEK
    for person in (ANN, DAN, BOB):
        team = stored[(person, iid("team@acme.test", MON + timedelta(days=3)))]
        dan = team["attendees"][DAN]
        assert dan["response"] == "declined" and dan["response_seen_at"] == seen
        assert dan["response_at"] == seen  # the copy's `updated`
    new = [k for k in stored if k[1].startswith(event_id("ann-dan-weekly@acme.test"))]
    assert {m for m, _ in new} == {ANN, DAN} and len(new) == 2 * 5  # Fridays to the window end
    assert stored[new[0]]["recurrence"] == "RRULE:FREQ=WEEKLY;BYDAY=FR"
    # Only the changes come back, 4 a page: ann 8 (2 pages), bob 3, cat 1, dan 6 (2 pages); and
    # one events.get per series that changed.
    assert env.stand_in.by_kind["events.list"] == 2 + 1 + 1 + 2
    assert env.stand_in.by_kind["events.get"] == 3


def test_no_change_incremental_makes_one_request_per_mailbox(env: Env) -> None:
    env.sync()
    env.stand_in.reset_counts()
    summary = env.sync()
    assert env.stand_in.by_kind["events.list"] == 4 and env.stand_in.by_kind["events.get"] == 0
    assert summary.events_saved == 0


def test_expired_token_gives_a_full_resync_with_the_same_rows(env: Env) -> None:
    env.sync()
    before = rows(env.engine)
    env.stand_in.expire_tokens(BOB)
    env.stand_in.reset_counts()
    summary = env.sync()
    assert not summary.failed
    after = rows(env.engine)
    assert after.keys() == before.keys()
    assert {k: v["status"] for k, v in after.items()} == {k: v["status"] for k, v in before.items()}
    assert env.stand_in.by_mailbox[BOB] > env.stand_in.by_mailbox[CAT]  # 410, then full pages
    bob = states(env.engine)[BOB]
    assert bob.token and bob.first_synced_at == NOW  # a resync is not a first sync


FAULTS = {
    "429 with Retry-After": dict(status=429, body={"error": {"code": 429}}, retry_after="7"),
    "429 without Retry-After": dict(status=429, body={"error": {"code": 429}}),
    "403 rateLimitExceeded with Retry-After": dict(
        status=403, body=rate_limited(), retry_after="2"
    ),
    "403 rateLimitExceeded without Retry-After": dict(status=403, body=rate_limited()),
    "403 userRateLimitExceeded": dict(status=403, body=rate_limited("userRateLimitExceeded")),
    "403 quotaExceeded": dict(status=403, body=rate_limited("quotaExceeded")),
    "500": dict(status=500, body={"error": {"code": 500, "message": "backend"}}),
    "503": dict(status=503, body={"error": {"code": 503, "message": "unavailable"}}),
    "dropped connection": dict(action="drop"),
    "slow answer": dict(action="slow", delay=1.2),  # past the 0.8 s timeout of this test
    "malformed body": dict(action="malformed"),
}


@pytest.mark.parametrize("name", FAULTS)
def test_every_fault_is_retried_then_reported_for_its_mailbox_alone(
    name: str, tmp_path: Path, sqlite_url: str
) -> None:
    clock = ManualClock(NOW)
    world = build_world(clock)
    engine = make_engine(sqlite_url)
    with GoogleStandIn(world) as stand_in:
        env = Env(
            world,
            stand_in,
            clock,
            make_config(tmp_path, stand_in, sqlite_url),
            engine,
            [],
            tmp_path,
            timeout=0.8,
            page_size=100,
        )
        load_people(engine, world)
        # Twice: retried, and the mailbox syncs.
        fault = stand_in.fault(kind="events.list", mailbox=BOB, times=2, **FAULTS[name])
        summary = env.sync(retries=3)
        assert not summary.failed, summary.failed
        assert fault.hits == 2
        if name == "dropped connection":  # httplib2 reconnects once at once, then we back off
            assert len(env.sleeps) == 1
            return
        if "retry_after" in FAULTS[name]:  # the server's wait, exactly
            assert env.sleeps == [float(FAULTS[name]["retry_after"])] * 2
        else:  # full jitter under doubling ceilings, 8 times longer for an abuse limit
            factor = 8 if name == "403 quotaExceeded" else 1
            assert 0 <= env.sleeps[0] <= 0.5 * factor and 0 <= env.sleeps[1] <= 1.0 * factor
        # Always: bob fails with the reason, the others finish.
        stand_in.clear_faults()
        stand_in.fault(kind="events.list", mailbox=BOB, times=None, **FAULTS[name])
        summary = env.sync(retries=1)
        assert [r.mailbox for r in summary.failed] == [BOB]
        assert "gave up after 2 attempts" in (summary.failed[0].error or "")
        assert {r.mailbox for r in summary.ok} == {ANN, CAT, DAN}
        bob = states(engine)[BOB]
        assert bob.outcome == "failed" and bob.error == summary.failed[0].error
        assert bob.token  # the first run's token and data are kept
    engine.dispose()


def test_a_run_killed_between_pages_then_rerun_equals_an_uninterrupted_run(
    env: Env, tmp_path: Path
) -> None:
    # Fail bob's listing for good after two pages: two pages are saved, no token.
    env.stand_in.fault(kind="events.list", mailbox=BOB, skip=2, times=None, status=500)
    summary = env.sync(retries=0)
    assert [r.mailbox for r in summary.failed] == [BOB]
    partial = rows(env.engine, BOB)
    assert len(partial) > 0
    bob = states(env.engine)[BOB]
    assert bob.token is None and bob.first_synced_at is None
    env.stand_in.clear_faults()
    assert not env.sync().failed
    interrupted = rows(env.engine)
    # The same world, synced once without trouble into a fresh database.
    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade(fresh)
    load_people(fresh, env.world)
    clean = Env(env.world, env.stand_in, env.clock, env.config, fresh, [], tmp_path)
    assert not clean.sync().failed
    assert rows(fresh) == interrupted
    fresh.dispose()


def test_an_incremental_round_killed_between_pages_then_rerun_equals_an_uninterrupted_one(
    tmp_path: Path, sqlite_template: Path
) -> None:
    clock = ManualClock(NOW)
    world = build_world(clock)

    def database(name: str) -> Engine:
        shutil.copy(sqlite_template, tmp_path / name)
        engine = make_engine(f"sqlite:///{tmp_path / name}")
        load_people(engine, world)
        return engine

    with GoogleStandIn(world) as stand_in:
        config = make_config(tmp_path, stand_in, "sqlite://")
        killed = Env(world, stand_in, clock, config, database("killed.db"), [], tmp_path)
        clean = Env(world, stand_in, clock, config, database("clean.db"), [], tmp_path)
        assert not killed.sync().failed and not clean.sync().failed
        clock.advance(timedelta(days=1))
        world.cancel_instance("ann-bob@acme.test", MON + WEEK)
        world.decline("team@acme.test", BOB, MON + timedelta(days=3))
        world.move_instance("ann-cat@acme.test", MON + timedelta(days=1), MON + timedelta(days=2))
        world.add_series(
            "ann-dan-weekly@acme.test",
            ANN,
            [DAN],
            MON + timedelta(days=4),
            HALF_HOUR,
            Recurrence("WEEKLY", byday=("FR",)),
        )
        # Ann's changes take two pages: the second one fails for good.
        stand_in.fault(kind="events.list", mailbox=ANN, skip=1, times=None, status=503)
        assert [r.mailbox for r in killed.sync(retries=0).failed] == [ANN]
        token_before = states(killed.engine)[ANN].token
        stand_in.clear_faults()
        assert not killed.sync().failed
        assert states(killed.engine)[ANN].token != token_before
        assert not clean.sync().failed
        assert rows(killed.engine) == rows(clean.engine)
        killed.engine.dispose()
        clean.engine.dispose()


def test_a_mailbox_not_delegated_fails_alone_and_says_so(env: Env) -> None:
    env.stand_in.undelegated.add(DAN)
    summary = env.sync()
    assert [r.mailbox for r in summary.failed] == [DAN]
    error = summary.failed[0].error or ""
    assert DAN in error and "delegation is not granted" in error
    assert {r.mailbox for r in summary.ok} == {ANN, BOB, CAT}


def test_a_mailbox_unknown_to_the_domain_fails_alone(env: Env) -> None:
    env.world.add_person("eve@acme.test", "Eve", ANN, side="outlook")  # not a Google user
    with env.engine.begin() as conn:
        conn.execute(insert(Person).values(email="eve@acme.test", name="Eve", source="acme"))
    summary = env.sync()
    assert [r.mailbox for r in summary.failed] == ["eve@acme.test"]
    assert "not a (non-suspended) user of the domain" in (summary.failed[0].error or "")


def test_directory_gives_the_org_chart_with_managers(env: Env) -> None:
    env.stand_in.users_page_limit = 2
    env.world.add_person("gone@acme.test", "Gone", ANN, suspended=True)
    env.world.add_person("eve@acme.test", "Eve", ANN, side="outlook")  # not in this directory
    people = fetch_directory(env.config, "acme", RetryPolicy(sleep=env.sleeps.append)).people
    assert {(p.email, p.name, p.manager_email, p.source) for p in people} == {
        (ANN, "Ann Boss", None, "acme"),
        (BOB, "Bob", ANN, "acme"),
        (CAT, "Cat", ANN, "acme"),
        (DAN, "Dan", ANN, "acme"),
    }
    assert env.stand_in.by_kind["users.list"] == 3  # 5 users, 2 a page
    assert env.stand_in.by_kind["calendars.get"] == 4  # each listed user's time zone, once


def test_directory_refused_names_the_admin(env: Env) -> None:
    env.stand_in.undelegated.add(ANN)
    with pytest.raises(AuthError, match=r"ann@acme\.test: cannot impersonate.*delegation"):
        fetch_directory(env.config, "acme", RetryPolicy(sleep=env.sleeps.append))


def test_naming_a_mailbox_outside_the_org_chart_is_bad_usage_and_syncs_nothing(env: Env) -> None:
    with pytest.raises(InputError, match=r"nobody@acme\.test"):
        env.sync(mailboxes=[BOB, "Nobody@acme.test"])
    assert rows(env.engine) == {} and env.stand_in.total == 0


def test_progress_reports_every_mailbox_and_the_failures(env: Env) -> None:
    env.stand_in.undelegated.add(CAT)
    seen: list[tuple[int, int, int]] = []
    env.sync(progress=lambda done, total, failed: seen.append((done, total, failed)))
    assert [s[:2] for s in seen] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert seen[-1][2] == 1 and [s[2] for s in seen] == sorted(s[2] for s in seen)


def test_cli_sync_names_failed_mailboxes_exits_3_and_status_shows_them(
    tmp_path: Path, sqlite_url: str
) -> None:
    clock = ManualClock(datetime.now(UTC))
    world = build_world(clock)
    with GoogleStandIn(world, undelegated={DAN}) as stand_in:
        key = stand_in.write_key(tmp_path / "sa.json")
        config = tmp_path / "cadence.toml"
        config.write_text(
            f'[database]\nurl = "{sqlite_url}"\n\n[sources.acme]\nkind = "google"\n'
            f'service_account_file = "sa.json"\nadmin_email = "{ANN}"\n'
            f'api_endpoint = "{stand_in.calendar_endpoint}"\n'
        )
        assert key.parent == config.parent  # the key path is relative to the config's folder
        engine = make_engine(sqlite_url)
        load_people(engine, world)
        engine.dispose()

        def cadence(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "from cadence.cli import main; main()",
                    *args,
                    "--config",
                    str(config),
                ],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=tmp_path,
            )

        run = cadence("sync")
        assert run.returncode == 3, run.stderr
        failed = [line for line in run.stderr.splitlines() if line.startswith("failed:")]
        assert len(failed) == 1 and DAN in failed[0] and "delegation" in failed[0]
        assert "synced 3 of 4 mailboxes" in run.stderr
        assert "[#" not in run.stderr  # no progress bar off a terminal
        quiet = cadence("sync", "--quiet", "--mailbox", BOB)
        assert quiet.returncode == 0 and quiet.stderr == ""
        # On a terminal: a progress bar of mailboxes done out of the total, with the failures.
        leader, follower = pty.openpty()
        on_tty = subprocess.run(
            [
                sys.executable,
                "-c",
                "from cadence.cli import main; main()",
                "sync",
                "--config",
                str(config),
            ],
            stderr=follower,
            stdout=subprocess.DEVNULL,
            timeout=120,
            cwd=tmp_path,
        )
        os.close(follower)
        chunks = []
        while True:  # until the terminal reports the writer gone (EIO) or empty
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(leader)
        shown = b"".join(chunks).decode()
        assert on_tty.returncode == 3
        assert "4/4 mailboxes  1 failed" in shown and "syncing [" in shown
        status = cadence("status", "--json")
        assert status.returncode == 3
        outcomes = {m["mailbox"]: m for m in json.loads(status.stdout)["mailboxes"]}
        assert outcomes[DAN]["outcome"] == "failed" and "delegation" in outcomes[DAN]["error"]
        assert outcomes[BOB]["outcome"] == "ok" and outcomes[BOB]["error"] is None


MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from(["cancel", "decline", "move", "add", "remove", "end"]),
        st.integers(0, 1000),  # which series / occurrence / person, reduced modulo their count
        st.integers(0, 1000),
        st.booleans(),  # sync after this mutation
    ),
    min_size=1,
    max_size=8,
)


def mutate(world: World, op: str, a: int, b: int, n: int) -> None:
    recurring = sorted(u for u, s in world.series.items() if s.recurring and not s.cancelled)
    uid = recurring[a % len(recurring)]
    s = world.series[uid]
    # Occurrences well inside the window, so a moved one stays in it.
    middle = s.original_starts(NOW - timedelta(days=150), NOW + timedelta(days=20))
    if not middle:
        return
    t = middle[b % len(middle)]
    guests = sorted(g.email for g in s.guests if not g.resource and g.email != s.organizer)
    if op == "cancel":
        world.cancel_instance(uid, t)
    elif op == "decline" and guests:
        world.decline(uid, guests[b % len(guests)], t if a % 2 else None)
    elif op == "move":
        world.move_instance(uid, t, t + timedelta(hours=(a % 5) - 2))
    elif op == "add":
        people = sorted(world.people)
        world.add_one_off(f"new-{n}@acme.test", people[a % 4], [people[b % 4]], t, HALF_HOUR)
    elif op == "remove" and guests:
        world.remove_attendee(uid, guests[b % len(guests)])
    elif op == "end":
        world.cancel_series(uid, from_start=t)


def comparable(stored: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """What a sync must agree on: status always; times, organizer, recurrence and responses of
    live occurrences (a cancelled copy legitimately keeps what an earlier sync knew)."""
    out: dict[tuple[str, str], Any] = {}
    for key, row in stored.items():
        if row["status"] == "cancelled":
            out[key] = "cancelled"
            continue
        responses = {e: a["response"] for e, a in row.get("attendees", {}).items()}
        out[key] = (row["start"], row["end"], row["organizer"], row["recurrence"], responses)
    return out


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(mutations=MUTATIONS)
def test_incremental_syncs_end_where_a_fresh_full_sync_of_the_same_world_ends(
    mutations: list[tuple[str, int, int, bool]], tmp_path: Path, sqlite_template: Path
) -> None:
    clock = ManualClock(NOW)
    world = build_world(clock)

    def database() -> Engine:
        path = tmp_path / f"{uuid.uuid4().hex}.db"
        shutil.copy(sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        load_people(engine, world)
        return engine

    with GoogleStandIn(world) as stand_in:
        config = make_config(tmp_path, stand_in, "sqlite://")
        synced = Env(world, stand_in, clock, config, database(), [], tmp_path, page_size=25)
        assert not synced.sync().failed
        for n, (op, a, b, sync_after) in enumerate(mutations):
            clock.advance(timedelta(minutes=10))
            mutate(world, op, a, b, n)
            if sync_after:
                assert not synced.sync().failed
        assert not synced.sync().failed
        fresh = Env(
            world, stand_in, ManualClock(NOW), config, database(), [], tmp_path, page_size=25
        )
        assert not fresh.sync().failed
        assert comparable(rows(synced.engine)) == comparable(rows(fresh.engine))
        synced.engine.dispose()
        fresh.engine.dispose()


@pytest.mark.parametrize("listing", ["instances", "series"])
def test_a_deleted_series_cancels_its_occurrences_however_google_lists_it(
    listing: str, tmp_path: Path, sqlite_url: str
) -> None:
    clock = ManualClock(NOW)
    world = build_world(clock)
    engine = make_engine(sqlite_url)
    with GoogleStandIn(world) as stand_in:
        stand_in.series_deletion = listing
        env = Env(
            world,
            stand_in,
            clock,
            make_config(tmp_path, stand_in, sqlite_url),
            engine,
            [],
            tmp_path,
        )
        load_people(engine, world)
        assert not env.sync().failed
        clock.advance(timedelta(days=1))
        world.cancel_series("team@acme.test")
        assert not env.sync().failed
        team = {k: v for k, v in rows(engine).items() if v["ical_uid"] == "team@acme.test"}
        assert {m for m, _ in team} == {ANN, BOB, CAT, DAN} and len(team) == 4 * 15  # in the window
        assert all(v["status"] == "cancelled" for v in team.values())
        assert all(v["cancel_seen_at"] == NOW + timedelta(days=1) for v in team.values())
        # Nothing else changed, and no row stands for the series itself.
        others = [v for v in rows(engine).values() if v["ical_uid"] != "team@acme.test"]
        assert all(v["original_start"] is not None for v in others)
    engine.dispose()


def test_an_unreadable_key_file_is_a_config_error_naming_it_and_nothing_changes(
    env: Env,
) -> None:
    key = Path(env.config.sources["acme"].service_account_file)  # type: ignore[union-attr]
    key.write_text("{not json")
    with pytest.raises(ConfigError, match=r"sources\.acme.*sa\.json"):
        run_sync(env.config, env.engine, now=env.clock)
    key.unlink()
    with pytest.raises(ConfigError, match="not found"):
        run_sync(env.config, env.engine, now=env.clock)
    assert rows(env.engine) == {} and states(env.engine) == {} and env.stand_in.total == 0


def test_org_pull_without_the_directory_scope_delegated_says_so(env: Env) -> None:
    env.stand_in.delegated_scopes -= {
        "https://www.googleapis.com/auth/admin.directory.user.readonly"
    }
    with pytest.raises(AuthError, match=r"admin\.directory\.user\.readonly"):
        fetch_directory(env.config, "acme", RetryPolicy(sleep=env.sleeps.append))
    assert not env.sync().failed  # the calendar scope still works


def test_the_stand_in_refuses_callers_without_a_valid_token_or_for_another_calendar(
    env: Env,
) -> None:
    http = httplib2.Http(timeout=5)
    url = f"{env.stand_in.calendar_endpoint}calendars/{BOB}/events?singleEvents=true"
    response, _ = http.request(url)
    assert response.status == 401
    response, _ = http.request(url, headers={"Authorization": "Bearer made-up"})
    assert response.status == 401
    creds = service_account.Credentials.from_service_account_file(
        str(env.tmp / "sa.json"), scopes=["https://www.googleapis.com/auth/calendar.readonly"]
    ).with_subject(ANN)
    authed = google_auth_httplib2.AuthorizedHttp(creds, http=http)
    own = f"{env.stand_in.calendar_endpoint}calendars/{ANN}/events?singleEvents=true"
    response, _ = authed.request(own)
    assert response.status == 200
    response, body = authed.request(url)  # ann's token, bob's calendar
    assert response.status == 403 and b"forbidden" in body


def test_a_sync_token_google_refuses_gives_a_full_round(env: Env) -> None:
    env.sync()
    with env.engine.begin() as conn:
        conn.execute(
            SyncState.__table__.update()  # type: ignore[attr-defined]
            .where(SyncState.mailbox == CAT)
            .values(token="not-a-token")
        )
    env.stand_in.reset_counts()
    assert not env.sync().failed
    assert states(env.engine)[CAT].token != "not-a-token"
    assert env.stand_in.by_mailbox[CAT] > 2  # the refused call, then a full round's pages
