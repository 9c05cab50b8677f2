"""Away time (cadence.pipeline.away) on small hand-built frames: the out-of-office and holiday
rules, each edge the module docstring decides, the per-pair figures, and Hypothesis properties
of the union (it never shrinks when an absence is added; merged intervals are sorted, disjoint
and never touch; ``in_away`` agrees with a brute-force check; row order changes nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadence.frames import ATTENDEE_COLUMNS, EVENT_COLUMNS, EVENT_TIMES, StoreFrames
from cadence.pipeline.away import (
    HORIZON,
    AwayParams,
    absences,
    away_between,
    away_days,
    away_until,
    holiday_dates,
    in_away,
    merge_intervals,
    pair_away,
    person_away,
)
from cadence.pipeline.org import build_org
from cadence.pipeline.params import Params, Thresholds

AS_OF = pd.Timestamp("2026-11-23T12:00Z")  # a Monday, noon
MIA, ROB, DANA = "mia@acme.test", "rob@acme.test", "dana@acme.test"
AP = AwayParams(
    since=AS_OF - pd.Timedelta(weeks=26), until=AS_OF + pd.Timedelta(days=366), timezone="UTC"
)

THRESHOLDS = Thresholds(24, 3, 3, 2, 2, 14, 4, 0.5, 0.25, 2, 0.5)


def t(text: str) -> pd.Timestamp:
    """An instant; a bare date is UTC midnight (how all-day events are stored)."""
    stamp = pd.Timestamp(text)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


@dataclass
class Person:
    email: str
    manager: str | None = None
    country: str | None = None
    timezone: str | None = None


@dataclass
class Oof:
    """One stored event copy (out of office unless ``event_type`` says otherwise)."""

    mailbox: str
    start: str | None
    end: str | None
    all_day: bool | None = False
    status: str = "confirmed"
    event_type: str | None = "outOfOffice"
    original_start: str | None = None
    answers: Sequence[tuple[str, str]] = ()  # (email, response) attendee rows
    same_time: bool = False  # every answer last seen at the same time (else in their order)


@dataclass
class World:
    people: Sequence[Person] = (Person(DANA), Person(MIA, DANA), Person(ROB, MIA))
    events: Sequence[Oof] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    columns: bool = True  # whether people has the country and timezone columns


def frames(w: World) -> StoreFrames:
    people = pd.DataFrame(
        {
            "email": [p.email for p in w.people],
            "name": [p.email.split("@")[0].title() for p in w.people],
            "manager_email": [p.manager for p in w.people],
            "team": [None] * len(w.people),
        }
    )
    if w.columns:
        people["country"] = [p.country for p in w.people]
        people["timezone"] = [p.timezone for p in w.people]
    rows = []
    answers = []
    for copy_id, e in enumerate(w.events):
        row: dict[str, object] = dict.fromkeys(EVENT_COLUMNS)
        row.update(
            source="g",
            mailbox=e.mailbox,
            event_id=f"oof{copy_id}",
            ical_uid=f"oof{copy_id}",
            start=None if e.start is None else t(e.start),
            end=None if e.end is None else t(e.end),
            original_start=None if e.original_start is None else t(e.original_start),
            all_day=e.all_day,
            event_type=e.event_type,
            status=e.status,
            last_seen=AS_OF,
            listed=len(e.answers),
            copy_id=copy_id,
        )
        rows.append(row)
        for i, (email, response) in enumerate(e.answers):
            answers.append(
                {
                    **dict.fromkeys(ATTENDEE_COLUMNS),
                    "email": email,
                    "response": response,
                    "is_organizer": False,
                    "is_resource": False,
                    "last_seen": AS_OF
                    - pd.Timedelta(days=0 if e.same_time else len(e.answers) - i),
                    "copy_id": copy_id,
                }
            )
    events = pd.DataFrame(rows, columns=[*EVENT_COLUMNS, "listed", "copy_id"])
    for name in EVENT_TIMES:
        events[name] = pd.to_datetime(events[name], utc=True)
    events["all_day"] = events["all_day"].astype("boolean")
    for name in ("source", "mailbox", "event_type", "status"):
        events[name] = events[name].astype("category")
    att_columns = [c for c in ATTENDEE_COLUMNS if c not in ("source", "mailbox", "event_id")]
    attendees = pd.DataFrame(answers, columns=[*att_columns, "copy_id"])
    attendees["last_seen"] = pd.to_datetime(attendees["last_seen"], utc=True)
    attendees["email"] = attendees["email"].astype("category")
    attendees["response"] = attendees["response"].astype("category")
    aliases = pd.DataFrame({"alias": list(w.aliases), "email": list(w.aliases.values())})
    return StoreFrames(people=people, aliases=aliases, events=events, attendees=attendees)


def away_of(w: World, person: str, ap: AwayParams = AP, kind: str | None = None) -> list[tuple]:
    """One person's merged away intervals (or their raw absences of one kind) as ISO pairs."""
    f = frames(w)
    org = build_org(f.people, f.aliases)
    if kind is None:
        rows = person_away(f, org, ap)
    else:
        rows = absences(f, org, ap)
        rows = rows[rows["kind"] == kind]
    rows = rows[rows["person"] == person]
    return [(s.isoformat(), e.isoformat()) for s, e in zip(rows["start"], rows["end"], strict=True)]


def iso(*pairs: tuple[str, str]) -> list[tuple[str, str]]:
    return [(t(s).isoformat(), t(e).isoformat()) for s, e in pairs]


def rob(**kw: object) -> Person:
    return Person(ROB, MIA, **kw)  # type: ignore[arg-type]


# --- out of office ---------------------------------------------------------------------------

OOF_CASES = {
    "timed: start to end": (
        World(events=[Oof(ROB, "2026-11-10T13:00Z", "2026-11-12T17:00Z")]),
        iso(("2026-11-10T13:00Z", "2026-11-12T17:00Z")),
    ),
    "all-day in UTC: midnight to midnight after the last day": (
        World(events=[Oof(ROB, "2026-11-10", "2026-11-12", all_day=True)]),
        iso(("2026-11-10", "2026-11-12")),
    ),
    "all-day in Berlin: the dates' local midnights": (
        World(
            people=[Person(MIA), rob(timezone="Europe/Berlin")],
            events=[Oof(ROB, "2026-11-10", "2026-11-12", all_day=True)],
        ),
        iso(("2026-11-09T23:00Z", "2026-11-11T23:00Z")),
    ),
    "all-day in Pacific/Kiritimati (UTC+14): starts the UTC day before": (
        World(
            people=[Person(MIA), rob(timezone="Pacific/Kiritimati")],
            events=[Oof(ROB, "2026-11-10", "2026-11-11", all_day=True)],
        ),
        iso(("2026-11-09T10:00Z", "2026-11-10T10:00Z")),
    ),
    "all-day in Pacific/Pago_Pago (UTC-11)": (
        World(
            people=[Person(MIA), rob(timezone="Pacific/Pago_Pago")],
            events=[Oof(ROB, "2026-11-10", "2026-11-11", all_day=True)],
        ),
        iso(("2026-11-10T11:00Z", "2026-11-11T11:00Z")),
    ),
    "a midnight that never happens (Havana, 8 March) starts the day past the gap": (
        World(
            people=[Person(MIA), rob(timezone="America/Havana")],
            events=[Oof(ROB, "2026-03-08", "2026-03-09", all_day=True)],
        ),
        iso(("2026-03-08T01:00-04:00", "2026-03-09T00:00-04:00")),  # 23 hours
    ),
    "the day before it ends where that day starts: they merge": (
        World(
            people=[Person(MIA), rob(timezone="America/Havana")],
            events=[
                Oof(ROB, "2026-03-07", "2026-03-08", all_day=True),
                Oof(ROB, "2026-03-08", "2026-03-09", all_day=True),
            ],
        ),
        iso(("2026-03-07T00:00-05:00", "2026-03-09T00:00-04:00")),
    ),
    "a midnight that happens twice (Havana, 1 November) is the earlier": (
        World(
            people=[Person(MIA), rob(timezone="America/Havana")],
            events=[Oof(ROB, "2026-11-01", "2026-11-02", all_day=True)],
        ),
        iso(("2026-11-01T00:00-04:00", "2026-11-02T00:00-05:00")),  # 25 hours
    ),
    "Santiago's skipped midnight (6 September)": (
        World(
            people=[Person(MIA), rob(timezone="America/Santiago")],
            events=[Oof(ROB, "2026-09-06", "2026-09-07", all_day=True)],
        ),
        iso(("2026-09-06T01:00-03:00", "2026-09-07T00:00-03:00")),
    ),
    "London's 25-hour day when clocks go back": (
        World(
            people=[Person(MIA), rob(timezone="Europe/London")],
            events=[Oof(ROB, "2026-10-25", "2026-10-26", all_day=True)],
        ),
        iso(("2026-10-24T23:00Z", "2026-10-26T00:00Z")),
    ),
    "an absence running past as-of is kept whole": (
        World(events=[Oof(ROB, "2026-11-20T09:00Z", "2026-12-04T17:00Z")]),
        iso(("2026-11-20T09:00Z", "2026-12-04T17:00Z")),
    ),
    "overlapping absences merge": (
        World(
            events=[
                Oof(ROB, "2026-11-10T09:00Z", "2026-11-10T12:00Z"),
                Oof(ROB, "2026-11-10T11:00Z", "2026-11-10T15:00Z"),
                Oof(ROB, "2026-11-10T09:30Z", "2026-11-10T10:00Z"),
            ]
        ),
        iso(("2026-11-10T09:00Z", "2026-11-10T15:00Z")),
    ),
    "adjacent absences merge; a gap keeps them apart": (
        World(
            events=[
                Oof(ROB, "2026-11-10T09:00Z", "2026-11-10T12:00Z"),
                Oof(ROB, "2026-11-10T12:00Z", "2026-11-10T15:00Z"),
                Oof(ROB, "2026-11-10T15:01Z", "2026-11-10T16:00Z"),
            ]
        ),
        iso(("2026-11-10T09:00Z", "2026-11-10T15:00Z"), ("2026-11-10T15:01Z", "2026-11-10T16:00Z")),
    ),
    "a timed absence next to an all-day one merges": (
        World(
            events=[
                Oof(ROB, "2026-11-10", "2026-11-11", all_day=True),
                Oof(ROB, "2026-11-11T00:00Z", "2026-11-11T12:00Z"),
            ]
        ),
        iso(("2026-11-10", "2026-11-11T12:00Z")),
    ),
    "declined by its owner: not away": (
        World(events=[Oof(ROB, "2026-11-10", "2026-11-11", True, answers=[(ROB, "declined")])]),
        [],
    ),
    "declined under an alias: not away": (
        World(
            events=[
                Oof(ROB, "2026-11-10", "2026-11-11", True, answers=[("Bob@Acme.test", "declined")])
            ],
            aliases={"bob@acme.test": ROB},
        ),
        [],
    ),
    "declined, then accepted later: the latest answer counts": (
        World(
            events=[
                Oof(
                    ROB,
                    "2026-11-10",
                    "2026-11-11",
                    True,
                    answers=[("bob@acme.test", "declined"), (ROB, "accepted")],
                )
            ],
            aliases={"bob@acme.test": ROB},
        ),
        iso(("2026-11-10", "2026-11-11")),
    ),
    "two answers seen at once that disagree: declined": (
        World(
            events=[
                Oof(
                    ROB,
                    "2026-11-10",
                    "2026-11-11",
                    True,
                    answers=[("bob@acme.test", "declined"), (ROB, "accepted")],
                    same_time=True,
                )
            ],
            aliases={"bob@acme.test": ROB},
        ),
        [],
    ),
    "someone else's decline does not count": (
        World(events=[Oof(ROB, "2026-11-10", "2026-11-11", True, answers=[(MIA, "declined")])]),
        iso(("2026-11-10", "2026-11-11")),
    ),
    "a cancelled absence: not away": (
        World(events=[Oof(ROB, "2026-11-10", "2026-11-11", True, status="cancelled")]),
        [],
    ),
    "an ordinary event is no absence": (
        World(events=[Oof(ROB, "2026-11-10", "2026-11-11", True, event_type="default")]),
        [],
    ),
    "an absence in someone else's calendar, listing rob: rob is not away": (
        World(events=[Oof(MIA, "2026-11-10", "2026-11-11", True, answers=[(ROB, "accepted")])]),
        [],
    ),
    "the mailbox is resolved: trimmed, any case, an alias": (
        World(
            events=[Oof(" Robert@ACME.test ", "2026-11-10", "2026-11-11", all_day=True)],
            aliases={"robert@acme.test": ROB},
        ),
        iso(("2026-11-10", "2026-11-11")),
    ),
    "no people row for the zone: the default zone": (
        World(
            people=[Person(MIA)],
            events=[Oof(ROB, "2026-11-10", "2026-11-11", all_day=True)],
        ),
        iso(("2026-11-10", "2026-11-11")),
    ),
    "an unknown zone name: the default zone": (
        World(
            people=[Person(MIA), rob(timezone="Mars/Olympus_Mons")],
            events=[Oof(ROB, "2026-11-10", "2026-11-11", all_day=True)],
        ),
        iso(("2026-11-10", "2026-11-11")),
    ),
    "all-day with no end: one day": (
        World(events=[Oof(ROB, "2026-11-10", None, all_day=True)]),
        iso(("2026-11-10", "2026-11-11")),
    ),
    "all-day ending on its start date: one day": (
        World(events=[Oof(ROB, "2026-11-10", "2026-11-10", all_day=True)]),
        iso(("2026-11-10", "2026-11-11")),
    ),
    "all-day ending mid-day: rounded up to the next date": (
        World(events=[Oof(ROB, "2026-11-10", "2026-11-11T05:00Z", all_day=True)]),
        iso(("2026-11-10", "2026-11-12")),
    ),
    "timed with no end, or ending at its start: no time": (
        World(
            events=[
                Oof(ROB, "2026-11-10T09:00Z", None),
                Oof(ROB, "2026-11-11T09:00Z", "2026-11-11T09:00Z"),
            ]
        ),
        [],
    ),
    "no start: the original start": (
        World(events=[Oof(ROB, None, "2026-11-10T12:00Z", original_start="2026-11-10T09:00Z")]),
        iso(("2026-11-10T09:00Z", "2026-11-10T12:00Z")),
    ),
    "all-day flag unknown: timed": (
        World(events=[Oof(ROB, "2026-11-10T09:00Z", "2026-11-10T12:00Z", all_day=None)]),
        iso(("2026-11-10T09:00Z", "2026-11-10T12:00Z")),
    ),
}


@pytest.mark.parametrize("case", list(OOF_CASES))
def test_out_of_office(case: str) -> None:
    world, expected = OOF_CASES[case]
    assert away_of(world, ROB) == expected


def test_default_zone_parameter_for_null_zone() -> None:
    world = World(
        people=[Person(MIA), rob(timezone=None)],
        events=[Oof(ROB, "2026-11-10", "2026-11-11", all_day=True)],
    )
    berlin = AwayParams(AP.since, AP.until, timezone="Europe/Berlin")
    assert away_of(world, ROB, berlin) == iso(("2026-11-09T23:00Z", "2026-11-10T23:00Z"))
    no_columns = World(people=world.people, events=world.events, columns=False)
    assert away_of(no_columns, ROB, berlin) == iso(("2026-11-09T23:00Z", "2026-11-10T23:00Z"))


def test_a_person_listed_twice_is_the_row_naming_a_country() -> None:
    people = [Person(MIA), rob(), Person(" ROB@acme.test", MIA, "GB-SCT", "Europe/London")]
    for rows in (people, people[::-1]):
        holidays = away_of(World(people=rows), ROB, kind="holiday")
        assert ("2026-11-30T00:00:00+00:00", "2026-12-01T00:00:00+00:00") in holidays


def test_other_calendar_makes_its_owner_away() -> None:
    world = World(events=[Oof(MIA, "2026-11-10", "2026-11-11", True, answers=[(ROB, "accepted")])])
    assert away_of(world, MIA) == iso(("2026-11-10", "2026-11-11"))
    assert away_of(world, ROB) == []


# --- holidays ----------------------------------------------------------------------------------

# (country, zone, local date, listed?): what the holidays package lists, in the person's zone.
HOLIDAY_CASES = [
    ("US-CA", "America/Los_Angeles", "2026-03-31", True),  # Cesar Chavez Day
    ("US", "America/Los_Angeles", "2026-03-31", False),  # California only
    ("US-NY", "America/New_York", "2026-03-31", False),
    ("GB-SCT", "Europe/London", "2026-11-30", True),  # St Andrew's Day
    ("GB-ENG", "Europe/London", "2026-11-30", False),
    ("DE-BY", "Europe/Berlin", "2026-01-06", True),  # Epiphany
    ("DE-BE", "Europe/Berlin", "2026-01-06", False),
    ("DE", "Europe/Berlin", "2026-01-06", False),
    ("DE-ZZ", "Europe/Berlin", "2026-12-25", True),  # unknown subdivision: national holidays
    ("DE-ZZ", "Europe/Berlin", "2026-01-06", False),
    (" de-by ", "Europe/Berlin", "2026-01-06", True),  # trimmed, any case
    ("US-AS", "Pacific/Pago_Pago", "2026-12-25", True),
    ("KI", "Pacific/Kiritimati", "2026-12-25", True),
    ("US", "America/New_York", "2026-07-03", True),  # Independence Day (observed), as listed
    ("XX", "UTC", "2026-12-25", False),  # unknown country: none
    ("", "UTC", "2026-12-25", False),
]


# Every day of 2026 asked about: the cases' days are the year's.
YEAR_2026 = AwayParams(t("2026-01-01"), t("2026-12-31"), "UTC")


@pytest.mark.parametrize(("country", "zone", "day", "listed"), HOLIDAY_CASES)
def test_holidays(country: str, zone: str, day: str, listed: bool) -> None:
    world = World(people=[Person(MIA), rob(country=country, timezone=zone)])
    start = pd.Timestamp(day).tz_localize(zone)
    end = (pd.Timestamp(day) + pd.Timedelta(days=1)).tz_localize(zone)
    interval = (start.tz_convert("UTC").isoformat(), end.tz_convert("UTC").isoformat())
    assert (interval in away_of(world, ROB, YEAR_2026, kind="holiday")) is listed


def test_holiday_in_far_zones_is_the_local_day() -> None:
    world = World(
        people=[
            Person(MIA, country="US-AS", timezone="Pacific/Pago_Pago"),
            rob(country="KI", timezone="Pacific/Kiritimati"),
        ]
    )
    christmas = ("2026-12-25T11:00:00+00:00", "2026-12-26T11:00:00+00:00")  # UTC-11
    assert christmas in away_of(world, MIA, kind="holiday")
    christmas = ("2026-12-24T10:00:00+00:00", "2026-12-25T10:00:00+00:00")  # UTC+14
    assert christmas in away_of(world, ROB, kind="holiday")


def test_null_country_has_no_holidays_unless_a_default_is_given() -> None:
    world = World(people=[Person(MIA), rob(country=None, timezone="Europe/Berlin")])
    assert away_of(world, ROB) == []
    german = AwayParams(AP.since, AP.until, timezone="UTC", country="DE")
    christmas = iso(("2026-12-24T23:00Z", "2026-12-26T23:00Z"))[0]  # both days of Christmas
    assert christmas in away_of(world, ROB, german)
    # A manager with no people row of their own has the defaults.
    orphan = World(people=[rob(country=None)])
    assert iso(("2026-12-25", "2026-12-27"))[0] in away_of(orphan, MIA, german)


def test_only_the_days_needed() -> None:
    world = World(people=[Person(MIA), rob(country="GB-ENG", timezone="Europe/London")])
    days = [s[:10] for s, _ in away_of(world, ROB)]
    assert "2027-01-01" in days  # AP asks up to a year past as-of
    assert "2025-12-25" not in days and "2029-01-01" not in days
    earlier = AwayParams(t("2025-03-01"), AP.until, "UTC")
    assert "2025-12-25" in [s[:10] for s, _ in away_of(world, ROB, earlier)]
    p = Params(AS_OF, 12, 26, 5, "Europe/London", THRESHOLDS)
    ap = AwayParams.from_params(p, country="GB")
    assert ap.since == p.load_since and ap.until == AS_OF + HORIZON
    assert (ap.timezone, ap.country) == ("Europe/London", "GB")
    # A run asks about days up to two weeks past as-of: Christmas is, New Year's Day is not...
    days = [s[:10] for s, _ in away_of(world, ROB, ap)]
    assert "2026-12-25" not in days  # more than HORIZON after as-of (23 Nov)
    near = AwayParams(ap.since, t("2026-12-25"), "UTC")
    assert "2026-12-25" in [s[:10] for s, _ in away_of(world, ROB, near)]
    # ...unless an absence runs up to it: then the stretch ends where it really ends.
    away = World(people=world.people, events=[Oof(ROB, "2026-11-20", "2027-01-01", all_day=True)])
    (stretch,) = [i for i in away_of(away, ROB, ap) if i[0][:10] == "2026-11-20"]
    assert stretch[1][:10] == "2027-01-02"  # through New Year's Day


def test_holiday_dates_are_the_packages() -> None:
    assert np.datetime64("2026-03-31") in holiday_dates("US-CA", 2026, 2026)
    assert holiday_dates("XX", 2026, 2026) == ()


# --- pairs ---------------------------------------------------------------------------------------

PAIR_WORLD = World(
    people=[Person(DANA), Person(MIA, DANA), rob(country="US", timezone="America/New_York")],
    events=[
        Oof(MIA, "2026-11-10T09:00Z", "2026-11-10T12:00Z"),
        Oof(ROB, "2026-11-10T11:00Z", "2026-11-10T15:00Z"),
        Oof(MIA, "2026-11-20T00:00Z", "2026-11-24T00:00Z"),
        Oof(DANA, "2026-11-16", "2026-11-17", all_day=True),
    ],
)


@pytest.fixture
def pair_intervals() -> tuple[pd.DataFrame, pd.DataFrame]:
    f = frames(PAIR_WORLD)
    org = build_org(f.people, f.aliases)
    return pair_away(person_away(f, org, AP), org.pairs), org.pairs


def _pid(pairs: pd.DataFrame, manager: str, report: str) -> int:
    return int(pairs.index[(pairs["manager"] == manager) & (pairs["report"] == report)][0])


def test_pair_away_is_the_union(pair_intervals: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    intervals, pairs = pair_intervals
    mia_rob, dana_mia = _pid(pairs, MIA, ROB), _pid(pairs, DANA, MIA)
    mine = intervals[intervals["pair_id"] == mia_rob]
    window = mine[(mine["start"] >= t("2026-11-01")) & (mine["start"] < t("2026-11-25"))]
    assert list(zip(window["start"], window["end"], strict=True)) == [
        (t("2026-11-10T09:00Z"), t("2026-11-10T15:00Z")),
        (t("2026-11-11T05:00Z"), t("2026-11-12T05:00Z")),  # Veterans Day in New York
        (t("2026-11-20T00:00Z"), t("2026-11-24T00:00Z")),
    ]
    # Rob's holidays and absences are not Dana's pair's; Dana's day off is not Rob's pair's.
    theirs = intervals[intervals["pair_id"] == dana_mia]
    assert list(zip(theirs["start"], theirs["end"], strict=True)) == [
        (t("2026-11-10T09:00Z"), t("2026-11-10T12:00Z")),
        (t("2026-11-16"), t("2026-11-17")),
        (t("2026-11-20T00:00Z"), t("2026-11-24T00:00Z")),
    ]
    assert list(intervals.columns) == ["pair_id", "start", "end"]
    assert str(intervals["start"].dtype) == "datetime64[ns, UTC]"


def test_in_away(pair_intervals: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    intervals, pairs = pair_intervals
    p = _pid(pairs, MIA, ROB)
    cases = [
        (p, "2026-11-10T09:00Z", True),  # the first instant of an absence
        (p, "2026-11-10T14:59Z", True),
        (p, "2026-11-10T15:00Z", False),  # its end is no longer away
        (p, "2026-11-10T08:59Z", False),
        (p, "2026-11-16T10:00Z", False),  # Dana's day off is not this pair's
        (_pid(pairs, DANA, MIA), "2026-11-16T10:00Z", True),
        (999, "2026-11-10T10:00Z", False),  # no such pair
        (p, None, False),  # no instant
    ]
    ids = [c[0] for c in cases]
    instants = pd.Series(
        [None if c[1] is None else t(c[1]) for c in cases], dtype="datetime64[ns, UTC]"
    )
    assert in_away(intervals, ids, instants).tolist() == [c[2] for c in cases]
    assert in_away(intervals, [], pd.Series([], dtype="datetime64[ns, UTC]")).tolist() == []


def test_away_days_between_and_until(pair_intervals: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    intervals, pairs = pair_intervals
    p, q = _pid(pairs, MIA, ROB), _pid(pairs, DANA, MIA)
    ids = pd.Index([p, q, 999], name="pair_id")
    # (2026-11-10T12:00Z, as-of]: p has 3 h, Veterans Day (24 h) and 3.5 days up to as-of.
    days = away_days(intervals, t("2026-11-10T12:00Z"), AS_OF, ids)
    assert days.loc[p] == pytest.approx((3 + 24 + 84) / 24)
    assert days.loc[q] == pytest.approx((24 + 84) / 24)
    assert days.loc[999] == 0.0
    until = away_until(intervals, AS_OF, ids)
    assert until.loc[p] == t("2026-11-24T00:00Z") and until.loc[q] == t("2026-11-24T00:00Z")
    assert pd.isna(until.loc[999])
    assert pd.isna(away_until(intervals, t("2026-11-24T00:00Z"), ids).loc[p])  # at the end: not
    assert away_until(intervals, t("2026-11-20T00:00Z"), ids).loc[p] == t("2026-11-24T00:00Z")
    # Per-pair starts (last held), one end; a null start is null; an empty span is zero.
    last_held = pd.Series(
        [t("2026-11-10T14:00Z"), pd.NaT], index=[p, q], dtype="datetime64[ns, UTC]"
    )
    between = away_between(intervals, last_held, AS_OF)
    assert between.loc[p] == pd.Timedelta(hours=1 + 24 + 84)
    assert pd.isna(between.loc[q])
    assert away_between(intervals, AS_OF, t("2026-11-01"), ids).tolist() == [pd.Timedelta(0)] * 3
    assert list(away_days(intervals, AS_OF - pd.Timedelta(weeks=12), AS_OF).index) == sorted(
        intervals["pair_id"].unique()
    )


# --- properties ----------------------------------------------------------------------------------

BASE = t("2026-11-01")
MINUTE = pd.Timedelta(minutes=1)
raw_intervals = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 600), st.integers(-5, 120)), max_size=30
)


def _frame(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pair_id": pd.Series([r[0] for r in rows], dtype=np.int64),
            "start": pd.Series([BASE + r[1] * MINUTE for r in rows], dtype="datetime64[ns, UTC]"),
            "end": pd.Series(
                [BASE + (r[1] + r[2]) * MINUTE for r in rows], dtype="datetime64[ns, UTC]"
            ),
        }
    )


def _brute(rows: list[tuple[int, int, int]], key: int, minute: int) -> bool:
    return any(k == key and s <= minute < s + n for k, s, n in rows)


GRID = [(k, m) for k in range(5) for m in range(-2, 725, 3)]


@settings(max_examples=150, deadline=None)
@given(rows=raw_intervals)
def test_merged_intervals_are_sorted_disjoint_and_apart(rows: list[tuple[int, int, int]]) -> None:
    merged = merge_intervals(_frame(rows), "pair_id")
    assert (merged["start"] < merged["end"]).all()
    for _, part in merged.groupby("pair_id"):
        assert (part["start"].iloc[1:].to_numpy() > part["end"].iloc[:-1].to_numpy()).all()
    keys = merged["pair_id"].to_numpy()
    assert (np.diff(keys) >= 0).all()


@settings(max_examples=150, deadline=None)
@given(rows=raw_intervals)
def test_in_away_agrees_with_brute_force(rows: list[tuple[int, int, int]]) -> None:
    merged = merge_intervals(_frame(rows), "pair_id")
    ids = [k for k, _ in GRID]
    instants = pd.Series([BASE + m * MINUTE for _, m in GRID], dtype="datetime64[ns, UTC]")
    assert in_away(merged, ids, instants).tolist() == [_brute(rows, k, m) for k, m in GRID]
    # The measure of the union is the brute-force count of away minutes.
    total = away_between(merged, BASE - MINUTE, BASE + 800 * MINUTE, pd.Index(range(4)))
    minutes = [sum(_brute(rows, k, m) for m in range(-1, 800)) for k in range(4)]
    assert (total.dt.total_seconds() / 60).tolist() == minutes


@settings(max_examples=100, deadline=None)
@given(
    rows=raw_intervals, extra=st.tuples(st.integers(0, 3), st.integers(0, 600), st.integers(0, 120))
)
def test_union_never_shrinks(rows: list[tuple[int, int, int]], extra: tuple[int, int, int]) -> None:
    before = merge_intervals(_frame(rows), "pair_id")
    after = merge_intervals(_frame([*rows, extra]), "pair_id")
    ids = [k for k, _ in GRID]
    instants = pd.Series([BASE + m * MINUTE for _, m in GRID], dtype="datetime64[ns, UTC]")
    was, now = in_away(before, ids, instants), in_away(after, ids, instants)
    assert not (was & ~now).any()
    span = (BASE - MINUTE, BASE + 800 * MINUTE)
    pairs = pd.Index(range(4))
    assert (away_between(after, *span, pairs) >= away_between(before, *span, pairs)).all()


ZONES = ["UTC", "America/Havana", "Pacific/Kiritimati", "Pacific/Pago_Pago", None]
oofs = st.builds(
    Oof,
    mailbox=st.sampled_from([MIA, ROB, DANA, "bob@acme.test"]),
    start=st.integers(0, 40).map(lambda d: (BASE + pd.Timedelta(hours=6 * d)).isoformat()),
    end=st.integers(0, 40).map(lambda d: (BASE + pd.Timedelta(hours=6 * d + 3)).isoformat()),
    all_day=st.sampled_from([True, False, None]),
    status=st.sampled_from(["confirmed", "confirmed", "cancelled"]),
    event_type=st.sampled_from(["outOfOffice", "outOfOffice", "default"]),
    same_time=st.booleans(),
    answers=st.lists(
        st.tuples(
            st.sampled_from([MIA, ROB, "bob@acme.test"]), st.sampled_from(["declined", "accepted"])
        ),
        max_size=2,
    ),
)
worlds = st.builds(
    World,
    people=st.tuples(
        st.builds(
            Person,
            st.just(DANA),
            st.none(),
            st.sampled_from(["US-CA", "GB-SCT", None]),
            st.sampled_from(ZONES),
        ),
        st.builds(
            Person,
            st.just(MIA),
            st.just(DANA),
            st.sampled_from(["DE-BY", "XX", None]),
            st.sampled_from(ZONES),
        ),
        st.builds(
            Person,
            st.just(ROB),
            st.just(MIA),
            st.sampled_from(["US", None]),
            st.sampled_from(ZONES),
        ),
    ),
    events=st.lists(oofs, max_size=8),
    aliases=st.just({"bob@acme.test": ROB}),
)


@settings(max_examples=40, deadline=None)
@given(world=worlds, seed=st.integers(0, 2**31))
def test_row_order_changes_nothing(world: World, seed: int) -> None:
    f = frames(world)
    org = build_org(f.people, f.aliases)
    base = person_away(f, org, AP)
    shuffled = StoreFrames(
        people=f.people.sample(frac=1, random_state=seed),
        aliases=f.aliases,
        events=f.events.sample(frac=1, random_state=seed),
        attendees=f.attendees.sample(frac=1, random_state=seed + 1),
    )
    again = person_away(shuffled, org, AP)
    pd.testing.assert_frame_equal(again, base)
    pairs = org.pairs.sample(frac=1, random_state=seed)
    pd.testing.assert_frame_equal(pair_away(again, pairs), pair_away(base, org.pairs))


@settings(max_examples=40, deadline=None)
@given(world=worlds, extra=oofs)
def test_adding_an_absence_never_shrinks_a_pairs_away_time(world: World, extra: Oof) -> None:
    def pair_intervals(w: World) -> tuple[pd.DataFrame, pd.DataFrame]:
        f = frames(w)
        org = build_org(f.people, f.aliases)
        return pair_away(person_away(f, org, AP), org.pairs), org.pairs

    before, pairs = pair_intervals(world)
    # A new out-of-office event nobody declined (a decline would rightly take nothing away).
    added = World(
        world.people,
        [*world.events, Oof(extra.mailbox, extra.start, extra.end, extra.all_day)],
        world.aliases,
    )
    after, _ = pair_intervals(added)
    span = (BASE - pd.Timedelta(days=2), BASE + pd.Timedelta(days=14))
    assert (
        away_between(after, *span, pairs.index) >= away_between(before, *span, pairs.index)
    ).all()
    grid = pd.Series(pd.date_range(*span, freq="90min"), dtype="datetime64[ns, UTC]")
    for pid in pairs.index:
        ids = [pid] * len(grid)
        assert not (in_away(before, ids, grid) & ~in_away(after, ids, grid)).any()
