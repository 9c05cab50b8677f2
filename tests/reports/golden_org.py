"""The fixed small org of the golden tests, stored through the real store functions.

Dana heads the org. Ann (5 reports) gets one pair of every kind: Bob with a streak of misses
(two cancelled by Ann, one late, then Bob's decline), Cleo with no 1:1 at all, Eve with ad hoc
1:1s only and a hostile display name, Finn whose series ended (stale) with a formula for a name,
and Gus on a healthy weekly, who was on vacation for two weeks (two 1:1s called off: excused) and
is out of office again around as-of (today's declined: excused; away until Sunday). Bob manages
Lee (Ann's skip-level pair). Hal has only two reports, so a director sees him by name without
figures, and his sub-org folds into "other"; Hal cancelled one 1:1 with Jon and met him two days
later (made up), and one with Kim, who works in the US, on Labor Day (excused). Events go in
through ``save_events`` and people through the ``Person`` model (tests/pipeline/builders).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, update

from cadence.store.models import Person
from pipeline.builders import AS_OF, Meeting, add_people, changed, store, weekly

DANA, ANN, HAL, IVY = "dana@acme.test", "ann@acme.test", "hal@acme.test", "ivy@acme.test"
BOB, CLEO, EVE, FINN, GUS = (f"{n}@acme.test" for n in ("bob", "cleo", "eve", "finn", "gus"))
JON, KIM, LEE = "jon@acme.test", "kim@acme.test", "lee@acme.test"
HOSTILE = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("http://x")'
PEOPLE = [
    (DANA, "Dana Diaz", None),
    (ANN, "Ann Archer", DANA),
    (HAL, "Hal Hughes", DANA),
    (IVY, "Ivy Ives", DANA),
    (BOB, "Bob Baker", ANN),
    (CLEO, "Cleo Clark", ANN),
    (EVE, HOSTILE, ANN),
    (FINN, FORMULA, ANN),
    (GUS, "Gus Green", ANN),
    (JON, "Jon Jones", HAL),
    (KIM, "Kim Kline", HAL),
    (LEE, "Lee Lopez", BOB),
]
REPORTS_OF_ANN = {BOB, CLEO, EVE, FINN, GUS}
# Monday 10:00 UTC, 26 weeks before as-of: the trend window's first week.
START = AS_OF.replace(hour=10) - timedelta(weeks=26)


def _series(uid: str, manager: str, report: str, count: int = 28, **kw: object) -> list[Meeting]:
    kw.setdefault("organizer", manager)
    return weekly(uid, START, count, people=(manager, report), **kw)


def _out_of_office(who: str, first_day: int, days: int) -> Meeting:
    """An all-day out-of-office event in ``who``'s calendar: ``days`` days from START's date
    plus ``first_day`` days."""
    return Meeting(
        f"oof-{who}-{first_day}",
        START.replace(hour=0) + timedelta(days=first_day),
        people=(who,),
        organizer=who,
        minutes=days * 24 * 60,
        all_day=True,
        event_type="outOfOffice",
    )


def build(engine: Engine) -> None:
    add_people(engine, PEOPLE)
    with engine.begin() as conn:
        conn.execute(
            update(Person)
            .where(Person.email == KIM)
            .values(country="US", timezone="America/New_York")
        )
    bob = _series("ann-bob", ANN, BOB)
    # The last three up to as-of missed: Ann cancels twice (once two hours before), Bob declines.
    bob[24] = changed(bob[24], status="cancelled")
    bob[25] = changed(
        bob[25], status="cancelled", updated=bob[25].original_start - timedelta(hours=2)
    )
    bob[26] = changed(bob[26], declined={BOB: bob[26].original_start - timedelta(days=3)})
    bob[20] = changed(bob[20], start=bob[20].original_start + timedelta(days=1))  # moved
    eve = [
        Meeting(
            f"ann-eve-{i}", START + timedelta(weeks=i, hours=3), people=(ANN, EVE), organizer=ANN
        )
        for i in range(0, 26, 3)
    ]
    finn = _series(
        "ann-finn", ANN, FINN, count=20, recurrence="RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=20"
    )
    ivy = _series("dana-ivy", DANA, IVY, organizer=IVY)
    for i in (5, 12, 19):
        ivy[i] = changed(ivy[i], status="cancelled")
    lee = [  # Ann's skip-level 1:1 with Lee, every four weeks
        Meeting(
            "ann-lee",
            START + timedelta(weeks=4 * i, hours=5),
            people=(ANN, LEE),
            organizer=ANN,
            recurrence="RRULE:FREQ=WEEKLY;INTERVAL=4;BYDAY=MO",
        )
        for i in range(8)
    ]
    gus = _series("ann-gus", ANN, GUS)
    # Two weeks away in weeks 16 and 17 (Ann cancels one, Gus declines the other), then away
    # again since Saturday.
    gus[16] = changed(gus[16], status="cancelled")
    gus[17] = changed(gus[17], declined={GUS: gus[17].original_start - timedelta(days=9)})
    gus[26] = changed(gus[26], declined={GUS: gus[26].original_start - timedelta(days=9)})
    jon = _series("hal-jon", HAL, JON)
    jon[22] = changed(jon[22], status="cancelled")
    rebooked = Meeting(
        "hal-jon-rebooked",
        jon[22].original_start + timedelta(days=2),
        people=(HAL, JON),
        organizer=HAL,
    )
    kim = _series("hal-kim", HAL, KIM)
    kim[15] = changed(kim[15], status="cancelled")  # Monday 7 September 2026: Labor Day
    meetings = [
        _out_of_office(GUS, 112, 12),
        _out_of_office(GUS, 180, 8),
        rebooked,
        *lee,
        *bob,
        *eve,
        *finn,
        *gus,
        *_series("bob-lee", BOB, LEE),
        *_series("dana-ann", DANA, ANN, recurrence="RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO")[::2],
        *_series("dana-hal", DANA, HAL),
        *ivy,
        *jon,
        *kim,
    ]
    store(engine, meetings)
