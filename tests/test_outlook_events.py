"""Graph events and series masters map onto the normalised records as normalised.py says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given
from hypothesis import strategies as st

from cadence.connectors.outlook_events import (
    DAYS,
    map_event,
    parse_instant,
    read_master,
    recurrence_to_rrule,
    series_uid,
)
from cadence.errors import SyncError
from cadence.normalised import Attendee
from cadence.sandbox.graph import global_object_id

WEEKDAYS = list(DAYS)


def _raw(**over: object) -> dict:
    raw: dict = {
        "id": "AAMk-1",
        "type": "occurrence",
        "seriesMasterId": "AAMk-master",
        "iCalUId": "0400000082-occ-1",
        "originalStart": "2026-11-23T10:00:00Z",
        "start": {"dateTime": "2026-11-23T11:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-11-23T11:30:00.0000000", "timeZone": "UTC"},
        "isAllDay": False,
        "isCancelled": False,
        "showAs": "busy",
        "lastModifiedDateTime": "2026-11-20T08:30:00.1234567Z",
        "organizer": {"emailAddress": {"address": " Ann@Acme.test ", "name": "Ann"}},
        "attendees": [
            {
                "type": "required",
                "emailAddress": {"address": "BOB@acme.test"},
                "status": {"response": "declined", "time": "2026-11-21T09:00:00Z"},
            },
            {
                "type": "optional",
                "emailAddress": {"address": "cy@acme.test"},
                "status": {"response": "tentativelyAccepted", "time": "2026-11-21T09:05:00Z"},
            },
            {
                "type": "required",
                "emailAddress": {"address": "dee@acme.test"},
                "status": {"response": "notResponded", "time": "0001-01-01T00:00:00Z"},
            },
            {
                "type": "resource",
                "emailAddress": {"address": "room-1@acme.test"},
                "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
            },
        ],
    }
    raw.update(over)
    return raw


def test_an_occurrence_maps_onto_google_vocabulary() -> None:
    master = {
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
            "range": {"type": "noEnd", "startDate": "2026-01-05"},
        }
    }
    e = map_event(_raw(), source="m365", mailbox="ann@acme.test", series=read_master(master))
    # Without the master's series-wide UID, the occurrence's own one; with it, the series'.
    assert e.ical_uid == "0400000082-occ-1"
    e = map_event(
        _raw(),
        source="m365",
        mailbox="ann@acme.test",
        series=read_master({**master, "iCalUId": "0400000082-series"}),
    )
    assert e.ical_uid == "0400000082-series"
    assert e.status == "confirmed"
    assert e.event_type == "default"
    assert e.original_start == datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert e.start == datetime(2026, 11, 23, 11, tzinfo=UTC)
    assert e.end - e.start == timedelta(minutes=30)  # type: ignore[operator]
    assert e.organizer == "ann@acme.test"
    assert e.recurrence == "RRULE:FREQ=WEEKLY;BYDAY=MO"
    assert e.updated == datetime(2026, 11, 20, 8, 30, 0, 123456, tzinfo=UTC)
    assert e.attendees == (
        Attendee("ann@acme.test", "accepted", is_organizer=True),
        Attendee("bob@acme.test", "declined", response_at=datetime(2026, 11, 21, 9, tzinfo=UTC)),
        Attendee(
            "cy@acme.test",
            "tentative",
            optional=True,
            response_at=datetime(2026, 11, 21, 9, 5, tzinfo=UTC),
        ),
        Attendee("dee@acme.test", "needsAction"),
        Attendee("room-1@acme.test", "needsAction", is_resource=True),
    )


def test_cancelled_oof_all_day_and_one_off_shapes() -> None:
    e = map_event(_raw(isCancelled=True), source="s", mailbox="bob@acme.test")
    assert e.status == "cancelled"
    oof = map_event(
        _raw(
            type="singleInstance",
            seriesMasterId=None,
            showAs="oof",
            isAllDay=True,
            start={"dateTime": "2026-11-24T00:00:00.0000000", "timeZone": "UTC"},
            end={"dateTime": "2026-11-25T00:00:00.0000000", "timeZone": "UTC"},
        ),
        source="s",
        mailbox="ann@acme.test",
    )
    assert (oof.event_type, oof.all_day, oof.original_start) == ("outOfOffice", True, None)
    assert oof.start == datetime(2026, 11, 24, tzinfo=UTC)
    # The master says it is cancelled although this copy does not (its date, not another's).
    listed = read_master({"cancelledOccurrences": ["OID.AAMk-master.2026-11-23"]})
    assert map_event(_raw(), source="s", mailbox="x", series=listed).status == "cancelled"
    other = read_master({"cancelledOccurrences": ["OID.AAMk-master.2026-11-30"]})
    assert map_event(_raw(), source="s", mailbox="x", series=other).status == "confirmed"


def test_times_in_another_zone_are_converted_and_unknown_zones_refused() -> None:
    paris = {"dateTime": "2026-07-01T10:00:00.0000000", "timeZone": "Europe/Paris"}
    e = map_event(_raw(start=paris), source="s", mailbox="ann@acme.test")
    assert e.start == datetime(2026, 7, 1, 8, tzinfo=UTC)
    with pytest.raises(SyncError, match=r"ann@acme\.test.*AAMk-1.*Mars"):
        map_event(
            _raw(start={"dateTime": "2026-07-01T10:00:00", "timeZone": "Mars/Base"}),
            source="s",
            mailbox="ann@acme.test",
        )


def test_never_is_none() -> None:
    assert parse_instant("0001-01-01T00:00:00Z") is None
    assert parse_instant("") is None


@pytest.mark.parametrize(
    ("pattern", "rng", "rrule"),
    [
        ({"type": "daily", "interval": 2}, {"type": "noEnd"}, "RRULE:FREQ=DAILY;INTERVAL=2"),
        (
            {"type": "weekly", "interval": 2, "daysOfWeek": ["tuesday", "thursday"]},
            {"type": "endDate", "endDate": "2027-03-31"},
            "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;UNTIL=20270331",
        ),
        (
            {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 15},
            {"type": "numbered", "numberOfOccurrences": 6},
            "RRULE:FREQ=MONTHLY;BYMONTHDAY=15;COUNT=6",
        ),
        (
            {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
            {"type": "noEnd"},
            "RRULE:FREQ=MONTHLY;BYDAY=-1FR",
        ),
        (
            {
                "type": "relativeMonthly",
                "interval": 3,
                "daysOfWeek": ["monday", "tuesday"],
                "index": "second",
            },
            {"type": "noEnd"},
            "RRULE:FREQ=MONTHLY;INTERVAL=3;BYDAY=MO,TU;BYSETPOS=2",
        ),
        (
            {"type": "absoluteYearly", "interval": 1, "month": 4, "dayOfMonth": 1},
            {"type": "noEnd"},
            "RRULE:FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=1",
        ),
        (
            {
                "type": "relativeYearly",
                "interval": 1,
                "month": 9,
                "daysOfWeek": ["monday"],
                "index": "first",
            },
            {"type": "noEnd"},
            "RRULE:FREQ=YEARLY;BYMONTH=9;BYDAY=1MO",
        ),
    ],
)
def test_recurrence_patterns_become_rrules(pattern: dict, rng: dict, rrule: str) -> None:
    assert recurrence_to_rrule({"pattern": pattern, "range": rng}) == rrule


def test_unknown_pattern_is_a_sync_error() -> None:
    with pytest.raises(SyncError, match="hourly"):
        recurrence_to_rrule({"pattern": {"type": "hourly"}, "range": {}})


@given(
    days=st.sets(st.sampled_from(WEEKDAYS), min_size=1, max_size=7),
    interval=st.integers(1, 4),
    weeks=st.integers(1, 30),
)
def test_weekly_rrule_yields_the_pattern_s_days_up_to_the_end_date(
    days: set[str], interval: int, weeks: int
) -> None:
    start = date(2026, 1, 5)  # a Monday
    end = start + timedelta(weeks=weeks)
    rule = recurrence_to_rrule(
        {
            "pattern": {"type": "weekly", "interval": interval, "daysOfWeek": sorted(days)},
            "range": {
                "type": "endDate",
                "startDate": start.isoformat(),
                "endDate": end.isoformat(),
            },
        }
    )
    assert rule is not None
    dates = list(rrulestr(rule.removeprefix("RRULE:"), dtstart=datetime(2026, 1, 5, 10)))
    wanted = {WEEKDAYS.index(d) for d in days}
    assert dates and all(d.weekday() in wanted for d in dates)
    # The end date is inclusive, a whole day: nothing after it, and its own day can occur.
    assert all(d.date() <= end for d in dates)
    assert all(((d.date() - start).days // 7) % interval == 0 for d in dates)


@given(
    uid=st.text(
        st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=80,
    ),
    day=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
)
def test_an_occurrence_s_global_object_id_gives_back_the_series_uid(uid: str, day: date) -> None:
    """Graph's iCalUId of an occurrence, and of its master, name the series as Google does."""
    assert series_uid(global_object_id(uid, day)) == uid
    assert series_uid(global_object_id(uid)) == uid


def test_a_native_exchange_id_loses_its_occurrence_date_and_other_uids_pass_through() -> None:
    native = (
        "040000008200E00074C5B7101A82E008"
        "07EA0B17"
        "00000000000000000000000000000000"
        "10000000"
        "0123456789ABCDEF0123456789ABCDEF"
    )
    master = native[:32] + "00000000" + native[40:]
    assert series_uid(native) == master == series_uid(master)
    for other in ("ann-bob@acme.test", "ZZ" * 50, "", None):
        assert series_uid(other) == other
