"""One table-driven test per rule of docs/metrics.md, from events stored as the connectors store
them.

Every case stores people and calendar events in a real database (SQLite and PostgreSQL), runs the
pipeline at as-of and checks the figures a manager would read in the report entry of the pair
(mia manages rob; dana manages mia).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from cadence.config import Config, parse_config
from cadence.jobs.figures import compute
from cadence.normalised import Event
from cadence.pipeline.views import manager_view
from cadence.store.database import make_engine
from pipeline.builders import (
    AS_OF,
    BOSS,
    MGR,
    REP,
    SYNC,
    Meeting,
    add_people,
    at,
    changed,
    save,
    small_org,
    store,
    weekly,
)

HOUR = timedelta(hours=1)


def five(**kw: Any) -> list[Meeting]:
    """A weekly 1:1 held on the five Mondays up to as-of (4 weeks ago .. today 10:00)."""
    return weekly("w", at(28), 5, **kw)


def with_one(index: int, **change: Any) -> Callable[[Engine], None]:
    def setup(engine: Engine) -> None:
        meetings = five()
        meetings[index] = changed(meetings[index], **change)
        store(engine, meetings)

    return setup


def stored(*meetings: Meeting | Iterable[Meeting]) -> Callable[[Engine], None]:
    flat: list[Meeting] = []
    for m in meetings:
        flat.extend([m] if isinstance(m, Meeting) else m)

    def setup(engine: Engine) -> None:
        store(engine, flat)

    return setup


def cancel_seen_later(seen: datetime, first_sync: bool) -> Callable[[Engine], None]:
    """The series was synced, then a sync at ``seen`` found one occurrence cancelled with no
    source time, as a sparse Google instance: only its id, status and original start."""

    def setup(engine: Engine) -> None:
        meetings = five()
        store(engine, meetings)
        m = meetings[3]
        sparse = [
            Event(
                source=e.source,
                mailbox=e.mailbox,
                event_id=e.event_id,
                status="cancelled",
                ical_uid=e.ical_uid,
                series_id=e.series_id,
                original_start=e.original_start,
            )
            for e in m.copies()
        ]
        save(engine, sparse, seen, first_sync)

    return setup


def sparse_first_sync(engine: Engine) -> None:
    """A mailbox's first sync finds a cancelled instance it never saw before (no attendees, no
    organizer, no start): it borrows its series' people and still counts."""
    meetings = five()
    kept = meetings[:3] + meetings[4:]
    store(engine, kept)
    e = meetings[3].copies()[0]
    save(
        engine,
        [
            Event(
                source=e.source,
                mailbox=e.mailbox,
                event_id=e.event_id,
                status="cancelled",
                ical_uid=e.ical_uid,
                series_id=e.series_id,
                original_start=e.original_start,
            )
        ],
        SYNC,
        True,
    )


def first_sync_found_miss(
    miss: dict[str, Any], later_source_time: datetime | None = None
) -> Callable[[Engine], None]:
    """Occurrence 2 (at(14)) has a miss (``miss``: changed() fields, no source time). The
    manager's mailbox saw it confirmed from day -200; the report's mailbox, first synced on day
    -30, already finds the miss; the manager's mailbox sees it on day -13 (after the start),
    with ``later_source_time`` as the source's time, if given."""

    def setup(engine: Engine) -> None:
        meetings = five()
        save(
            engine, [e for m in meetings for e in changed(m, calendars=[MGR]).copies()], SYNC, True
        )
        report = [changed(m, calendars=[REP]) for m in meetings]
        report[2] = changed(report[2], **miss)
        save(engine, [e for m in report for e in m.copies()], at(30), True)
        later = changed(meetings[2], calendars=[MGR], **miss)
        if later_source_time is not None:
            later = changed(later, updated=later_source_time)
        save(engine, later.copies(), at(13), False)

    return setup


def one_off_moved(engine: Engine) -> None:
    """A one-off first seen at one time, then found at another by a later sync."""
    m = Meeting("o1", at(3))
    store(engine, [m])
    store(engine, [changed(m, start=at(2))], seen_at=at(5), first_sync=False)


def changed_to_biweekly(engine: Engine) -> None:
    old = weekly("a", at(63), 6, recurrence="RRULE:FREQ=WEEKLY;UNTIL=20261026T235959Z;BYDAY=MO")
    new = [
        Meeting("b", at(21) + timedelta(weeks=2 * i), recurrence="RRULE:FREQ=WEEKLY;INTERVAL=2")
        for i in range(3)
    ]
    store(engine, old + new)


def alias_attendee(engine: Engine) -> None:
    add_people(engine, [], {"rob@home.test": REP})
    store(engine, five(people=(MGR, "ROB@home.test ")))


def skip_only(engine: Engine) -> None:
    store(engine, [Meeting("sk", at(3), people=(BOSS, REP), organizer=BOSS)])


@dataclass
class Case:
    setup: Callable[[Engine], None]
    expect: dict[str, Any]
    as_of: datetime = AS_OF
    config: dict[str, Any] = field(default_factory=dict)


HELD = {"scheduled": 5, "held": 5, "missed": 0, "status": "healthy", "reasons": []}
CASES: dict[str, Case] = {
    "held": Case(
        stored(five()),
        {
            **HELD,
            "held_minutes": 150,
            "intended_cadence_days": 7.0,
            "actual_cadence_days": 7.0,
            "last_held": "2026-11-23T10:00:00+00:00",
            "days_since_last_held": 0,
            "cadence_bucket": "weekly",
            "minutes_per_week": 12.5,
            "cancellation_rate": 0.0,
            "next_scheduled": None,
        },
    ),
    "cancelled by the manager as organizer": Case(
        with_one(2, status="cancelled", updated=at(20)),
        {"scheduled": 5, "held": 4, "missed": 1, "cancelled_by_manager": 1, "declined": 0},
    ),
    "cancelled by the report as organizer": Case(
        stored(
            changed(m, organizer=REP, status="cancelled") if i == 2 else m
            for i, m in enumerate(five())
        ),
        {"missed": 1, "cancelled_by_report": 1, "cancelled_by_manager": 0},
    ),
    "declined by the report": Case(
        with_one(2, declined={REP: at(20)}),
        {"missed": 1, "declined": 1, "cancelled_by_report": 1, "held": 4},
    ),
    "declined by the manager": Case(
        stored(
            changed(m, organizer=REP, declined={MGR: at(20)}) if i == 2 else m
            for i, m in enumerate(five())
        ),
        {"missed": 1, "declined": 1, "cancelled_by_manager": 1},
    ),
    "both declined: the organizer cancels": Case(
        with_one(2, declined={MGR: at(20), REP: at(20)}),
        {"missed": 1, "declined": 1, "cancelled_by_manager": 1, "cancelled_by_report": 0},
    ),
    "cancelled beats declined": Case(
        with_one(2, status="cancelled", declined={REP: at(20)}, updated=at(20)),
        {"missed": 1, "declined": 0, "cancelled_by_manager": 1},
    ),
    "moved": Case(with_one(2, start=at(13)), {**HELD, "rescheduled": 1}),
    "moved and then cancelled": Case(
        with_one(2, start=at(13), status="cancelled", updated=at(20)),
        {"held": 4, "missed": 1, "rescheduled": 1},
    ),
    "cancelled late": Case(
        with_one(2, status="cancelled", updated=at(14) - 2 * HOUR),
        {"missed": 1, "late_cancellations": 1},
    ),
    "cancelled exactly 24 hours before: not late": Case(
        with_one(2, status="cancelled", updated=at(15)),
        {"missed": 1, "late_cancellations": 0},
    ),
    "cancelled after it started: late": Case(
        with_one(2, status="cancelled", updated=at(14) + HOUR),
        {"missed": 1, "late_cancellations": 1},
    ),
    "cancelled early": Case(
        with_one(2, status="cancelled", updated=at(18)),
        {"missed": 1, "late_cancellations": 0},
    ),
    "declined late: the response time counts": Case(
        with_one(2, declined={REP: at(14) - HOUR}),
        {"missed": 1, "declined": 1, "late_cancellations": 1},
    ),
    "cancellation with no source time, seen by a later sync just before": Case(
        cancel_seen_later(at(7) - 2 * HOUR, first_sync=False),
        {"missed": 1, "late_cancellations": 1, "cancelled_by_manager": 1},
    ),
    "cancellation with no source time, seen days before": Case(
        cancel_seen_later(at(10), first_sync=False),
        {"missed": 1, "late_cancellations": 0},
    ),
    "cancellation found by the first sync: unknown time, not late": Case(
        sparse_first_sync,
        {"scheduled": 5, "missed": 1, "late_cancellations": 0, "cancelled_by_manager": 1},
    ),
    "cancellation a first sync found, seen later in the other calendar: unknown, not late": Case(
        first_sync_found_miss({"status": "cancelled"}),
        {"missed": 1, "cancelled_by_manager": 1, "late_cancellations": 0},
    ),
    "decline a first sync found, seen later in the other calendar: unknown, not late": Case(
        first_sync_found_miss({"declined": {REP: None}}),
        {"missed": 1, "declined": 1, "cancelled_by_report": 1, "late_cancellations": 0},
    ),
    "cancellation a first sync found: a source time on another copy still wins": Case(
        first_sync_found_miss({"status": "cancelled"}, later_source_time=at(14) - HOUR),
        {"missed": 1, "late_cancellations": 1},
    ),
    "upcoming": Case(
        stored(weekly("w", at(7), 4)),
        {
            "scheduled": 2,
            "held": 2,
            "next_scheduled": "2026-11-30T10:00:00+00:00",
            "actual_cadence_days": 7.0,
        },
    ),
    "moved past as-of: upcoming": Case(
        with_one(4, start=at(-1)),
        {
            "scheduled": 4,
            "held": 4,
            "rescheduled": 1,
            "next_scheduled": "2026-11-24T10:00:00+00:00",
        },
    ),
    "three people": Case(
        stored(five(people=(MGR, REP, "ann@acme.test"))),
        {
            "scheduled": 0,
            "status": "unhealthy",
            "reasons": ["no_one_on_one", "no_recurring_series"],
        },
    ),
    "six people (counted, their attendees never read)": Case(
        stored(five(people=(MGR, REP, *(f"x{i}@acme.test" for i in range(4))))),
        {"scheduled": 0, "status": "unhealthy"},
    ),
    "a room attendee": Case(stored(five(rooms=("room-1@resource.acme.test",))), HELD),
    "all-day": Case(stored(five(all_day=True)), {"scheduled": 0}),
    "out of office": Case(stored(five(event_type="outOfOffice")), {"scheduled": 0}),
    "focus time": Case(stored(five(event_type="focusTime")), {"scheduled": 0}),
    "over three hours": Case(stored(five(minutes=181)), {"scheduled": 0}),
    "exactly three hours": Case(stored(five(minutes=180)), {**HELD, "held_minutes": 900}),
    "skip-level meetings stay out of the pair": Case(skip_only, {"scheduled": 0}),
    "weekly then biweekly": Case(changed_to_biweekly, {"intended_cadence_days": 14.0}),
    "no series at all": Case(
        stored([Meeting(f"o{i}", at(7 * i)) for i in range(4)]),
        {
            "scheduled": 4,
            "intended_cadence_days": None,
            "status": "at_risk",
            "reasons": ["no_recurring_series"],
        },
    ),
    "nothing scheduled": Case(
        stored(),
        {
            "scheduled": 0,
            "held": 0,
            "cancellation_rate": None,
            "last_held": None,
            "days_since_last_held": None,
            "actual_cadence_days": None,
            "status": "unhealthy",
            "reasons": ["no_one_on_one", "no_recurring_series"],
            "cadence_bucket": "none",
        },
    ),
    "as-of in the middle of a meeting": Case(
        stored(Meeting("now", AS_OF - 10 * timedelta(minutes=1), minutes=30)),
        {"held": 1, "last_held": "2026-11-23T11:50:00+00:00", "days_since_last_held": 0},
    ),
    "one calendar only": Case(stored(five(calendars=(REP,))), HELD),
    "Graph ids: one iCalUId per occurrence, a series id per mailbox": Case(
        stored(five(graph=True)), {**HELD, "intended_cadence_days": 7.0}
    ),
    "an alias counts as the person": Case(alias_attendee, HELD),
    "a one-off moved between syncs": Case(one_off_moved, {"held": 1, "rescheduled": 1}),
    "three weekdays": Case(
        stored(five(recurrence="RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR")),
        {"intended_cadence_days": 2.3},
    ),
    "monthly": Case(
        stored(five(recurrence="RRULE:FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO")),
        {"intended_cadence_days": 60.0},
    ),
    "a series that ended is ad hoc": Case(
        stored(five(recurrence="RRULE:FREQ=WEEKLY;UNTIL=20261117T000000Z")),
        {"intended_cadence_days": None, "reasons": ["no_recurring_series"]},
    ),
    "a COUNT series past its last occurrence is ad hoc": Case(
        stored(weekly("c", at(35), 3, recurrence="RRULE:FREQ=WEEKLY;COUNT=3")),
        {"intended_cadence_days": None},
    ),
    "date-only UNTIL: active through that day in the configured zone": Case(
        stored(five(recurrence="RRULE:FREQ=WEEKLY;UNTIL=20261123")),
        {"intended_cadence_days": 7.0},
        as_of=datetime(2026, 11, 24, 7, 0, tzinfo=UTC),  # 23:00 on the 23rd in Los Angeles
        config={"org": {"timezone": "America/Los_Angeles"}},
    ),
    "date-only UNTIL: ended the next local day": Case(
        stored(five(recurrence="RRULE:FREQ=WEEKLY;UNTIL=20261123")),
        {"intended_cadence_days": None},
        as_of=datetime(2026, 11, 24, 9, 0, tzinfo=UTC),  # 01:00 on the 24th in Los Angeles
        config={"org": {"timezone": "America/Los_Angeles"}},
    ),
    "date-only UNTIL: ended at exactly the next local midnight": Case(
        stored(five(recurrence="RRULE:FREQ=WEEKLY;UNTIL=20261123")),
        {"intended_cadence_days": None},
        as_of=datetime(2026, 11, 24, 8, 0, tzinfo=UTC),  # 00:00 on the 24th in Los Angeles
        config={"org": {"timezone": "America/Los_Angeles"}},
    ),
    # 01:30 on 1 Nov 2026 happens twice in New York: 05:30Z (EDT), then 06:30Z (EST).
    "local UNTIL in a repeated hour: active up to its earlier instant": Case(
        stored(five(recurrence="RRULE:FREQ=WEEKLY;UNTIL=20261101T013000")),
        {"intended_cadence_days": 7.0},
        as_of=datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        config={"org": {"timezone": "America/New_York"}},
    ),
    "local UNTIL in a repeated hour: ended after its earlier instant": Case(
        stored(five(recurrence="RRULE:FREQ=WEEKLY;UNTIL=20261101T013000")),
        {"intended_cadence_days": None},
        as_of=datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
        config={"org": {"timezone": "America/New_York"}},
    ),
    "cancel streak": Case(
        stored([changed(m, status="cancelled") if i >= 2 else m for i, m in enumerate(five())]),
        {
            "consecutive_missed": 3,
            "streak_cancelled_by_manager": 3,
            "status": "unhealthy",
            "reasons": ["cancel_streak", "stale", "high_cancellation", "manager_cancels"],
        },
    ),
    "two missed in a row: at risk": Case(
        stored([changed(m, declined={REP: None}) if i >= 3 else m for i, m in enumerate(five())]),
        {
            "consecutive_missed": 2,
            "streak_cancelled_by_manager": 0,
            "status": "at_risk",
            "reasons": ["cancel_streak", "high_cancellation"],
        },
    ),
    "stale": Case(
        stored(weekly("w", at(58), 5)),
        {
            "days_since_last_held": 30,
            "status": "unhealthy",
            "reasons": ["stale"],
        },
    ),
    "a configured threshold": Case(
        stored(weekly("w", at(58), 5)),
        {"reasons": [], "status": "healthy"},
        config={"health": {"stale_factor": 5}},
    ),
    "window weeks from the configuration": Case(
        stored(five()), {"scheduled": 2, "held": 2}, config={"report": {"window_weeks": 2}}
    ),
}


def check(engine: Engine, name: str) -> None:
    case = CASES[name]
    small_org(engine)
    case.setup(engine)
    config: Config = parse_config(case.config)
    view = manager_view(compute(engine, config, case.as_of), MGR)
    (entry,) = view["reports"]
    got = {key: entry[key] for key in case.expect}
    assert got == case.expect


@pytest.mark.parametrize("name", list(CASES))
def test_rule(sqlite_url: str, name: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        check(engine, name)
    finally:
        engine.dispose()


# The store's two backends hand back times and flags differently: these rules run on both.
BOTH = [
    "held",
    "six people (counted, their attendees never read)",
    "a room attendee",
    "moved and then cancelled",
    "cancellation with no source time, seen by a later sync just before",
    "cancellation found by the first sync: unknown time, not late",
    "decline a first sync found, seen later in the other calendar: unknown, not late",
    "a one-off moved between syncs",
    "date-only UNTIL: active through that day in the configured zone",
]


@pytest.mark.parametrize("name", BOTH)
def test_rule_on_each_backend(engine: Engine, name: str) -> None:
    check(engine, name)
