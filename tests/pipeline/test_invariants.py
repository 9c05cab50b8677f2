"""Invariants of the figures over random calendars (Hypothesis), on events saved to a real store.

Whatever the calendars hold (1:1s, one-offs, out-of-office events, people in several countries and
zones): cancelled_by_manager + cancelled_by_report == missed; held + missed == scheduled;
declined <= missed; made_up + excused + missed == every cancelled or declined occurrence; a
one-off makes up one miss at most; adding an absence never raises missed; the same events stored
from one calendar or from both give the same figures; the order of the rows changes nothing; the
pandas and Dask engines agree.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, update

from cadence.frames import StoreFrames
from cadence.jobs.figures import params_for
from cadence.pipeline import HealthResult, compute_frames
from cadence.pipeline.occurrences import MISSED, assign_copies, occurrences
from cadence.pipeline.org import build_org
from cadence.pipeline.pairs import in_window
from cadence.store.database import make_engine
from cadence.store.models import Person
from cadence.store.reads import load_frames
from pipeline.builders import AS_OF, SYNC, Meeting, add_people, at, config, store

PEOPLE = [
    ("boss@acme.test", "Boss", None),
    ("m1@acme.test", "M1", "boss@acme.test"),
    ("m2@acme.test", "M2", "boss@acme.test"),
    ("r1@acme.test", "R1", "m1@acme.test"),
    ("r2@acme.test", "R2", "m1@acme.test"),
    ("r3@acme.test", "R3", "m2@acme.test"),
]
PAIRS = [(m, r) for r, _, m in PEOPLE if m] + [("boss@acme.test", "r1@acme.test")]
PARAMS = params_for(config(), AS_OF)
EMAILS = [email for email, _, _ in PEOPLE]
COUNTRIES = [None, "DE-SN", "US", "GB-SCT"]
ZONES = [None, "Europe/Berlin", "America/New_York", "Pacific/Kiritimati"]


@st.composite
def meetings(draw: st.DrawFn) -> Meeting:
    manager, report = draw(st.sampled_from(PAIRS))
    day = draw(st.integers(min_value=-20, max_value=120))
    original = at(day, hour=draw(st.integers(min_value=6, max_value=20)))
    moved = draw(st.sampled_from([None, -26, -3, 2, 30]))
    declined = draw(st.sampled_from([(), (manager,), (report,), (manager, report)]))
    answer = draw(st.sampled_from([None, -48, -2, 3]))
    updated = draw(st.sampled_from([None, -72, -5, 1]))
    return Meeting(
        uid=f"u{uuid4().hex[:8]}",
        original_start=original,
        people=(manager, report),
        organizer=draw(st.sampled_from([manager, report])),
        start=None if moved is None else original + timedelta(hours=moved),
        minutes=draw(st.sampled_from([30, 60, 200])),
        recurrence=draw(
            st.sampled_from([None, "RRULE:FREQ=WEEKLY;BYDAY=MO", "RRULE:FREQ=WEEKLY;INTERVAL=2"])
        ),
        status=draw(st.sampled_from(["confirmed", "confirmed", "cancelled"])),
        updated=None if updated is None else original + timedelta(hours=updated),
        declined={
            p: (None if answer is None else original + timedelta(hours=answer)) for p in declined
        },
        graph=draw(st.booleans()),
    )


@st.composite
def absences(draw: st.DrawFn) -> Meeting:
    """An out-of-office event in one person's calendar, all-day or timed."""
    who = draw(st.sampled_from(EMAILS))
    first = at(draw(st.integers(min_value=-20, max_value=120)), hour=draw(st.integers(0, 23)))
    all_day = draw(st.booleans())
    if all_day:
        first = first.replace(hour=0)
    minutes = 1440 * draw(st.integers(1, 15)) if all_day else 60 * draw(st.integers(1, 30))
    return Meeting(
        uid=f"oof{uuid4().hex[:8]}",
        original_start=first,
        people=(who,),
        organizer=who,
        minutes=minutes,
        all_day=all_day,
        event_type="outOfOffice",
        status=draw(st.sampled_from(["confirmed", "confirmed", "cancelled"])),
        declined=draw(st.sampled_from([{}, {}, {who: None}])),
        graph=draw(st.booleans()),
    )


# Where each person works: (country, zone) per person of PEOPLE.
places = st.lists(
    st.tuples(st.sampled_from(COUNTRIES), st.sampled_from(ZONES)),
    min_size=len(PEOPLE),
    max_size=len(PEOPLE),
)


@pytest.fixture
def fresh() -> Iterator[list[Engine]]:
    """The engines of the stores the examples made, disposed of at the end."""
    engines: list[Engine] = []
    yield engines
    for e in engines:
        e.dispose()


def _store(
    template: Path,
    folder: Path,
    engines: list[Engine],
    batch: list[Meeting],
    where: list[tuple[str | None, str | None]] | None = None,
) -> Engine:
    path = folder / f"{uuid4().hex}.db"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    engines.append(engine)
    add_people(engine, PEOPLE)
    with engine.begin() as conn:
        for email, (country, zone) in zip(EMAILS, where or [], strict=False):
            conn.execute(
                update(Person).where(Person.email == email).values(country=country, timezone=zone)
            )
    store(engine, batch, seen_at=SYNC, first_sync=False)
    return engine


def _called_off(frames: StoreFrames) -> pd.Series:
    """Per pair, the window's cancelled or declined occurrences before any is made up or
    excused: straight from the outcome rules, without away time or one-offs."""
    org = build_org(frames.people, frames.aliases)
    copies, _ = assign_copies(frames, org, PARAMS)
    occ = occurrences(copies, PARAMS)
    occ = occ[in_window(occ, PARAMS) & occ["outcome"].isin(MISSED)]
    return occ.groupby("pair_id").size()


def _frames(engine: Engine) -> StoreFrames:
    return load_frames(engine, PARAMS.load_since)


def _figures(result: HealthResult) -> pd.DataFrame:
    return result.pairs


EXAMPLES = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@EXAMPLES
@given(
    batch=st.lists(meetings(), max_size=25),
    away=st.lists(absences(), max_size=4),
    where=places,
)
def test_invariants_and_both_calendars(
    batch: list[Meeting],
    away: list[Meeting],
    where: list[tuple[str | None, str | None]],
    sqlite_template: Path,
    tmp_path: Path,
    fresh: list[Engine],
) -> None:
    frames = _frames(_store(sqlite_template, tmp_path, fresh, batch + away, where))
    both = compute_frames(frames, PARAMS)
    p = both.pairs
    assert (p["cancelled_by_manager"] + p["cancelled_by_report"] == p["missed"]).all()
    assert (p["held"] + p["missed"] == p["scheduled"]).all()
    assert (p["declined"] <= p["missed"]).all()
    assert (p["late_cancellations"] <= p["missed"]).all()
    assert (p["consecutive_missed"] <= p["missed"]).all()
    called_off = _called_off(frames).reindex(p.index, fill_value=0)
    assert (p["made_up"] + p["excused"] + p["missed"] == called_off).all()
    used = both.occurrences.dropna(subset=["made_up_by"])
    assert not used.duplicated(["pair_id", "made_up_by"]).any()
    one = [replace(m, calendars=(m.organizer,)) for m in batch] + away
    single = compute_frames(_frames(_store(sqlite_template, tmp_path, fresh, one, where)), PARAMS)
    pd.testing.assert_frame_equal(_figures(single), _figures(both))
    pd.testing.assert_frame_equal(single.manager_summary, both.manager_summary)
    pd.testing.assert_frame_equal(single.trends.org, both.trends.org)


@settings(EXAMPLES, max_examples=10)
@given(
    batch=st.lists(meetings(), max_size=25),
    away=st.lists(absences(), max_size=3),
    more=st.lists(absences(), min_size=1, max_size=3),
    where=places,
)
def test_an_absence_never_raises_missed(
    batch: list[Meeting],
    away: list[Meeting],
    more: list[Meeting],
    where: list[tuple[str | None, str | None]],
    sqlite_template: Path,
    tmp_path: Path,
    fresh: list[Engine],
) -> None:
    before = compute_frames(
        _frames(_store(sqlite_template, tmp_path, fresh, batch + away, where)), PARAMS
    ).pairs
    after = compute_frames(
        _frames(_store(sqlite_template, tmp_path, fresh, batch + away + more, where)), PARAMS
    ).pairs
    assert (after["missed"] <= before["missed"]).all()
    assert (after["consecutive_missed"] <= before["consecutive_missed"]).all()
    assert (after["excused"] >= before["excused"]).all()
    assert (after["made_up"] == before["made_up"]).all()


@settings(EXAMPLES, max_examples=10)
@given(
    batch=st.lists(meetings(), max_size=25),
    away=st.lists(absences(), max_size=4),
    where=places,
    seed=st.integers(0, 2**31),
)
def test_row_order_and_engines(
    batch: list[Meeting],
    away: list[Meeting],
    where: list[tuple[str | None, str | None]],
    seed: int,
    sqlite_template: Path,
    tmp_path: Path,
    fresh: list[Engine],
) -> None:
    frames = _frames(_store(sqlite_template, tmp_path, fresh, batch + away, where))
    base = compute_frames(frames, PARAMS)
    shuffled = StoreFrames(
        people=frames.people.sample(frac=1, random_state=seed),
        aliases=frames.aliases,
        events=frames.events.sample(frac=1, random_state=seed),
        attendees=frames.attendees.sample(frac=1, random_state=seed + 1),
    )
    again = compute_frames(shuffled, PARAMS)
    pd.testing.assert_frame_equal(_figures(again), _figures(base))
    pd.testing.assert_frame_equal(again.occurrences, base.occurrences)
    on_dask = compute_frames(frames, PARAMS, engine_kind="dask", scheduler="sync", partitions=2)
    pd.testing.assert_frame_equal(_figures(on_dask), _figures(base))
    pd.testing.assert_frame_equal(on_dask.occurrences, base.occurrences)
    pd.testing.assert_frame_equal(on_dask.director_summary, base.director_summary)
