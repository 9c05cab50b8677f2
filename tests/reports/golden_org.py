"""The fixed small org of the golden tests, stored through the real store functions.

Dana heads the org. Ann (5 reports) gets one pair of every kind: Bob with a streak of misses
(two cancelled by Ann, one late, then Bob's decline), Cleo with no 1:1 at all, Eve with ad hoc
1:1s only and a hostile display name, Finn whose series ended (stale) with a formula for a name,
and Gus on a healthy weekly. Bob manages Lee (Ann's skip-level pair). Hal has only two reports,
so a director sees him by name without figures, and his sub-org folds into "other". Events go
in through ``save_events`` and people through the ``Person`` model (tests/pipeline/builders).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

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


def build(engine: Engine) -> None:
    add_people(engine, PEOPLE)
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
    meetings = [
        *lee,
        *bob,
        *eve,
        *finn,
        *_series("ann-gus", ANN, GUS),
        *_series("bob-lee", BOB, LEE),
        *_series("dana-ann", DANA, ANN, recurrence="RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO")[::2],
        *_series("dana-hal", DANA, HAL),
        *ivy,
        *_series("hal-jon", HAL, JON),
        *_series("hal-kim", HAL, KIM),
    ]
    store(engine, meetings)
