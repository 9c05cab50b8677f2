"""The manager and director views: the JSON reports' shapes, skip-levels, weekly trends in the
configured zone, sub-orgs, the privacy floor, and the engines and loading paths that feed them."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from cadence.config import parse_config
from cadence.errors import StoreError, UsageError
from cadence.jobs.figures import compute, params_for
from cadence.pipeline.views import director_view, manager_view
from cadence.store import arrow_reads, reads
from cadence.store.database import make_engine
from pipeline.builders import (
    AS_OF,
    BOSS,
    MGR,
    REP,
    Meeting,
    add_people,
    at,
    changed,
    config,
    small_org,
    store,
    weekly,
)

ENTRY = [
    "email", "name", "status", "reasons", "scheduled", "held", "missed", "cancelled_by_manager",
    "cancelled_by_report", "declined", "late_cancellations", "rescheduled", "made_up", "excused",
    "cancellation_rate", "held_minutes", "intended_cadence_days", "actual_cadence_days",
    "last_held", "days_since_last_held", "next_scheduled", "consecutive_missed", "cadence_bucket",
    "minutes_per_week", "streak_cancelled_by_manager", "away_days", "away_until", "timeline",
]  # fmt: skip
SUMMARY = [
    "direct_reports", "covered", "coverage_rate", "with_recurring_series", "cancellation_rate",
    "manager_cancel_share", "median_actual_cadence_days", "made_up", "excused", "status_counts",
]  # fmt: skip


@pytest.fixture
def db(sqlite_url: str) -> Any:
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def test_manager_view_shape_and_skip_levels(db: Engine) -> None:
    small_org(db)
    meetings = weekly("w", at(28), 5)
    meetings[1] = changed(meetings[1], status="cancelled", updated=at(21) - timedelta(hours=3))
    store(db, [*meetings, Meeting("sk", at(3), people=(BOSS, REP), organizer=BOSS)])
    result = compute(db, config(), AS_OF)
    view = manager_view(result, " MIA@acme.test")  # compared trimmed, case-insensitively
    json.dumps(view, allow_nan=False)
    assert list(view) == ["kind", "manager", "as_of", "window_weeks", "summary", "opted_out",
                          "reports", "skip_levels"]  # fmt: skip
    assert view["manager"] == {"email": MGR, "name": "Mia"}
    assert view["as_of"] == "2026-11-23T12:00:00+00:00"
    assert list(view["summary"]) == SUMMARY
    (entry,) = view["reports"]
    assert list(entry) == ENTRY
    assert entry["timeline"][1] == {
        "original_start": "2026-11-02T10:00:00+00:00",
        "start": "2026-11-02T10:00:00+00:00",
        "outcome": "cancelled",
        "canceller_role": "manager",
        "rescheduled": False,
        "late": True,
        "made_up_by": None,
    }
    assert view["skip_levels"] == []
    boss = manager_view(result, BOSS)
    assert [r["email"] for r in boss["reports"]] == [MGR]
    assert boss["summary"]["direct_reports"] == 1
    (skip,) = boss["skip_levels"]
    assert (skip["email"], skip["via"], skip["held"]) == (REP, MGR, 1)
    with pytest.raises(UsageError, match="not a manager"):
        manager_view(result, REP)
    with pytest.raises(UsageError, match="not a director"):
        director_view(result, MGR)


def _company(db: Engine) -> None:
    """dana directs: ann (6 reports), bea (2 reports), dee (1 report) and cal (no reports)."""
    rows: list[tuple[str, str, str | None]] = [(BOSS, "Dana", None)]
    rows += [(f"{m}@acme.test", m.title(), BOSS) for m in ("ann", "bea", "cal", "dee")]
    rows += [(f"a{i}@acme.test", f"A{i}", "ann@acme.test") for i in range(6)]
    rows += [(f"b{i}@acme.test", f"B{i}", "bea@acme.test") for i in range(2)]
    rows += [("d0@acme.test", "D0", "dee@acme.test")]
    add_people(db, rows)
    meetings = []
    for manager, report in [(m, r) for r, _, m in rows if m]:
        series = weekly(f"{manager}-{report}", at(56), 9, people=(manager, report),
                        organizer=manager)  # fmt: skip
        # One late cancellation by the manager, in the week before as-of's week.
        series[7] = changed(series[7], status="cancelled", updated=at(7) - timedelta(hours=1))
        meetings += series
    store(db, meetings)


def test_director_view_trend_sub_orgs_and_privacy(db: Engine) -> None:
    _company(db)
    result = compute(db, config(), AS_OF)
    view = director_view(result, BOSS)
    text = json.dumps(view, allow_nan=False)
    assert list(view) == ["kind", "director", "as_of", "window_weeks", "trend_weeks", "trend",
                          "sub_orgs", "managers", "summary", "previous_summary"]  # fmt: skip
    assert len(view["trend"]) == 26
    assert view["trend"][-1]["week"] == "2026-W48" and view["trend"][0]["week"] == "2026-W23"
    # 13 pairs; each has one 1:1 a week on Mondays, cancelled in week 47.
    assert view["trend"][-2] == {
        "week": "2026-W47",
        "scheduled": 13,
        "missed": 13,
        "cancelled_by_manager": 13,
        "cancelled_by_report": 0,
        "made_up": 0,
        "excused": 0,
        "cancellation_rate": 1.0,
    }
    assert view["trend"][-3]["scheduled"] == 13 and view["trend"][-3]["missed"] == 0
    assert view["trend"][0]["cancellation_rate"] is None
    # Suppressed: dana (4 reports), bea (2), dee (1). Dana knows her own 4 pairs, so the org
    # summary less ann's figures would be bea's and dee's 3 pairs: under the floor, not shown.
    assert view["summary"] is None
    # ann's sub-org (her 6 pairs below her, unknown to dana) would leave bea's and dee's 3
    # unknown pairs as the rest: it folds too, and "other" is the whole org.
    (other,) = view["sub_orgs"]
    assert other["label"] == "other" and other["head"] is None
    assert other["trend"][-2]["scheduled"] == 13
    managers = {m["manager"]["email"]: m for m in view["managers"]}
    assert list(managers) == [BOSS, "ann@acme.test", "bea@acme.test", "dee@acme.test"]
    assert managers[BOSS]["suppressed"] and managers[BOSS]["summary"] is None
    assert managers["bea@acme.test"]["suppressed"]
    assert managers["ann@acme.test"]["summary"]["direct_reports"] == 6
    for report in ("a0@", "b0@", "cal@", "d0@", "A0", "Cal"):
        assert report not in text  # a director's report never names a report
    assert view["previous_summary"] is None


def test_privacy_floor_off_and_previous_week(db: Engine) -> None:
    _company(db)
    cfg = parse_config({"report": {"min_group_size": 1}})
    result = compute(db, cfg, AS_OF)
    previous = compute(db, cfg, AS_OF - timedelta(days=7))
    view = director_view(result, BOSS, previous=previous)
    assert [s["label"] for s in view["sub_orgs"]] == ["Ann", "Bea", "Dee"]
    assert not any(m["suppressed"] for m in view["managers"])
    assert view["previous_summary"] == director_view(previous, BOSS)["summary"]
    assert view["previous_summary"] != view["summary"]


def test_weeks_are_cut_in_the_configured_zone(db: Engine) -> None:
    small_org(db)
    # Monday 01:00 in Tokyo is still Sunday in UTC.
    store(db, [Meeting("t", at(1, hour=16))])
    for zone, week in (("UTC", "2026-W47"), ("Asia/Tokyo", "2026-W48")):
        cfg = parse_config({"org": {"timezone": zone}, "report": {"min_group_size": 1}})
        trend = director_view(compute(db, cfg, AS_OF), BOSS)["trend"]
        assert [w["week"] for w in trend if w["scheduled"]] == [week]


def test_dask_engine_equals_pandas_on_a_local_cluster(db: Engine) -> None:
    distributed = pytest.importorskip("distributed")
    _company(db)
    cfg = config()
    base = compute(db, cfg, AS_OF)
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        on_cluster = compute(
            db, cfg, AS_OF, engine_kind="dask", scheduler=cluster.scheduler_address
        )
    pd.testing.assert_frame_equal(on_cluster.pairs, base.pairs)
    assert director_view(on_cluster, BOSS) == director_view(base, BOSS)
    threads = compute(db, cfg, AS_OF, engine_kind="dask")
    pd.testing.assert_frame_equal(threads.occurrences, base.occurrences)


def test_engine_choices_are_checked(db: Engine) -> None:
    small_org(db)
    with pytest.raises(UsageError, match="unknown engine"):
        compute(db, config(), AS_OF, engine_kind="spark")
    with pytest.raises(UsageError, match="needs --engine dask"):
        compute(db, config(), AS_OF, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(UsageError, match="time zone"):
        compute(db, config(), AS_OF.replace(tzinfo=None))


def test_a_column_null_in_its_first_rows_is_read_by_its_later_ones(db: Engine) -> None:
    # The columnar read types a column from the rows it sees first: 1,500 one-offs (no series,
    # no recurrence, no cancellation time) come before the one series' occurrences.
    small_org(db)
    one_offs = [Meeting(f"a{i:04d}", at(3 + i / 1000)) for i in range(1500)]
    series = [changed(m, status="cancelled", updated=at(27)) for m in weekly("z", at(28), 2)]
    store(db, [*one_offs, *series])
    frames = reads.load_frames(db, params_for(config(), AS_OF).load_since)
    events = frames.events
    assert events["series_id"].notna().sum() == 4  # two occurrences in two calendars
    assert set(events["recurrence"].dropna()) == {"RRULE:FREQ=WEEKLY;BYDAY=MO"}
    assert events["cancelled_at"].notna().sum() == 4
    assert str(events["cancelled_at"].dtype) == "datetime64[ns, UTC]"
    assert (events["copy_id"].to_numpy() == range(len(events))).all()


def test_a_cycle_in_the_org_chart_ends(db: Engine) -> None:
    add_people(
        db,
        [
            ("a@acme.test", "A", "c@acme.test"),
            ("b@acme.test", "B", "a@acme.test"),
            ("c@acme.test", "C", "b@acme.test"),
            ("d@acme.test", "D", "a@acme.test"),
        ],
    )
    result = compute(db, config(), AS_OF)
    below = result.org.members("a@acme.test")
    assert below == ["b@acme.test", "c@acme.test", "d@acme.test"]


def test_window_weeks_argument(db: Engine) -> None:
    small_org(db)
    store(db, weekly("w", at(28), 5))
    view = manager_view(compute(db, config(), AS_OF, window_weeks=2), MGR)
    assert view["window_weeks"] == 2
    (entry,) = view["reports"]
    assert (entry["held"], entry["minutes_per_week"], len(entry["timeline"])) == (2, 30.0, 2)


def test_crowded_copies_are_read_as_a_count(db: Engine) -> None:
    small_org(db)
    crowd = (MGR, REP, *(f"x{i}@acme.test" for i in range(5)))
    store(db, [Meeting("all-hands", at(3), people=crowd, calendars=(MGR,)), Meeting("o", at(2))])
    frames = reads.load_frames(db, params_for(config(), AS_OF).load_since)
    listed = dict(zip(frames.events["event_id"].astype(str), frames.events["listed"], strict=True))
    assert listed == {"all-hands": 7, "o": 2}
    assert len(frames.attendees) == 4  # the 1:1's two copies, two people each


def test_a_copy_listing_rooms_besides_its_people_is_read_whole(engine: Engine) -> None:
    # More than MAX_LISTED rows, but only two people: the rooms do not make it crowded (the
    # store counts rows first, then people, for the copies with many rows).
    small_org(engine)
    rooms = tuple(f"room{i}@resource.acme.test" for i in range(4))
    store(engine, [Meeting("roomy", at(3), rooms=rooms), Meeting("o", at(2))])
    frames = reads.load_frames(engine, params_for(config(), AS_OF).load_since)
    listed = dict(zip(frames.events["event_id"].astype(str), frames.events["listed"], strict=True))
    assert listed == {"roomy": 2, "o": 2}
    assert len(frames.attendees) == 2 * (6 + 2)  # each 1:1's two copies, rooms included
    view = manager_view(compute(engine, config(), AS_OF), MGR)
    assert view["reports"][0]["held"] == 2


def test_a_reader_process_that_died_is_started_again(db: Engine) -> None:
    # SQLite is read by a child process kept between reads; the out-of-memory killer (or an
    # admin) may end it, and the next report must not fail for it.
    small_org(db)
    store(db, weekly("w", at(28), 5))
    since = params_for(config(), AS_OF).load_since
    first = reads.load_frames(db, since)
    child = arrow_reads.CHILD._child
    assert child is not None
    child.kill()
    child.wait()
    again = reads.load_frames(db, since)
    assert arrow_reads.CHILD._child is not None and arrow_reads.CHILD._child.pid != child.pid
    pd.testing.assert_frame_equal(again.events, first.events)


def test_a_read_the_reader_process_fails_is_one_line_and_the_process_serves_the_next(
    db: Engine,
) -> None:
    # The child sends the driver's error as it is; the caller makes it the one line it shows.
    small_org(db)
    store(db, weekly("w", at(28), 5))
    since = params_for(config(), AS_OF).load_since
    first = reads.load_frames(db, since)
    child = arrow_reads.CHILD._child
    with db.begin() as conn:
        conn.execute(text("ALTER TABLE attendees RENAME TO attendees_gone"))
    with pytest.raises(StoreError) as failed:
        reads.load_frames(db, since)
    message = str(failed.value)
    assert message.startswith(f"cannot read the database {db.url}: ")
    assert "no such table: attendees" in message and "\n" not in message
    with db.begin() as conn:
        conn.execute(text("ALTER TABLE attendees_gone RENAME TO attendees"))
    again = reads.load_frames(db, since)
    assert arrow_reads.CHILD._child is child  # it reported the error and went on serving
    pd.testing.assert_frame_equal(again.attendees, first.attendees)


@pytest.mark.parametrize("taken", [0, 1])
def test_a_read_left_unfinished_does_not_reach_the_next(engine: Engine, taken: int) -> None:
    # The tables come one by one, as each is read (SQLite's reader process sends its answer as
    # it goes, PostgreSQL's is read ahead by a thread): a caller that stops early, or before
    # taking any, must leave nothing for the next read to take as its own.
    small_org(engine)
    store(engine, weekly("w", at(28), 5))
    since = params_for(config(), AS_OF).load_since
    first = reads.load_frames(engine, since)
    tables = reads._read(engine, reads._event_statements(engine, since))
    for _ in range(taken):
        next(tables)
    tables.close()
    again = reads.load_frames(engine, since)
    pd.testing.assert_frame_equal(again.events, first.events)
    pd.testing.assert_frame_equal(again.attendees, first.attendees)
