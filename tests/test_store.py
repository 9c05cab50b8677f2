"""The event store's merge rules, on SQLite and on PostgreSQL (every test runs on both).

What a sync saves is what the reports later count, so each rule of ``store/events.py`` is shown
here as a user would meet it: a re-run changes nothing, a sparse cancelled copy forgets nothing,
a moved one-off stays rescheduled, a cancellation or an answer keeps the time it was first seen,
someone taken off an invitation is gone, and a token is never saved without its events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError

from cadence.normalised import Attendee, Event
from cadence.store import sync_state as store_sync_state
from cadence.store.models import Attendee as AttendeeRow
from cadence.store.models import Event as EventRow
from cadence.store.models import SyncState
from cadence.store.sync_state import load_sync_state, save_page
from cadence.store.upsert import save_events

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SYNC1 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
SYNC2 = SYNC1 + timedelta(days=1)
SYNC3 = SYNC1 + timedelta(days=2)
SYNC4 = SYNC1 + timedelta(days=3)
MANAGER, REPORT = "ann@example.com", "bob@example.com"


def event(event_id: str = "e1", mailbox: str = MANAGER, **fields: Any) -> Event:
    """A confirmed 30-minute 1:1 of MANAGER and REPORT, with ``fields`` changed."""
    values: dict[str, Any] = {
        "source": "google",
        "mailbox": mailbox,
        "event_id": event_id,
        "status": "confirmed",
        "ical_uid": f"{event_id}@google.com",
        "start": T0,
        "end": T0 + timedelta(minutes=30),
        "all_day": False,
        "event_type": "default",
        "organizer": MANAGER,
        "updated": T0 - timedelta(days=7),
        "attendees": (
            Attendee(MANAGER, "accepted", is_organizer=True),
            Attendee(REPORT, "accepted", response_at=T0 - timedelta(days=6)),
        ),
    }
    values.update(fields)
    return Event(**values)


def save(engine: Engine, events: Sequence[Event], seen_at: datetime, first: bool = False) -> None:
    with engine.begin() as conn:
        save_events(conn, events, seen_at=seen_at, first_sync=first)


def stored(engine: Engine) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every column of every event and attendee row, in key order."""
    with engine.connect() as conn:
        events = conn.execute(
            select(EventRow.__table__).order_by(
                EventRow.source, EventRow.mailbox, EventRow.event_id
            )
        )
        attendees = conn.execute(
            select(AttendeeRow.__table__).order_by(
                AttendeeRow.source, AttendeeRow.mailbox, AttendeeRow.event_id, AttendeeRow.email
            )
        )
        return [dict(r) for r in events.mappings()], [dict(r) for r in attendees.mappings()]


def one_event(engine: Engine, event_id: str = "e1", mailbox: str = MANAGER) -> dict[str, Any]:
    events, _ = stored(engine)
    [row] = [r for r in events if (r["event_id"], r["mailbox"]) == (event_id, mailbox)]
    return row


def attendees_of(
    engine: Engine, event_id: str = "e1", mailbox: str = MANAGER
) -> dict[str, dict[str, Any]]:
    _, attendees = stored(engine)
    return {
        r["email"]: r for r in attendees if (r["event_id"], r["mailbox"]) == (event_id, mailbox)
    }


def test_saving_the_same_events_twice_leaves_the_same_rows(engine: Engine) -> None:
    page = [event(f"e{i}", start=T0 + timedelta(days=7 * i)) for i in range(5)]
    page.append(event("gone", status="cancelled"))
    save(engine, page, SYNC1)
    first = stored(engine)
    save(engine, page, SYNC1)
    assert stored(engine) == first
    assert len(first[0]) == 6 and len(first[1]) == 12


def test_every_column_round_trips_and_times_come_back_aware_utc(engine: Engine) -> None:
    paris = datetime(2026, 3, 2, 10, 0, 0, 123456).astimezone()  # any offset: stored as UTC
    e = event(
        series_id="s1",
        original_start=T0 - timedelta(hours=1),
        start=paris,
        recurrence="RRULE:FREQ=WEEKLY;BYDAY=MO",
        event_type="default",
    )
    save(engine, [e], SYNC2)
    row = one_event(engine)
    assert row == {
        "source": "google",
        "mailbox": MANAGER,
        "event_id": "e1",
        "series_id": "s1",
        "ical_uid": "e1@google.com",
        "original_start": T0 - timedelta(hours=1),
        "start": paris,
        "end": T0 + timedelta(minutes=30),
        "all_day": False,
        "event_type": "default",
        "status": "confirmed",
        "organizer": MANAGER,
        "recurrence": "RRULE:FREQ=WEEKLY;BYDAY=MO",
        "source_updated": T0 - timedelta(days=7),
        "cancelled_at": None,
        "cancel_seen_at": None,
        "first_seen": SYNC2,
        "last_seen": SYNC2,
    }
    assert row["start"].tzinfo is UTC and row["start"].microsecond == 123456
    assert attendees_of(engine)[REPORT] == {
        "source": "google",
        "mailbox": MANAGER,
        "event_id": "e1",
        "email": REPORT,
        "response": "accepted",
        "is_organizer": False,
        "is_resource": False,
        "optional": False,
        "response_at": T0 - timedelta(days=6),
        "response_seen_at": SYNC2,
        "last_seen": SYNC2,
    }


def test_bulk_written_times_match_times_queried_through_the_models(engine: Engine) -> None:
    save(engine, [event(), event("e2", start=T0 + timedelta(days=1))], SYNC1)
    with engine.connect() as conn:
        ids = conn.execute(select(EventRow.event_id).where(EventRow.start == T0)).scalars()
        later = conn.execute(select(EventRow.event_id).where(EventRow.start > T0)).scalars()
        assert list(ids) == ["e1"] and list(later) == ["e2"]


def test_a_sparse_cancelled_copy_keeps_what_an_earlier_sync_stored(engine: Engine) -> None:
    save(engine, [event()], SYNC1, first=True)
    sparse = Event(source="google", mailbox=MANAGER, event_id="e1", status="cancelled")
    save(engine, [sparse], SYNC2)
    row = one_event(engine)
    assert row["status"] == "cancelled"
    assert (row["start"], row["end"], row["organizer"]) == (
        T0,
        T0 + timedelta(minutes=30),
        MANAGER,
    )
    assert (row["ical_uid"], row["event_type"], row["all_day"]) == (
        "e1@google.com",
        "default",
        False,
    )
    assert row["cancel_seen_at"] == SYNC2 and row["cancelled_at"] is None  # no source time
    assert set(attendees_of(engine)) == {MANAGER, REPORT}


def test_original_start_keeps_the_first_time_seen_when_a_one_off_moves(engine: Engine) -> None:
    save(engine, [event()], SYNC1, first=True)
    moved = T0 + timedelta(days=2, hours=3)
    save(engine, [event(start=moved, end=moved + timedelta(minutes=30))], SYNC2)
    row = one_event(engine)
    assert (row["original_start"], row["start"]) == (T0, moved)


def test_a_cancellation_keeps_the_sync_that_first_saw_it(engine: Engine) -> None:
    save(engine, [event()], SYNC1, first=True)
    cancelled_at = T0 - timedelta(days=2)
    save(engine, [event(status="cancelled", updated=cancelled_at)], SYNC2)
    row = one_event(engine)
    assert (row["cancelled_at"], row["cancel_seen_at"]) == (cancelled_at, SYNC2)
    # Still cancelled at later syncs, with a newer `updated`: the first times stay.
    save(engine, [event(status="cancelled", updated=T0 - timedelta(days=1))], SYNC3)
    row = one_event(engine)
    assert (row["cancelled_at"], row["cancel_seen_at"]) == (cancelled_at, SYNC2)
    assert row["source_updated"] == T0 - timedelta(days=1)
    # Restored, then cancelled again: a new cancellation with its own times.
    save(engine, [event()], SYNC3)
    assert one_event(engine)["cancel_seen_at"] is None
    save(engine, [event(status="cancelled", updated=T0)], SYNC4)
    row = one_event(engine)
    assert (row["cancelled_at"], row["cancel_seen_at"]) == (T0, SYNC4)


def test_a_cancellation_found_by_the_first_sync_has_no_seen_time(engine: Engine) -> None:
    save(engine, [event(status="cancelled")], SYNC1, first=True)
    assert one_event(engine)["cancel_seen_at"] is None
    save(engine, [event(status="cancelled")], SYNC2)
    assert one_event(engine)["cancel_seen_at"] is None  # still unknowable, not SYNC2


def test_an_answer_keeps_its_times_until_it_changes(engine: Engine) -> None:
    answered = T0 - timedelta(days=6)
    save(engine, [event()], SYNC1, first=True)
    report = attendees_of(engine)[REPORT]
    assert (report["response_at"], report["response_seen_at"]) == (answered, None)
    # The same answer, re-stamped by the source: the first times stay.
    again = event(attendees=(Attendee(MANAGER, "accepted", True), Attendee(REPORT, "accepted")))
    save(engine, [again], SYNC2)
    report = attendees_of(engine)[REPORT]
    assert (report["response_at"], report["response_seen_at"]) == (answered, None)
    assert report["last_seen"] == SYNC2
    # A decline: new times.
    declined_at = T0 - timedelta(hours=2)
    decline = (
        Attendee(MANAGER, "accepted", True),
        Attendee(REPORT, "declined", response_at=declined_at),
    )
    save(engine, [event(attendees=decline)], SYNC3)
    report = attendees_of(engine)[REPORT]
    assert (report["response"], report["response_at"], report["response_seen_at"]) == (
        "declined",
        declined_at,
        SYNC3,
    )
    save(engine, [event(attendees=decline)], SYNC4)
    assert attendees_of(engine)[REPORT]["response_seen_at"] == SYNC3


def test_someone_taken_off_the_invitation_disappears(engine: Engine) -> None:
    third = Attendee("cy@example.com", "accepted")
    room = Attendee("room-1@resource.example.com", "accepted", is_resource=True)
    invited = (*(event().attendees or ()), third, room)
    save(engine, [event(attendees=invited)], SYNC1, first=True)
    assert set(attendees_of(engine)) == {MANAGER, REPORT, third.email, room.email}
    save(engine, [event(attendees=(Attendee(MANAGER, "accepted", True), room))], SYNC2)
    assert set(attendees_of(engine)) == {MANAGER, room.email}
    save(engine, [event(attendees=None)], SYNC3)  # a copy that does not say: kept
    assert set(attendees_of(engine)) == {MANAGER, room.email}
    save(engine, [event(attendees=())], SYNC4)  # a copy that says nobody
    assert attendees_of(engine) == {}


def test_a_later_copy_in_the_same_sync_replaces_the_attendee_list(engine: Engine) -> None:
    """The same event twice at one ``seen_at`` (a Graph delta repeats a changed event)."""
    both = event()
    only_manager = event(attendees=(Attendee(MANAGER, "accepted", True),))
    save(engine, [both], SYNC2)
    save(engine, [only_manager], SYNC2)
    assert set(attendees_of(engine)) == {MANAGER}


def test_an_event_twice_in_one_page_is_saved_as_two_pages_would_be(engine: Engine) -> None:
    moved = T0 + timedelta(hours=5)
    copies = [
        event(),
        event("e2"),
        event(start=moved, attendees=(Attendee(MANAGER, "accepted", True),)),
        event(status="cancelled", start=None, end=None, organizer=None, attendees=None),
    ]
    save(engine, copies, SYNC2)
    together = stored(engine)
    with engine.begin() as conn:
        conn.execute(delete(AttendeeRow))
        conn.execute(delete(EventRow))
    for copy in copies:
        save(engine, [copy], SYNC2)
    assert stored(engine) == together
    row = one_event(engine)
    assert (row["status"], row["start"], row["original_start"]) == ("cancelled", moved, T0)
    assert set(attendees_of(engine)) == {MANAGER}


def test_an_attendee_listed_twice_is_stored_once_with_the_last_listing(engine: Engine) -> None:
    twice = (
        Attendee(MANAGER, "accepted", True),
        Attendee(REPORT, "needsAction"),
        Attendee(REPORT, "declined"),
    )
    save(engine, [event(attendees=twice)], SYNC1)
    assert {e: r["response"] for e, r in attendees_of(engine).items()} == {
        MANAGER: "accepted",
        REPORT: "declined",
    }


def test_other_mailboxes_are_untouched(engine: Engine) -> None:
    # The same invitation in both calendars, under the same id (as Google gives it).
    save(engine, [event(), event(mailbox=REPORT)], SYNC1, first=True)
    before = one_event(engine, mailbox=REPORT), attendees_of(engine, mailbox=REPORT)
    solo = event(status="cancelled", attendees=(Attendee(MANAGER, "accepted", True),))
    save(engine, [solo, event("e9")], SYNC2)
    assert (one_event(engine, mailbox=REPORT), attendees_of(engine, mailbox=REPORT)) == before
    assert set(attendees_of(engine)) == {MANAGER}
    assert one_event(engine)["status"] == "cancelled"


def test_a_naive_time_is_refused_and_nothing_is_saved(engine: Engine) -> None:
    naive = event("e2", start=datetime(2026, 3, 2, 9, 0))
    with pytest.raises((TypeError, ValueError), match=r"naive|offset"):
        save(engine, [event(), naive], SYNC1)
    assert stored(engine) == ([], [])


def token_of(engine: Engine, mailbox: str = MANAGER) -> SyncState | None:
    return load_sync_state(engine, "google", mailbox)


WINDOW = (T0 - timedelta(days=365), T0 + timedelta(days=180))


def test_the_last_page_saves_its_token_and_window_with_its_events(engine: Engine) -> None:
    save_page(engine, "google", MANAGER, [event("e1")], seen_at=SYNC1, first_sync=True)
    assert token_of(engine) is None  # not the last page: no token yet
    save_page(
        engine,
        "google",
        MANAGER,
        [event("e2")],
        seen_at=SYNC1,
        first_sync=True,
        token="tok-1",
        window=WINDOW,
    )
    state = token_of(engine)
    assert state is not None
    assert (state.token, state.window_start, state.window_end) == ("tok-1", *WINDOW)
    assert state.first_synced_at == SYNC1
    assert [r["event_id"] for r in stored(engine)[0]] == ["e1", "e2"]


def test_a_page_that_fails_leaves_neither_its_events_nor_its_token(engine: Engine) -> None:
    save_page(
        engine,
        "google",
        MANAGER,
        [event()],
        seen_at=SYNC1,
        first_sync=True,
        token="old",
        window=WINDOW,
    )
    before = stored(engine)
    broken = event("e3", status=None)  # status is required: the database refuses the row
    with pytest.raises(IntegrityError):
        save_page(
            engine,
            "google",
            MANAGER,
            [event(status="cancelled"), event("e2"), broken],
            seen_at=SYNC2,
            first_sync=False,
            token="new",
            window=WINDOW,
        )
    assert stored(engine) == before
    state = token_of(engine)
    assert state is not None and state.token == "old"


def test_a_crash_between_the_events_and_the_token_leaves_neither(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("killed between the events and the token")

    monkeypatch.setattr(store_sync_state, "_upsert_state", crash)
    with pytest.raises(RuntimeError, match="killed"):
        save_page(
            engine,
            "google",
            MANAGER,
            [event()],
            seen_at=SYNC1,
            first_sync=True,
            token="t",
            window=WINDOW,
        )
    assert stored(engine) == ([], [])
    monkeypatch.undo()
    assert token_of(engine) is None


# Hypothesis: any batch, however a sync pages it, leaves the same rows; and saving it twice
# changes nothing.

MAILBOXES = (MANAGER, REPORT, "cy@example.com")
EMAILS = (MANAGER, REPORT, "cy@example.com", "room@resource.example.com")
TIMES = st.one_of(
    st.none(),
    st.integers(0, 4).map(lambda d: T0 + timedelta(days=d, minutes=17 * d)),
)
ATTENDEES = st.one_of(
    st.none(),
    st.lists(
        st.builds(
            Attendee,
            email=st.sampled_from(EMAILS),
            response=st.sampled_from(["needsAction", "declined", "tentative", "accepted"]),
            is_organizer=st.booleans(),
            response_at=TIMES,
        ),
        max_size=4,
    ).map(tuple),
)
COPIES = st.builds(
    Event,
    source=st.just("google"),
    mailbox=st.sampled_from(MAILBOXES),
    event_id=st.sampled_from(["a", "b", "c", "d"]),
    status=st.sampled_from(["confirmed", "tentative", "cancelled"]),
    ical_uid=st.one_of(st.none(), st.just("uid@google.com")),
    original_start=TIMES,
    start=TIMES,
    end=TIMES,
    all_day=st.one_of(st.none(), st.booleans()),
    organizer=st.one_of(st.none(), st.sampled_from(EMAILS)),
    updated=TIMES,
    attendees=ATTENDEES,
)
HYPOTHESIS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _reset(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(AttendeeRow))
        conn.execute(delete(EventRow))


def _in_pages(engine: Engine, copies: list[Event], cuts: list[int], first: bool) -> Any:
    """The rows after a sync that saved ``copies`` cut into pages at ``cuts``."""
    _reset(engine)
    # Some of the events stored already, by an earlier sync (whatever order the copies are in).
    earlier = sorted(copies, key=lambda e: (e.mailbox, e.event_id))[: len(copies) // 2]
    save(engine, earlier, SYNC1, first=True)
    bounds = [0, *sorted({c % (len(copies) + 1) for c in cuts}), len(copies)]
    for lo, hi in pairwise(bounds):
        save(engine, copies[lo:hi], SYNC2, first=first)
    return stored(engine)


@HYPOTHESIS
@given(
    copies=st.lists(COPIES, max_size=12),
    cuts=st.lists(st.integers(0, 12), max_size=4),
    first=st.booleans(),
)
def test_however_a_sync_pages_its_copies_the_rows_are_the_same(
    engine: Engine, copies: list[Event], cuts: list[int], first: bool
) -> None:
    assert _in_pages(engine, copies, cuts, first) == _in_pages(engine, copies, [], first)


@HYPOTHESIS
@given(
    copies=st.lists(COPIES, max_size=12, unique_by=lambda e: (e.mailbox, e.event_id)),
    order=st.randoms(use_true_random=False),
    first=st.booleans(),
)
def test_distinct_events_in_any_order_saved_twice_leave_the_same_rows(
    engine: Engine, copies: list[Event], order: Any, first: bool
) -> None:
    reference = _in_pages(engine, copies, [], first)
    shuffled = list(copies)
    order.shuffle(shuffled)
    assert _in_pages(engine, shuffled, [3, 7], first) == reference
    save(engine, shuffled, SYNC2, first=first)
    assert stored(engine) == reference
