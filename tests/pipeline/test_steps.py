"""The pure steps of the pipeline on small hand-built frames, with no store and no configuration.

Beside the end-to-end tests (events stored, the whole pipeline run), these call one step each: the
outcome decision (copies of an occurrence -> held / cancelled / declined / upcoming, who missed
it, whether late), the pair figures and the health of a pair, the cancellation rate and the
privacy decisions, and check what a user would notice in the report.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cadence.config import HealthConfig, parse_config
from cadence.errors import UsageError
from cadence.jobs.figures import params_for
from cadence.pipeline import Params
from cadence.pipeline.away import PAIR_COLUMNS
from cadence.pipeline.engines import run
from cadence.pipeline.occurrences import (
    COPY_COLUMNS,
    OCCURRENCE_COLUMNS,
    OUTCOMES,
    ROLES,
    Outcome,
    Role,
    occurrences,
)
from cadence.pipeline.pairs import complete, pair_figures, with_away, with_health
from cadence.pipeline.params import Thresholds
from cadence.pipeline.privacy import fold_sub_orgs, manager_suppressed, summary_shown
from cadence.pipeline.rates import cancellation_rate
from cadence.pipeline.recurrence import parse_rules

AS_OF = pd.Timestamp(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))  # a Monday, noon
START = AS_OF - pd.Timedelta(days=7, hours=2)  # last Monday, 10:00
SYNC = AS_OF - pd.Timedelta(days=200)  # the mailboxes' first sync
HOUR = pd.Timedelta(hours=1)
NO_AWAY = pd.DataFrame(
    {"pair_id": pd.Series(dtype=np.int64)}
    | {name: pd.Series(dtype="datetime64[ns, UTC]") for name in PAIR_COLUMNS[1:]}
)
TIMES = [
    "original_start",
    "start",
    "end",
    "cancelled_at",
    "cancel_seen_at",
    "first_seen",
    "last_seen",
    "source_updated",
    "m_response_at",
    "m_response_seen_at",
    "r_response_at",
    "r_response_seen_at",
]
THRESHOLDS = Thresholds(
    late_cancel_hours=24,
    max_duration_hours=3,
    cancel_streak_unhealthy=3,
    cancel_streak_at_risk=2,
    stale_factor=2,
    stale_default_days=14,
    high_cancellation_min_scheduled=4,
    high_cancellation_unhealthy=0.5,
    high_cancellation_at_risk=0.25,
    manager_cancels_min=2,
    manager_cancels_share=0.5,
)
PARAMS = Params(
    as_of=AS_OF,
    window_weeks=12,
    trend_weeks=26,
    min_group_size=5,
    timezone="UTC",
    health=THRESHOLDS,
)


# --- the outcome decision -----------------------------------------------------------------------


def copy(**kw: Any) -> dict[str, Any]:
    """One stored copy of a 30-minute 1:1 last Monday at 10:00, organised by the manager, seen by
    the first sync and accepted by both; ``kw`` overrides any column."""
    row: dict[str, Any] = {
        "pair_id": 0,
        "ident": 0,
        "manager_code": 0,
        "src_code": 0,
        "mbx_code": 0,
        "original_start": START,
        "start": START,
        "end": START + pd.Timedelta(minutes=30),
        "all_day": 0.0,
        "ordinary": 1.0,
        "rule": np.nan,
        "cancelled": False,
        "cancelled_at": pd.NaT,
        "cancel_seen_at": pd.NaT,
        "organizer_role": float(Role.MANAGER),
        "first_seen": SYNC,
        "last_seen": SYNC,
        "source_updated": pd.NaT,
        "m_declined": 0.0,
        "m_response_at": pd.NaT,
        "m_response_seen_at": pd.NaT,
        "r_declined": 0.0,
        "r_response_at": pd.NaT,
        "r_response_seen_at": pd.NaT,
    }
    unknown = set(kw) - set(row)
    assert not unknown, unknown
    row.update(kw)
    return row


def copies(*rows: dict[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=COPY_COLUMNS)
    for name in TIMES:
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def decide(*rows: dict[str, Any], p: Params = PARAMS) -> list[dict[str, Any]]:
    """Each occurrence's outcome, canceller role and lateness, by ident."""
    occ = occurrences(copies(*rows), p)
    assert list(occ.columns) == OCCURRENCE_COLUMNS
    role = occ["canceller_role"].astype(object).where(occ["canceller_role"].notna(), None)
    return [
        {"outcome": o, "canceller_role": r, "late": bool(late)}
        for o, r, late in zip(occ["outcome"].astype(str), role, occ["late"], strict=True)
    ]


def test_held_upcoming_cancelled_declined() -> None:
    later = AS_OF + pd.Timedelta(days=3)
    assert decide(
        copy(ident=0),
        copy(ident=1, original_start=later, start=later, end=later + HOUR),
        copy(ident=2, cancelled=True, cancelled_at=START - pd.Timedelta(days=3)),
        copy(ident=3, r_declined=1.0, r_response_at=START - pd.Timedelta(days=3)),
    ) == [
        {"outcome": "held", "canceller_role": None, "late": False},
        {"outcome": "upcoming", "canceller_role": None, "late": False},
        {"outcome": "cancelled", "canceller_role": "manager", "late": False},
        {"outcome": "declined", "canceller_role": "report", "late": False},
    ]


def test_a_meeting_in_progress_at_as_of_is_held() -> None:
    now = AS_OF - pd.Timedelta(minutes=10)
    (occ,) = decide(copy(original_start=now, start=now, end=now + HOUR))
    assert occ["outcome"] == "held"


def test_the_manager_organizer_cancelling_2_hours_before_is_a_late_manager_cancellation() -> None:
    (occ,) = decide(copy(cancelled=True, cancelled_at=START - 2 * HOUR))
    assert occ == {"outcome": "cancelled", "canceller_role": "manager", "late": True}


def test_late_is_after_the_notice_exactly_24_hours_before_is_not() -> None:
    notice = pd.Timedelta(hours=THRESHOLDS.late_cancel_hours)
    late = [
        occ["late"]
        for occ in decide(
            copy(ident=0, cancelled=True, cancelled_at=START - notice),
            copy(ident=1, cancelled=True, cancelled_at=START - notice + pd.Timedelta(seconds=1)),
            copy(ident=2, cancelled=True, cancelled_at=START + HOUR),
        )
    ]
    assert late == [False, True, True]


def test_the_organizer_cancels_and_an_unknown_organizer_is_the_manager() -> None:
    by_report, unknown = decide(
        copy(ident=0, cancelled=True, organizer_role=float(Role.REPORT)),
        copy(ident=1, cancelled=True, organizer_role=np.nan),
    )
    assert by_report["canceller_role"] == "report"
    assert unknown["canceller_role"] == "manager"


def test_the_decliner_misses_it_and_when_both_decline_the_organizer() -> None:
    manager, both = decide(
        copy(ident=0, m_declined=1.0),
        copy(ident=1, m_declined=1.0, r_declined=1.0, organizer_role=float(Role.REPORT)),
    )
    assert (manager["outcome"], manager["canceller_role"]) == ("declined", "manager")
    assert (both["outcome"], both["canceller_role"]) == ("declined", "report")


def test_a_cancellation_wins_over_a_decline() -> None:
    (occ,) = decide(copy(cancelled=True, r_declined=1.0))
    assert (occ["outcome"], occ["canceller_role"]) == ("cancelled", "manager")


def test_the_source_time_dates_a_miss_before_the_sync_that_saw_it() -> None:
    # Cancelled three days ahead, but the sync that saw it ran an hour before the start.
    (occ,) = decide(
        copy(
            cancelled=True,
            cancelled_at=START - pd.Timedelta(days=3),
            cancel_seen_at=START - HOUR,
        )
    )
    assert occ["late"] is False
    # No source time: the sighting an hour before the start dates it.
    (occ,) = decide(copy(cancelled=True, cancel_seen_at=START - HOUR))
    assert occ["late"] is True


def test_a_miss_a_first_sync_already_found_has_an_unknown_time() -> None:
    # The report's calendar only saw the cancellation an hour before the start; the manager's
    # mailbox was first synced after it, and found it already cancelled: its time is unknown.
    seen_late = copy(mbx_code=1, cancelled=True, cancel_seen_at=START - HOUR)
    found_first = copy(mbx_code=0, cancelled=True, cancel_seen_at=pd.NaT)
    assert decide(seen_late)[0]["late"] is True
    assert decide(seen_late, found_first)[0]["late"] is False
    # The same for a decline: both people's answers count.
    declined_late = copy(mbx_code=1, r_declined=1.0, r_response_seen_at=START - HOUR)
    declined_first = copy(mbx_code=0, r_declined=1.0, r_response_seen_at=pd.NaT)
    assert decide(declined_late)[0] == {
        "outcome": "declined",
        "canceller_role": "report",
        "late": True,
    }
    assert decide(declined_late, declined_first)[0]["late"] is False


def test_the_copy_seen_last_says_where_it_is_now() -> None:
    moved = START + pd.Timedelta(days=1)
    (occ,) = occurrences(
        copies(
            copy(mbx_code=0, last_seen=SYNC + pd.Timedelta(days=2), start=moved, end=moved + HOUR),
            copy(mbx_code=1, last_seen=SYNC),
        ),
        PARAMS,
    ).itertuples()
    assert (occ.start, occ.rescheduled, occ.minutes) == (moved, True, 60.0)


def test_all_day_other_types_and_long_meetings_are_no_1_1s() -> None:
    three_hours = START + 3 * HOUR
    occ = occurrences(
        copies(
            copy(ident=0, all_day=1.0),
            copy(ident=1, ordinary=0.0),
            copy(ident=2, end=three_hours + pd.Timedelta(seconds=1)),
            copy(ident=3, end=three_hours),
            copy(ident=4, all_day=np.nan, ordinary=np.nan),  # not said: a timed ordinary event
        ),
        PARAMS,
    )
    assert occ["ident"].tolist() == [3, 4]


def test_the_codes_are_the_labels_positions() -> None:
    assert OUTCOMES == ["held", "cancelled", "declined", "upcoming", "made_up", "excused"]
    assert ROLES == ["manager", "report"]
    assert [OUTCOMES[o] for o in (Outcome.CANCELLED, Outcome.UPCOMING)] == ["cancelled", "upcoming"]
    assert ROLES[Role.REPORT] == "report"


# --- pair figures and health --------------------------------------------------------------------


def occurrence(days_ago: float, outcome: str, role: str | None = None, **kw: Any) -> dict[str, Any]:
    """One decided occurrence of pair 0 (a weekly series), ``days_ago`` days before as-of."""
    start = AS_OF - pd.Timedelta(days=days_ago)
    row = {
        "pair_id": 0,
        "ident": int(1000 - days_ago),
        "original_start": start,
        "start": start,
        "end": start + pd.Timedelta(minutes=30),
        "outcome": outcome,
        "canceller_role": role,
        "late": False,
        "rescheduled": False,
        "minutes": 30.0,
        "rule": 0.0,
    }
    row.update(kw)
    return row


def decided(*rows: dict[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=OCCURRENCE_COLUMNS)
    frame["outcome"] = pd.Categorical(frame["outcome"], categories=OUTCOMES)
    frame["canceller_role"] = pd.Categorical(frame["canceller_role"], categories=ROLES)
    for name in ("original_start", "start", "end"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


RULES = parse_rules(pd.Series(["RRULE:FREQ=WEEKLY;BYDAY=MO"]), "UTC")
PAIRS = pd.DataFrame(
    {"kind": ["pair", "pair"], "manager": ["mia", "mia"], "report": ["rob", "ray"], "via": None},
    index=pd.Index([0, 1], name="pair_id"),
)


def health(occ: pd.DataFrame) -> pd.DataFrame:
    figures = with_away(complete(PAIRS, pair_figures(occ, RULES, PARAMS)), NO_AWAY, PARAMS)
    return with_health(figures, PARAMS)


def test_three_missed_in_a_row_after_a_held_one_is_a_streak_of_3() -> None:
    occ = decided(
        occurrence(28, "held"),
        occurrence(21, "cancelled", "manager", late=True),
        occurrence(14, "declined", "report"),
        occurrence(7, "cancelled", "manager"),
        occurrence(-7, "upcoming"),
    )
    figures = pair_figures(occ, RULES, PARAMS).loc[0]
    assert figures["consecutive_missed"] == 3
    assert figures["streak_cancelled_by_manager"] == 2
    assert (figures["scheduled"], figures["held"], figures["missed"]) == (4, 1, 3)
    assert (figures["cancelled_by_manager"], figures["cancelled_by_report"]) == (2, 1)
    assert (figures["declined"], figures["late_cancellations"]) == (1, 1)
    assert figures["last_held"] == AS_OF - pd.Timedelta(days=28)
    assert figures["next_scheduled"] == AS_OF + pd.Timedelta(days=7)
    assert figures["intended_cadence_days"] == 7.0
    pair = health(occ).loc[0]
    assert pair["status"] == "unhealthy"
    assert pair["reasons"] == "cancel_streak stale high_cancellation manager_cancels"
    assert pair["cancellation_rate"] == 0.75


def test_a_held_one_ends_the_streak() -> None:
    occ = decided(
        occurrence(21, "cancelled", "manager"),
        occurrence(14, "cancelled", "manager"),
        occurrence(7, "held"),
    )
    figures = pair_figures(occ, RULES, PARAMS).loc[0]
    assert figures["consecutive_missed"] == 0
    assert figures["actual_cadence_days"] != figures["actual_cadence_days"]  # one held: null


def test_nothing_scheduled_and_nothing_upcoming_is_no_one_on_one() -> None:
    pairs = health(decided(occurrence(-7, "upcoming")))
    none, planned = pairs.loc[1], pairs.loc[0]
    assert none["status"] == "unhealthy"
    assert none["reasons"] == "no_one_on_one no_recurring_series"
    assert none["scheduled"] == 0 and np.isnan(none["cancellation_rate"])
    # Nothing in the window either, but a 1:1 planned: not "no 1:1" (its series has not begun).
    assert (planned["status"], planned["reasons"]) == ("at_risk", "no_recurring_series")


def test_weekly_1_1s_all_held_are_healthy() -> None:
    occ = decided(*(occurrence(7 * k, "held") for k in range(1, 5)))
    pair = health(occ).loc[0]
    assert (pair["status"], pair["reasons"]) == ("healthy", "")
    assert (pair["actual_cadence_days"], pair["cadence_bucket"]) == (7.0, "weekly")
    assert pair["minutes_per_week"] == 4 * 30 / PARAMS.window_weeks


def test_the_cancellation_rate_is_missed_over_scheduled_and_null_for_nothing_scheduled() -> None:
    rates = cancellation_rate(np.array([1, 0, 3]), np.array([4, 0, 3]))
    assert rates[0] == 0.25 and np.isnan(rates[1]) and rates[2] == 1.0


# --- privacy ------------------------------------------------------------------------------------


def test_sub_orgs_under_the_floor_fold_into_other() -> None:
    # ann's sub-org has 7 pairs, bea's 3, dee's 2; the org 13 (with the director's own 1:1 with
    # someone who manages nobody): bea and dee fold, and "other" (6 pairs) can show.
    assert fold_sub_orgs({"ann": 7, "bea": 3, "dee": 2}, 13, 5) == (["ann"], True)
    # The sub-orgs cover the whole org and none is small: nothing folds, no "other".
    assert fold_sub_orgs({"ann": 7, "bea": 5}, 12, 5) == (["bea", "ann"], False)
    # One pair of the director's own would be left alone: the smallest sub-org folds with it.
    assert fold_sub_orgs({"ann": 7, "bea": 5}, 13, 5) == (["ann"], True)


def test_a_shown_sub_org_folds_when_the_rest_would_be_a_small_group() -> None:
    # m1's 6 pairs would leave 3 pairs outside it, a group one could subtract to: m1 folds too.
    assert fold_sub_orgs({"m1": 6, "m2": 2}, 9, 5) == ([], True)
    # The whole org under the floor: nothing shows, not even "other".
    assert fold_sub_orgs({"m1": 2}, 3, 5) == ([], False)
    # A floor of 1 shows every sub-org.
    assert fold_sub_orgs({"m1": 6, "m2": 2}, 9, 1) == (["m2", "m1"], False)


def test_managers_and_the_org_summary_under_the_floor() -> None:
    assert manager_suppressed(4, 5) and not manager_suppressed(5, 5)
    assert summary_shown(0, 5) and summary_shown(5, 5) and summary_shown(7, 5)
    assert not summary_shown(4, 5)


# --- the bridge and the engines -----------------------------------------------------------------


def test_the_thresholds_are_the_health_settings() -> None:
    assert [f.name for f in fields(Thresholds)] == [f.name for f in fields(HealthConfig)]
    config = parse_config({"health": {"late_cancel_hours": 12}})
    params = params_for(config, AS_OF.to_pydatetime() + timedelta(hours=1))
    assert params.health == Thresholds(**{**vars(THRESHOLDS), "late_cancel_hours": 12})
    assert params.as_of == AS_OF + HOUR and params.window_weeks == 12
    with pytest.raises(UsageError, match="time zone"):
        params_for(config, datetime(2026, 11, 23))
    with pytest.raises(UsageError, match="must be 1 to 520"):
        params_for(config, AS_OF.to_pydatetime(), window_weeks=0)


def test_the_pipeline_names_no_command_line_options() -> None:
    empty = copies().iloc[:0]
    with pytest.raises(UsageError) as err:
        run(empty, RULES, NO_AWAY, PARAMS, "pandas", "threads")
    assert "needs the dask engine" in str(err.value) and "--" not in str(err.value)
    with pytest.raises(UsageError, match="unknown engine 'spark'"):
        run(empty, RULES, NO_AWAY, PARAMS, "spark")
