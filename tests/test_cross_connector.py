"""One small org served from both stand-ins at once: the store cannot tell which service a
calendar came from.

Half the people are on Google, half on Microsoft, and each pair's 1:1 crosses over. The same
story (first sync; then a cancelled occurrence, a decline, a move and a new series; a second sync)
is played with everyone on one side, then with everyone swapped; every stored copy of every
occurrence must come out the same, whichever service held it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from cadence.config import parse_config
from cadence.jobs.sync import run_sync
from cadence.normalised import OrgPerson
from cadence.sandbox.google import GoogleStandIn
from cadence.sandbox.graph import GraphStandIn
from cadence.sandbox.tls import TLSFiles
from cadence.sandbox.world import ManualClock, Recurrence, World
from cadence.store.database import make_engine
from cadence.store.models import Attendee, Event
from cadence.store.people import replace_chart
from outlook_support import CLIENT_ID, SECRET, SECRET_ENV

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
MON = datetime(2026, 9, 7, 10, tzinfo=UTC)
HALF_HOUR = timedelta(minutes=30)
ANN, BOB, CAT, DAN = "ann@acme.test", "bob@acme.test", "cat@acme.test", "dan@acme.test"
HALF_AND_HALF = {ANN: "google", BOB: "outlook", CAT: "outlook", DAN: "google"}
SWAPPED = {p: "outlook" if s == "google" else "google" for p, s in HALF_AND_HALF.items()}
SOURCES = {"google": "acme-google", "outlook": "acme-m365"}


def build(world: World, sides: dict[str, str]) -> None:
    """ann manages bob and cat; cat manages dan. Weekly 1:1s, an all-day absence, a one-off."""
    for email, name, boss in (
        (ANN, "Ann", None),
        (BOB, "Bob", ANN),
        (CAT, "Cat", ANN),
        (DAN, "Dan", CAT),
    ):
        world.add_person(email, name, boss, side=sides[email])
    at = MON - timedelta(days=20)
    world.add_series(
        "ann-bob@acme.test", ANN, [BOB], MON, HALF_HOUR, Recurrence("WEEKLY", byday=("MO",)), at=at
    )
    world.add_series(
        "dan-cat@acme.test",
        DAN,
        [CAT],
        MON + timedelta(days=2, hours=3),
        HALF_HOUR,
        Recurrence("WEEKLY", interval=2, byday=("WE",)),
        at=at,
    )
    world.add_one_off(
        "ann-cat@acme.test",
        CAT,
        [ANN],
        datetime(2026, 11, 27, 15, tzinfo=UTC),
        timedelta(hours=1),
        at=at,
    )
    world.add_one_off(
        "bob-away@acme.test",
        BOB,
        [],
        datetime(2026, 11, 20, tzinfo=UTC),
        timedelta(days=1),
        all_day=True,
        event_type="outOfOffice",
        at=at,
    )


def mutate(world: World, at: datetime) -> None:
    world.cancel_instance("ann-bob@acme.test", datetime(2026, 11, 30, 10, tzinfo=UTC), at=at)
    world.decline("ann-bob@acme.test", BOB, datetime(2026, 12, 7, 10, tzinfo=UTC), at=at)
    world.move_instance(
        "dan-cat@acme.test",
        datetime(2026, 12, 16, 13, tzinfo=UTC),
        datetime(2026, 12, 17, 9, tzinfo=UTC),
        at=at,
    )
    world.move_instance(
        "ann-cat@acme.test",
        datetime(2026, 11, 27, 15, tzinfo=UTC),
        datetime(2026, 11, 27, 16, tzinfo=UTC),
        at=at,
    )
    world.add_series(
        "cat-dan-new@acme.test",
        CAT,
        [DAN],
        datetime(2026, 12, 1, 9, tzinfo=UTC),
        HALF_HOUR,
        Recurrence("WEEKLY", byday=("TU",)),
        at=at,
    )


def stored(engine: Engine) -> dict[tuple[str, str, datetime], dict[str, Any]]:
    """Every stored copy, by (mailbox, UID, original start), as the pipeline reads it.

    Left out: the source name and event id (each service's own), and the times a source gives
    for a change (Google has no response times; Graph has no time for an occurrence that left
    the organizer's calendar), which the pipeline resolves per copy (the miss time of
    docs/metrics.md).
    """
    with engine.connect() as conn:
        events = conn.execute(select(Event.__table__)).mappings().all()
        attendees = conn.execute(select(Attendee.__table__)).mappings().all()
    people: dict[tuple[str, str], dict[str, tuple[Any, ...]]] = {}
    for a in attendees:
        people.setdefault((a["mailbox"], a["event_id"]), {})[a["email"]] = (
            a["response"],
            a["is_organizer"],
            a["is_resource"],
            a["optional"],
        )
    out = {}
    for e in events:
        key = (e["mailbox"], e["ical_uid"], e["original_start"])
        assert key not in out, f"two copies of {key} in one calendar"
        out[key] = {
            "start": e["start"],
            "end": e["end"],
            "all_day": e["all_day"],
            "event_type": e["event_type"],
            "status": e["status"],
            "organizer": e["organizer"],
            "recurrence": e["recurrence"],
            "attendees": people.get((e["mailbox"], e["event_id"]), {}),
        }
    return out


@pytest.fixture
def play(
    sqlite_template: Path, tmp_path: Path, tls: TLSFiles, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    engines: list[Engine] = []

    def run(sides: dict[str, str]) -> dict[tuple[str, str, datetime], dict[str, Any]]:
        folder = tmp_path / "-".join(sides[p][0] for p in sorted(sides))
        folder.mkdir()
        db = folder / "cadence.db"
        db.write_bytes(sqlite_template.read_bytes())
        engine = make_engine(f"sqlite:///{db}")
        engines.append(engine)
        clock = ManualClock(NOW)
        world = World(clock)
        build(world, sides)
        with GoogleStandIn(world, undelegated=set()) as google, GraphStandIn(world, tls) as graph:
            graph.register_app(CLIENT_ID, secret=SECRET)
            config = parse_config(
                {
                    "database": {"url": f"sqlite:///{db}"},
                    "sources": {
                        SOURCES["google"]: {
                            "kind": "google",
                            "service_account_file": str(google.write_key(folder / "sa.json")),
                            "admin_email": ANN if sides[ANN] == "google" else DAN,
                            "api_endpoint": google.calendar_endpoint,
                            "directory_endpoint": google.directory_endpoint,
                        },
                        SOURCES["outlook"]: graph.source_config(
                            CLIENT_ID, client_secret_env=SECRET_ENV
                        ),
                    },
                },
                folder / "cadence.toml",
            )
            replace_chart(
                engine,
                [
                    OrgPerson(p.email, p.name, p.manager, source=SOURCES[p.side])
                    for p in world.people.values()
                ],
            )
            first = run_sync(config, engine, now=clock)
            assert not first.failed, [r.error for r in first.failed]
            mutate(world, clock.advance(timedelta(hours=3)))
            clock.advance(timedelta(days=1))
            second = run_sync(config, engine, now=clock)
            assert not second.failed, [r.error for r in second.failed]
        return stored(engine)

    yield run
    for engine in engines:
        engine.dispose()


def test_a_pair_s_events_are_stored_alike_whichever_service_holds_each_calendar(
    play: Any,
) -> None:
    mixed = play(HALF_AND_HALF)
    swapped = play(SWAPPED)
    assert mixed == swapped
    # And within one run, the two copies of a pair's occurrence agree with each other.
    for (mailbox, uid, original), copy in mixed.items():
        for (other, uid2, original2), copy2 in mixed.items():
            if (uid2, original2) == (uid, original) and other != mailbox:
                assert copy == copy2, (uid, original, mailbox, other)
    # The story is all there: a cancel seen from both sides, a decline, moves, a new series.
    cancelled = [k for k, c in mixed.items() if c["status"] == "cancelled"]
    assert sorted(k[0] for k in cancelled) == [ANN, BOB]
    declined = mixed[(ANN, "ann-bob@acme.test", datetime(2026, 12, 7, 10, tzinfo=UTC))]
    assert declined["attendees"][BOB][0] == "declined"
    moved = mixed[(DAN, "dan-cat@acme.test", datetime(2026, 12, 16, 13, tzinfo=UTC))]
    assert moved["start"] == datetime(2026, 12, 17, 9, tzinfo=UTC)
    one_off = mixed[(CAT, "ann-cat@acme.test", datetime(2026, 11, 27, 15, tzinfo=UTC))]
    assert one_off["start"] == datetime(2026, 11, 27, 16, tzinfo=UTC)
    assert any(k[1] == "cat-dan-new@acme.test" for k in mixed)
