"""The stand-ins' world: expansion of series with their exceptions, and the change log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadence.sandbox.world import ManualClock, Recurrence, World

T0 = datetime(2026, 11, 2, 10, tzinfo=UTC)  # a Monday
WEEK = timedelta(days=7)


def weekly_world() -> World:
    w = World(ManualClock(T0 - WEEK))
    w.add_person("ann@acme.test", "Ann")
    w.add_person("bob@acme.test", "Bob", "ann@acme.test")
    w.add_series(
        "s1",
        "ann@acme.test",
        ["bob@acme.test"],
        T0,
        timedelta(minutes=30),
        Recurrence("WEEKLY", byday=("MO",), count=8),
    )
    return w


def test_exceptions_apply_to_their_occurrence_only() -> None:
    w = weekly_world()
    w.cancel_instance("s1", T0 + WEEK)
    w.move_instance("s1", T0 + 2 * WEEK, T0 + 2 * WEEK + timedelta(days=1))
    w.decline("s1", "bob@acme.test", T0 + 3 * WEEK)
    occ = w.instances("bob@acme.test", T0, T0 + 10 * WEEK)
    assert len(occ) == 8  # COUNT=8
    assert [o.cancelled for o in occ[:2]] == [False, True]
    assert occ[2].moved and occ[2].start == T0 + 2 * WEEK + timedelta(days=1)
    responses = {g.email: g.response for g in occ[3].guests}
    assert responses == {"ann@acme.test": "accepted", "bob@acme.test": "declined"}
    assert {g.email: g.response for g in occ[4].guests}["bob@acme.test"] == "needsAction"
    assert [c.original_start for c in w.changes_since(1)] == [
        T0 + WEEK,
        T0 + 2 * WEEK,
        T0 + 3 * WEEK,
    ]


def test_mutating_a_time_that_is_not_an_occurrence_is_refused() -> None:
    w = weekly_world()
    with pytest.raises(ValueError, match="not an occurrence"):
        w.cancel_instance("s1", T0 + timedelta(days=1))
    assert w.seq == 1


def test_ending_a_series_shows_the_cut_off_occurrences_as_cancelled() -> None:
    w = weekly_world()
    w.cancel_series("s1", from_start=T0 + 4 * WEEK)
    occ = w.instances("ann@acme.test", T0, T0 + 10 * WEEK)
    assert [o.cancelled for o in occ] == [False] * 4 + [True] * 4
    assert "UNTIL=20261130T095959Z" in w.series["s1"].recurrence.rrule_line()  # type: ignore[union-attr]


def test_removed_attendee_still_sees_the_series() -> None:
    w = weekly_world()
    w.remove_attendee("s1", "bob@acme.test")
    s = w.series["s1"]
    assert s.visible_to("bob@acme.test") and "bob@acme.test" not in s.participants()


@settings(max_examples=40, deadline=None)
@given(
    interval=st.integers(1, 3),
    days=st.lists(st.sampled_from(["MO", "TU", "WE", "TH", "FR"]), min_size=1, unique=True),
    lo=st.integers(0, 60),
    span=st.integers(1, 60),
)
def test_range_expansion_is_the_restriction_of_the_full_expansion(
    interval: int, days: list[str], lo: int, span: int
) -> None:
    w = World(ManualClock(T0))
    w.add_person("ann@acme.test", "Ann")
    w.add_series(
        "s",
        "ann@acme.test",
        [],
        T0,
        timedelta(hours=1),
        Recurrence("WEEKLY", interval=interval, byday=tuple(days)),
    )
    everything = w.instances("ann@acme.test", T0 - WEEK, T0 + 20 * WEEK)
    start, end = T0 + timedelta(days=lo), T0 + timedelta(days=lo + span)
    part = w.instances("ann@acme.test", start, end)
    assert part == [o for o in everything if o.end > start and o.start < end]
