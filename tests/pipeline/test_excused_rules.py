"""One table-driven case per rule of "What a miss becomes" and the away-aware health rules
(docs/metrics.md), from events stored as each connector stores them.

Every case stores people (with their country and time zone), the 1:1s of mia (manager) and rob
(report), and their out-of-office events in a real database, runs the pipeline at as-of and
checks what mia reads in rob's report entry. Each case runs on Google's stored shape (one UID a
series, instances by original start) and on Graph's (an iCalUId an occurrence, a series id a
mailbox); a few run on PostgreSQL too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from cadence.config import parse_config
from cadence.jobs.figures import compute
from cadence.pipeline.views import manager_view
from cadence.store.database import make_engine
from cadence.store.models import Person
from pipeline.builders import AS_OF, BOSS, MGR, REP, Meeting, at, changed, store, weekly

DAY = timedelta(days=1)
Setup = Callable[[Engine, bool], None]


def people(
    engine: Engine, rob: tuple[str | None, str | None] = (None, None), mia: tuple = (None, None)
) -> None:
    """dana manages mia, mia manages rob; (country, timezone) of rob and mia."""
    rows = [
        {"email": BOSS, "name": "Dana", "manager_email": None},
        {"email": MGR, "name": "Mia", "manager_email": BOSS, "country": mia[0], "timezone": mia[1]},
        {"email": REP, "name": "Rob", "manager_email": MGR, "country": rob[0], "timezone": rob[1]},
    ]
    with engine.begin() as conn:
        # One set of keys for every row: an executemany takes its columns from the first.
        blank = {"team": None, "source": None, "country": None, "timezone": None}
        conn.execute(insert(Person), [blank | r for r in rows])


def five(graph: bool, **kw: Any) -> list[Meeting]:
    """A weekly Monday 1:1 at 10:00 UTC on the five Mondays up to as-of (4 weeks ago .. today)."""
    return weekly("w", at(28), 5, graph=graph, **kw)


def cancel(m: Meeting, by: str = MGR) -> Meeting:
    """Called off by ``by``: the organizer cancels, the other declines."""
    if by == m.organizer:
        return changed(m, status="cancelled", updated=m.original_start - 3 * DAY)
    return changed(m, declined={by: m.original_start - 3 * DAY})


def absence(
    who: str,
    first: datetime,
    last: datetime,
    *,
    all_day: bool = True,
    graph: bool = False,
    **kw: Any,
) -> Meeting:
    """An out-of-office event in ``who``'s own calendar: all-day from ``first``'s date to
    ``last``'s date (inclusive), or timed from ``first`` to ``last``."""
    if all_day:
        start = first.replace(hour=0, minute=0)
        minutes = int((last.replace(hour=0, minute=0) + DAY - start) / timedelta(minutes=1))
    else:
        start, minutes = first, int((last - first) / timedelta(minutes=1))
    return Meeting(
        f"oof-{who}-{first:%m%d%H%M}",
        start,
        people=(who,),
        organizer=who,
        minutes=minutes,
        all_day=all_day,
        event_type="outOfOffice",
        graph=graph,
        **kw,
    )


def series_with(
    cancelled: dict[int, str] | None = None, extra: Callable[[bool], list[Meeting]] | None = None
) -> Setup:
    """five() with occurrence i called off by ``cancelled[i]``, plus ``extra(graph)``."""

    def setup(engine: Engine, graph: bool) -> None:
        meetings = five(graph)
        for i, by in (cancelled or {}).items():
            meetings[i] = cancel(meetings[i], by)
        store(engine, meetings + (extra(graph) if extra else []))

    return setup


def one_off(when: datetime, **kw: Any) -> Callable[[bool], list[Meeting]]:
    return lambda graph: [Meeting(f"o{when:%d%H%M}", when, graph=graph, **kw)]


def both(*parts: Callable[[bool], list[Meeting]]) -> Callable[[bool], list[Meeting]]:
    return lambda graph: [m for part in parts for m in part(graph)]


def away(who: str, first: datetime, last: datetime, **kw: Any) -> Callable[[bool], list[Meeting]]:
    return lambda graph: [absence(who, first, last, graph=graph, **kw)]


def one_off_cancelled(when: datetime) -> Callable[[bool], list[Meeting]]:
    """A one-off 1:1 at ``when`` that mia cancelled."""
    return lambda graph: [cancel(Meeting(f"h{when:%d%H%M}", when, graph=graph))]


BIWEEKLY = "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"


def biweekly_with_a_make_up(engine: Engine, graph: bool) -> None:
    """A biweekly 1:1 (26 Oct, 9 Nov, 23 Nov); 9 Nov cancelled, a one-off on Sun 15 Nov."""
    meetings = [
        Meeting("b", at(28) + 14 * i * DAY, recurrence=BIWEEKLY, graph=graph) for i in range(3)
    ]
    meetings[1] = cancel(meetings[1])
    store(engine, [*meetings, *one_off(at(8))(graph)])


@dataclass
class Case:
    setup: Setup
    expect: dict[str, Any]
    rob: tuple[str | None, str | None] = (None, None)
    mia: tuple[str | None, str | None] = (None, None)
    as_of: datetime = AS_OF
    config: dict[str, Any] = field(default_factory=dict)


# Occurrence 2 is Monday 9 Nov 10:00 UTC; mia's week away is Mon 9 - Fri 13 Nov.
MIA_AWAY = away(MGR, at(14), at(10))
CASES: dict[str, Case] = {
    "manager cancels while on vacation: excused, not manager_cancels": Case(
        series_with({1: MGR, 2: MGR}, both(away(MGR, at(21), at(17)), MIA_AWAY)),
        {
            "scheduled": 3,
            "held": 3,
            "missed": 0,
            "excused": 2,
            "made_up": 0,
            "cancelled_by_manager": 0,
            "cancellation_rate": 0.0,
            "status": "healthy",
            "reasons": [],
            "away_days": 10.0,
            "away_until": None,
        },
    ),
    "the same cancellations with no absence: missed, manager_cancels": Case(
        series_with({1: MGR, 2: MGR}),
        {
            "missed": 2,
            "excused": 0,
            "cancelled_by_manager": 2,
            "reasons": ["high_cancellation", "manager_cancels"],
        },
    ),
    "report declines while out of office (timed, across the 1:1)": Case(
        series_with({2: REP}, away(REP, at(14, hour=8), at(14, hour=12), all_day=False)),
        {"missed": 0, "excused": 1, "declined": 0, "cancelled_by_report": 0, "away_days": 0.2},
    ),
    "a timed absence that ends as the 1:1 starts: not away, missed": Case(
        series_with({2: REP}, away(REP, at(14, hour=8), at(14, hour=10), all_day=False)),
        {"missed": 1, "excused": 0, "declined": 1},
    ),
    "a timed absence that starts as the 1:1 starts: away, excused": Case(
        series_with({2: REP}, away(REP, at(14, hour=10), at(14, hour=11), all_day=False)),
        {"missed": 0, "excused": 1},
    ),
    "an absence the person declined: not away": Case(
        series_with({2: MGR}, away(MGR, at(14), at(10), declined={MGR: None})),
        {"missed": 1, "excused": 0, "away_days": 0.0},
    ),
    "a cancelled absence: not away": Case(
        series_with({2: MGR}, away(MGR, at(14), at(10), status="cancelled")),
        {"missed": 1, "excused": 0},
    ),
    "out of office in someone else's calendar: only the owner is away": Case(
        series_with(
            {2: MGR},
            lambda graph: [
                changed(absence(BOSS, at(14), at(10)), people=(BOSS, MGR), calendars=(BOSS,))
            ],
        ),
        {"missed": 1, "excused": 0},
    ),
    "three weeks away, running past as-of: no streak, not stale, away until": Case(
        series_with({2: REP, 3: REP, 4: REP}, away(REP, at(15), at(-6))),
        {
            "scheduled": 2,
            "missed": 0,
            "excused": 3,
            "consecutive_missed": 0,
            "days_since_last_held": 21,
            "status": "healthy",
            "reasons": [],
            "away_until": "2026-11-30T00:00:00+00:00",
        },
    ),
    "the same declines with no absence: a streak, stale": Case(
        series_with({2: REP, 3: REP, 4: REP}),
        {
            "consecutive_missed": 3,
            "status": "unhealthy",
            "reasons": ["cancel_streak", "stale", "high_cancellation"],
            "away_until": None,
        },
    ),
    "an absence running past as-of, in the report's zone": Case(
        series_with({4: REP}, away(REP, at(1), at(-2))),
        {"excused": 1, "away_until": "2026-11-26T05:00:00+00:00", "away_days": 1.3},
        rob=(None, "America/New_York"),
    ),
    "stale is counted net of away time": Case(
        lambda engine, graph: store(
            engine,
            [*weekly("w", at(58), 5, graph=graph), absence(REP, at(20), at(0), graph=graph)],
        ),
        {"days_since_last_held": 30, "status": "healthy", "reasons": [], "away_days": 20.5},
    ),
    "stale with less away time than the gap": Case(
        lambda engine, graph: store(
            engine,
            [*weekly("w", at(58), 5, graph=graph), absence(REP, at(10), at(3), graph=graph)],
        ),
        {"days_since_last_held": 30, "reasons": ["stale"]},
    ),
    "no 1:1 at all while the report is away: not no_one_on_one": Case(
        lambda engine, graph: store(engine, [absence(REP, at(3), at(-10), graph=graph)]),
        {"scheduled": 0, "status": "at_risk", "reasons": ["no_recurring_series"]},
    ),
    "no 1:1 at all, nobody away: no_one_on_one": Case(
        lambda engine, graph: None,
        {
            "scheduled": 0,
            "status": "unhealthy",
            "reasons": ["no_one_on_one", "no_recurring_series"],
        },
    ),
    # Public holidays: Wednesday 18 Nov 2026 is Repentance Day in Saxony (DE-SN) only.
    "a 1:1 on a public holiday of the report's subdivision: excused": Case(
        series_with({2: MGR}, one_off_cancelled(at(5))),
        {"missed": 1, "excused": 1},
        rob=("DE-SN", "Europe/Berlin"),
    ),
    "the same day in another subdivision: not a holiday": Case(
        series_with({2: MGR}, one_off_cancelled(at(5))),
        {"missed": 2, "excused": 0},
        rob=("DE-BY", "Europe/Berlin"),
    ),
    "a holiday of the manager's country counts for the pair": Case(
        series_with(None, one_off_cancelled(at(5))),
        {"missed": 0, "excused": 1},
        mia=("DE-SN", "Europe/Berlin"),
    ),
    "the holiday in the person's zone: 23:30 UTC the evening before is 00:30 in Berlin": Case(
        series_with(None, one_off_cancelled(at(6, hour=23) + timedelta(minutes=30))),
        {"excused": 1, "missed": 0},
        rob=("DE-SN", "Europe/Berlin"),
    ),
    "the same instant for a report in UTC: the day before the holiday": Case(
        series_with(None, one_off_cancelled(at(6, hour=23) + timedelta(minutes=30))),
        {"excused": 0, "missed": 1},
        rob=("DE-SN", "UTC"),
    ),
    "a zone far ahead: 11:00 UTC on 18 Nov is 19 Nov in Kiritimati": Case(
        series_with(None, one_off_cancelled(at(5, hour=11))),
        {"excused": 0, "missed": 1},
        rob=("DE-SN", "Pacific/Kiritimati"),
    ),
    "the default country of the configuration": Case(
        series_with(None, one_off_cancelled(at(5))),
        {"excused": 1},
        config={"org": {"country": "DE-SN"}},
    ),
    # Made up: a one-off 1:1 within half the cadence (3.5 days for a weekly series).
    "cancel Monday, meet Wednesday: made up": Case(
        series_with({2: MGR}, one_off(at(12))),
        {
            "scheduled": 5,
            "held": 5,
            "missed": 0,
            "made_up": 1,
            "cancelled_by_manager": 0,
            "consecutive_missed": 0,
            "reasons": [],
        },
    ),
    "a one-off four days later is too far for a weekly 1:1": Case(
        series_with({2: MGR}, one_off(at(10))),
        {"missed": 1, "made_up": 0, "held": 5},
    ),
    "a one-off exactly half the cadence after: made up": Case(
        series_with({2: MGR}, one_off(at(10.5))),
        {"missed": 0, "made_up": 1},
    ),
    "a one-off before the miss makes it up too": Case(
        series_with({2: MGR}, one_off(at(16))),
        {"missed": 0, "made_up": 1},
    ),
    "two misses compete for one one-off: the earlier takes it": Case(
        series_with({2: MGR, 3: MGR}, one_off(at(10.5))),
        {"missed": 1, "made_up": 1, "consecutive_missed": 0, "cancelled_by_manager": 1},
    ),
    "a make-up that has not happened yet (upcoming) counts": Case(
        series_with({4: REP}, one_off(at(-2))),
        {"missed": 0, "made_up": 1, "next_scheduled": "2026-11-25T10:00:00+00:00"},
    ),
    "a cancelled one-off makes nothing up": Case(
        series_with({2: MGR}, lambda graph: [cancel(one_off(at(12))(graph)[0])]),
        {"missed": 2, "made_up": 0},
    ),
    "another pair's one-off makes nothing up": Case(
        series_with({2: MGR}, one_off(at(12), people=(BOSS, REP), organizer=BOSS)),
        {"missed": 1, "made_up": 0},
    ),
    "made up wins over excused": Case(
        series_with({2: MGR}, both(MIA_AWAY, one_off(at(12)))),
        {"missed": 0, "made_up": 1, "excused": 0},
    ),
    "a biweekly 1:1 is made up within 7 days": Case(
        biweekly_with_a_make_up,
        {"missed": 0, "made_up": 1, "intended_cadence_days": 14.0},
    ),
}


def check(engine: Engine, name: str, graph: bool) -> None:
    case = CASES[name]
    people(engine, case.rob, case.mia)
    case.setup(engine, graph)
    view = manager_view(compute(engine, parse_config(case.config), case.as_of), MGR)
    (entry,) = view["reports"]
    assert {key: entry[key] for key in case.expect} == case.expect


@pytest.mark.parametrize("graph", [False, True], ids=["google", "graph"])
@pytest.mark.parametrize("name", list(CASES))
def test_rule(sqlite_url: str, name: str, graph: bool) -> None:
    engine = make_engine(sqlite_url)
    try:
        check(engine, name, graph)
    finally:
        engine.dispose()


BOTH_BACKENDS = [
    "manager cancels while on vacation: excused, not manager_cancels",
    "an absence running past as-of, in the report's zone",
    "the holiday in the person's zone: 23:30 UTC the evening before is 00:30 in Berlin",
    "cancel Monday, meet Wednesday: made up",
]


@pytest.mark.parametrize("name", BOTH_BACKENDS)
def test_rule_on_each_backend(engine: Engine, name: str) -> None:
    check(engine, name, graph=True)


def test_a_timeline_says_what_became_of_each_miss(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        people(engine)
        series_with({1: MGR, 2: MGR}, both(MIA_AWAY, one_off(at(19))))(engine, False)
        view = manager_view(compute(engine, parse_config({}), AS_OF), MGR)
    finally:
        engine.dispose()
    timeline = view["reports"][0]["timeline"]
    by_start = {item["original_start"][:10]: item for item in timeline}
    assert by_start["2026-11-02"]["outcome"] == "made_up"
    assert by_start["2026-11-02"]["made_up_by"] == "2026-11-04T10:00:00+00:00"
    assert by_start["2026-11-02"]["canceller_role"] == "manager"
    assert by_start["2026-11-09"]["outcome"] == "excused"
    assert by_start["2026-11-09"]["made_up_by"] is None
    assert by_start["2026-11-09"]["canceller_role"] == "manager"
    assert by_start["2026-11-04"]["outcome"] == "held"
    assert by_start["2026-11-04"]["canceller_role"] is None
    assert view["summary"]["made_up"] == 1 and view["summary"]["excused"] == 1
    assert view["summary"]["cancellation_rate"] == 0.0


def test_the_worked_example_of_the_docs(sqlite_url: str) -> None:
    """docs/metrics.md "What a miss becomes": Mia in Bavaria, Rob in the US, twelve Mondays."""
    engine = make_engine(sqlite_url)
    try:
        people(engine, rob=("US", None), mia=("DE-BY", "Europe/Berlin"))
        meetings = weekly("w", at(77), 12)
        meetings[8] = cancel(meetings[8])  # 2 Nov, made up on Wednesday 4 Nov
        meetings[9] = cancel(meetings[9])  # 9 Nov, Mia out of office 9-13 Nov
        meetings[10] = cancel(meetings[10], by=REP)  # 16 Nov, a miss
        meetings[11] = cancel(meetings[11], by=REP)  # 23 Nov, Rob out of office 21-27 Nov
        store(
            engine,
            [
                *meetings,
                Meeting("wed", at(19)),
                absence(MGR, at(14), at(10)),
                absence(REP, at(2), at(-4)),
            ],
        )
        view = manager_view(compute(engine, parse_config({}), AS_OF), MGR)
    finally:
        engine.dispose()
    (rob,) = view["reports"]
    assert {
        key: rob[key]
        for key in (
            "held",
            "missed",
            "made_up",
            "excused",
            "cancelled_by_manager",
            "consecutive_missed",
            "away_days",
            "away_until",
            "status",
        )
    } == {
        "held": 9,
        "missed": 1,
        "made_up": 1,
        "excused": 2,
        "cancelled_by_manager": 0,
        "consecutive_missed": 1,
        # Mia's 5 days, Rob's 2.5 up to as-of, Labor Day, Columbus Day (US), German Unity Day
        # and All Saints' Day (Bavaria); Veterans Day falls in Mia's week away.
        "away_days": 11.5,
        "away_until": "2026-11-28T00:00:00+00:00",
        "status": "healthy",
    }
