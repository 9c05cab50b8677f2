"""Invariants of the figures over random calendars (Hypothesis), on events saved to a real store.

Whatever the calendars hold: cancelled_by_manager + cancelled_by_report == missed; held + missed
== scheduled; declined <= missed; the same events stored from one calendar or from both give the
same figures; the order of the rows changes nothing; the pandas and Dask engines agree.
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
from sqlalchemy import Engine

from cadence.frames import StoreFrames
from cadence.jobs.figures import params_for
from cadence.pipeline import HealthResult, compute_frames
from cadence.store.database import make_engine
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


@pytest.fixture
def fresh() -> Iterator[list[Engine]]:
    """The engines of the stores the examples made, disposed of at the end."""
    engines: list[Engine] = []
    yield engines
    for e in engines:
        e.dispose()


def _store(template: Path, folder: Path, engines: list[Engine], batch: list[Meeting]) -> Engine:
    path = folder / f"{uuid4().hex}.db"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    engines.append(engine)
    add_people(engine, PEOPLE)
    store(engine, batch, seen_at=SYNC, first_sync=False)
    return engine


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
@given(batch=st.lists(meetings(), max_size=25))
def test_invariants_and_both_calendars(
    batch: list[Meeting], sqlite_template: Path, tmp_path: Path, fresh: list[Engine]
) -> None:
    both = compute_frames(_frames(_store(sqlite_template, tmp_path, fresh, batch)), PARAMS)
    p = both.pairs
    assert (p["cancelled_by_manager"] + p["cancelled_by_report"] == p["missed"]).all()
    assert (p["held"] + p["missed"] == p["scheduled"]).all()
    assert (p["declined"] <= p["missed"]).all()
    assert (p["late_cancellations"] <= p["missed"]).all()
    assert (p["consecutive_missed"] <= p["missed"]).all()
    one = [replace(m, calendars=(m.organizer,)) for m in batch]
    single = compute_frames(_frames(_store(sqlite_template, tmp_path, fresh, one)), PARAMS)
    pd.testing.assert_frame_equal(_figures(single), _figures(both))
    pd.testing.assert_frame_equal(single.manager_summary, both.manager_summary)
    pd.testing.assert_frame_equal(single.trends.org, both.trends.org)


@settings(EXAMPLES, max_examples=10)
@given(batch=st.lists(meetings(), max_size=25), seed=st.integers(0, 2**31))
def test_row_order_and_engines(
    batch: list[Meeting], seed: int, sqlite_template: Path, tmp_path: Path, fresh: list[Engine]
) -> None:
    frames = _frames(_store(sqlite_template, tmp_path, fresh, batch))
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
