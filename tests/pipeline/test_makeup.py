"""Made-up misses (cadence.pipeline.makeup) on hand-built occurrence frames: the cases the rule
names (Tuesday cancelled, Thursday one-off), each decision of the module docstring, and
Hypothesis properties: the vectorised rounds agree with a plain per-pair loop of the rule, a
one-off makes up one miss at most, only misses are made up, row order changes nothing, and adding
a one-off never un-makes-up a miss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadence.pipeline.makeup import made_up, make_ups
from cadence.pipeline.occurrences import OCCURRENCE_COLUMNS, OUTCOMES, ROLES
from cadence.pipeline.recurrence import parse_rules

AS_OF = pd.Timestamp("2026-11-23T12:00Z")  # a Monday, noon
TUE = pd.Timestamp("2026-11-10T10:00Z")  # a Tuesday two weeks back, 10:00
DAY = pd.Timedelta(days=1)
HOUR = pd.Timedelta(hours=1)
# Rule codes: 0 weekly, 1 biweekly, 2 monthly, 3 hourly (no cadence).
RULES = parse_rules(
    pd.Series(
        [
            "RRULE:FREQ=WEEKLY;BYDAY=TU",
            "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
            "RRULE:FREQ=MONTHLY;BYMONTHDAY=10",
            "RRULE:FREQ=HOURLY",
        ]
    ),
    "UTC",
)
WEEKLY, BIWEEKLY, MONTHLY, HOURLY = 0.0, 1.0, 2.0, 3.0
ONE_OFF = None


def occ_row(
    ident: int,
    original_start: pd.Timestamp,
    outcome: str,
    rule: float | None = WEEKLY,
    pair_id: int = 0,
    start: pd.Timestamp | None = None,
) -> dict[str, Any]:
    """One decided occurrence (as :func:`occurrences` gives it); ``start`` defaults to the
    original start."""
    begins = original_start if start is None else start
    return {
        "pair_id": pair_id,
        "ident": ident,
        "original_start": original_start,
        "start": begins,
        "end": begins + pd.Timedelta(minutes=30),
        "outcome": outcome,
        "canceller_role": "manager" if outcome in ("cancelled", "declined") else None,
        "late": False,
        "rescheduled": begins != original_start,
        "minutes": 30.0,
        "rule": rule,
    }


def one_off(ident: int, start: pd.Timestamp, outcome: str = "held", pair_id: int = 0) -> Any:
    return occ_row(ident, start, outcome, rule=ONE_OFF, pair_id=pair_id)


def frame(*rows: dict[str, Any]) -> pd.DataFrame:
    out = pd.DataFrame(list(rows), columns=OCCURRENCE_COLUMNS)
    out["outcome"] = pd.Categorical(out["outcome"], categories=OUTCOMES)
    out["canceller_role"] = pd.Categorical(out["canceller_role"], categories=ROLES)
    for name in ("original_start", "start", "end"):
        out[name] = pd.to_datetime(out[name], utc=True)
    out["rule"] = out["rule"].astype(float)
    out["ident"] = out["ident"].astype(np.int64)
    return out


def made_up_by(occ: pd.DataFrame) -> dict[int, int | None]:
    """ident of each miss -> ident of the one-off that made it up (None: not made up)."""
    result = make_ups(occ, RULES)
    misses = occ["outcome"].isin(["cancelled", "declined"])
    return {
        int(i): (None if pd.isna(b) else int(b))
        for i, b in zip(occ.loc[misses, "ident"], result.loc[misses, "made_up_by"], strict=True)
    }


CASES: list[tuple[str, list[dict[str, Any]], dict[int, int | None]]] = [
    (
        "weekly cancelled Tuesday, one-off Thursday: made up",
        [occ_row(1, TUE, "cancelled"), one_off(100, TUE + 2 * DAY)],
        {1: 100},
    ),
    (
        "a declined one is a miss too",
        [occ_row(1, TUE, "declined"), one_off(100, TUE + 2 * DAY)],
        {1: 100},
    ),
    (
        "one-off outside half the cadence (3.5 days + 1 hour): not",
        [occ_row(1, TUE, "cancelled"), one_off(100, TUE + 3.5 * DAY + HOUR)],
        {1: None},
    ),
    (
        "exactly half the cadence away counts",
        [occ_row(1, TUE, "cancelled"), one_off(100, TUE + 3.5 * DAY)],
        {1: 100},
    ),
    (
        "a one-off miss is made up within 3.5 days",
        [one_off(1, TUE, "cancelled"), one_off(100, TUE + 3 * DAY)],
        {1: 100},
    ),
    (
        "a one-off miss: not beyond 3.5 days",
        [one_off(1, TUE, "cancelled"), one_off(100, TUE - 3.5 * DAY - HOUR)],
        {1: None},
    ),
    (
        "a series with no cadence (hourly) is taken as a one-off: 3.5 days",
        [
            occ_row(1, TUE, "cancelled", rule=HOURLY),
            occ_row(2, TUE + 20 * DAY, "cancelled", rule=HOURLY),
            one_off(100, TUE + 3 * DAY),
            one_off(101, TUE + 24 * DAY),
        ],
        {1: 100, 2: None},
    ),
    (
        "several misses compete for one one-off: the earliest miss gets it",
        [
            occ_row(1, TUE, "cancelled"),
            occ_row(2, TUE + 1 * DAY, "cancelled", rule=BIWEEKLY),
            one_off(100, TUE + 2 * DAY),
        ],
        {1: 100, 2: None},
    ),
    (
        "each miss takes the nearest unused one-off",
        [
            occ_row(1, TUE, "cancelled"),
            occ_row(2, TUE + DAY, "cancelled"),
            one_off(100, TUE + 2 * DAY),
            one_off(101, TUE - 3 * DAY),
        ],
        {1: 100, 2: None},
    ),
    (
        "two one-offs equally near: the earlier one-off",
        [
            occ_row(1, TUE, "cancelled"),
            one_off(100, TUE + 2 * DAY),
            one_off(101, TUE - 2 * DAY),
        ],
        {1: 101},
    ),
    (
        "two one-offs at the same instant: the lower ident, whatever the row order",
        [
            occ_row(1, TUE, "cancelled"),
            one_off(102, TUE - 2 * DAY),
            one_off(101, TUE - 2 * DAY),
        ],
        {1: 101},
    ),
    (
        "a one-off that was itself cancelled (or declined) cannot make up",
        [
            occ_row(1, TUE, "cancelled"),
            occ_row(2, TUE + 7 * DAY, "cancelled"),
            one_off(100, TUE + 2 * DAY, "cancelled"),
            one_off(101, TUE + 8 * DAY, "declined"),
        ],
        {1: None, 2: None, 100: None, 101: None},
    ),
    (
        "an upcoming one-off makes up: held or upcoming",
        [occ_row(1, AS_OF - DAY, "cancelled"), one_off(100, AS_OF + DAY, "upcoming")],
        {1: 100},
    ),
    (
        "a one-off before the miss counts",
        [occ_row(1, TUE, "cancelled"), one_off(100, TUE - 3 * DAY)],
        {1: 100},
    ),
    (
        "misses of another pair never use this pair's one-offs",
        [occ_row(1, TUE, "cancelled", pair_id=1), one_off(100, TUE + DAY, pair_id=0)],
        {1: None},
    ),
    (
        "biweekly series: half is 7 days",
        [
            occ_row(1, TUE, "cancelled", rule=BIWEEKLY),
            occ_row(2, TUE + 28 * DAY, "cancelled", rule=BIWEEKLY),
            one_off(100, TUE + 7 * DAY),
            one_off(101, TUE + 28 * DAY - 7 * DAY - HOUR),
        ],
        {1: 100, 2: None},
    ),
    (
        "monthly series: half is 15 days",
        [
            occ_row(1, TUE, "cancelled", rule=MONTHLY),
            occ_row(2, TUE + 60 * DAY, "cancelled", rule=MONTHLY),
            one_off(100, TUE - 15 * DAY),
            one_off(101, TUE + 60 * DAY + 15 * DAY + HOUR),
        ],
        {1: 100, 2: None},
    ),
    (
        "held series occurrences make up nothing",
        [occ_row(1, TUE, "cancelled"), occ_row(2, TUE + 2 * DAY, "held", rule=BIWEEKLY)],
        {1: None},
    ),
    (
        "misses outside any window are matched too, in order of original start",
        [
            occ_row(1, TUE - 400 * DAY, "cancelled"),
            occ_row(2, TUE - 399 * DAY, "cancelled"),
            one_off(100, TUE - 398 * DAY),
            one_off(101, TUE - 402 * DAY),
        ],
        {1: 101, 2: 100},
    ),
]


@pytest.mark.parametrize(("rows", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_made_up(rows: list[dict[str, Any]], expected: dict[int, int | None]) -> None:
    occ = frame(*rows)
    assert made_up_by(occ) == expected
    flags = made_up(occ, RULES)
    assert flags.index.equals(occ.index)
    assert flags.dtype == bool
    wanted = {i for i, b in expected.items() if b is not None}
    assert set(occ.loc[flags, "ident"]) == wanted


def test_the_one_off_s_actual_start_counts_not_its_first_seen_start() -> None:
    # First booked for Saturday (out of span), moved to Thursday: Thursday makes up Tuesday.
    moved = occ_row(100, TUE + 4 * DAY, "held", rule=ONE_OFF, start=TUE + 2 * DAY)
    assert made_up_by(frame(occ_row(1, TUE, "cancelled"), moved)) == {1: 100}
    # And the other way round: booked for Thursday, moved to Saturday: no longer within.
    away = occ_row(100, TUE + 2 * DAY, "held", rule=ONE_OFF, start=TUE + 4 * DAY)
    assert made_up_by(frame(occ_row(1, TUE, "cancelled"), away)) == {1: None}


def test_the_miss_is_measured_from_its_original_start() -> None:
    # Moved from Tuesday to Saturday, then cancelled: the span is around Tuesday.
    miss = occ_row(1, TUE, "cancelled", start=TUE + 4 * DAY)
    assert made_up_by(frame(miss, one_off(100, TUE - 3 * DAY))) == {1: 100}
    assert made_up_by(frame(miss, one_off(100, TUE + 7 * DAY))) == {1: None}


def test_empty_and_no_one_offs() -> None:
    empty = frame()
    assert made_up(empty, RULES).empty
    result = make_ups(frame(occ_row(1, TUE, "cancelled")), RULES)
    assert not result["made_up"].any()
    assert result["made_up_by"].isna().all()
    assert str(result["made_up_by"].dtype) == "Int64"


def test_the_index_is_kept() -> None:
    occ = frame(occ_row(1, TUE, "cancelled"), one_off(100, TUE + DAY)).set_axis([7, 3])
    assert made_up(occ, RULES).to_dict() == {7: True, 3: False}


# --- properties ---------------------------------------------------------------------------------


def reference(occ: pd.DataFrame) -> dict[int, int | None]:
    """The rule as written, one miss at a time (a plain loop): ident of miss -> one-off."""
    cadence = RULES["cadence_days"]
    half_of = dict(zip(cadence.index.astype(float), cadence.to_numpy() / 2, strict=True))
    out: dict[int, int | None] = {}
    for _, rows in occ.groupby("pair_id"):
        offs = rows[rows["rule"].isna() & rows["outcome"].isin(["held", "upcoming"])]
        free: list[tuple[pd.Timestamp, int]] = sorted(
            zip(offs["start"], offs["ident"].astype(int), strict=True)
        )
        misses = rows[rows["outcome"].isin(["cancelled", "declined"])]
        listed: list[tuple[pd.Timestamp, int, float]] = sorted(
            zip(misses["original_start"], misses["ident"].astype(int), misses["rule"], strict=True)
        )
        for original, ident, rule in listed:
            half = half_of.get(rule, np.nan)
            span = pd.Timedelta(days=3.5 if pd.isna(half) else half)
            near = [(abs(s - original), s, i) for s, i in free if abs(s - original) <= span]
            if near:
                _, s, i = min(near)
                free.remove((s, i))
                out[ident] = i
            else:
                out[ident] = None
    return out


OUTCOME_LABELS = ["held", "cancelled", "declined", "upcoming"]


@st.composite
def occurrence_frames(draw: st.DrawFn, max_rows: int = 14) -> pd.DataFrame:
    """Random occurrences of up to 3 pairs, on a coarse grid of half days (so that ties and
    exact span edges happen often)."""
    n = draw(st.integers(0, max_rows))
    rows = []
    for ident in range(n):
        rule = draw(st.sampled_from([None, None, WEEKLY, BIWEEKLY, MONTHLY, HOURLY]))
        at = TUE + draw(st.integers(-40, 40)) * pd.Timedelta(hours=12)
        moved = at + draw(st.sampled_from([0, 0, -1, 1, 3])) * DAY
        rows.append(
            occ_row(
                ident,
                at,
                draw(st.sampled_from(OUTCOME_LABELS)),
                rule=rule,
                pair_id=draw(st.integers(0, 2)),
                start=moved,
            )
        )
    return frame(*rows)


@settings(max_examples=300, deadline=None)
@given(occurrence_frames())
def test_the_rounds_agree_with_the_rule_one_miss_at_a_time(occ: pd.DataFrame) -> None:
    assert made_up_by(occ) == reference(occ)


@settings(max_examples=200, deadline=None)
@given(occurrence_frames())
def test_a_one_off_makes_up_one_miss_at_most_and_only_misses_are_made_up(
    occ: pd.DataFrame,
) -> None:
    result = make_ups(occ, RULES)
    by = result["made_up_by"].dropna()
    assert by.is_unique
    assert result["made_up"].equals(result["made_up_by"].notna())
    flagged = occ[result["made_up"]]
    assert flagged["outcome"].isin(["cancelled", "declined"]).all()
    makers = occ.set_index("ident").loc[by.astype(int).to_numpy()]
    assert makers["rule"].isna().all()
    assert makers["outcome"].isin(["held", "upcoming"]).all()
    # Same pair.
    pairs = occ.loc[by.index, "pair_id"].to_numpy()
    assert (makers["pair_id"].to_numpy() == pairs).all()


@settings(max_examples=200, deadline=None)
@given(occurrence_frames(), st.randoms(use_true_random=False))
def test_shuffling_rows_changes_nothing(occ: pd.DataFrame, rnd: Any) -> None:
    before = make_ups(occ, RULES)
    order = list(range(len(occ)))
    rnd.shuffle(order)
    shuffled = occ.iloc[order]
    after = make_ups(shuffled, RULES)
    pd.testing.assert_frame_equal(after.loc[before.index], before)


def grown_by(occ: pd.DataFrame, extra: dict[str, Any]) -> pd.DataFrame:
    records = [{str(k): v for k, v in r.items()} for r in occ.to_dict("records")]
    return frame(*records, extra)


@settings(max_examples=300, deadline=None)
@given(
    occurrence_frames(),
    st.integers(-40, 40),
    st.integers(0, 2),
    st.sampled_from(["held", "upcoming"]),
    st.sampled_from([-1, 10_000]),
)
def test_adding_a_held_or_upcoming_one_off_never_un_makes_up_a_miss(
    occ: pd.DataFrame, half_days: int, pair_id: int, outcome: str, ident: int
) -> None:
    before = make_ups(occ, RULES)
    extra = one_off(ident, TUE + half_days * pd.Timedelta(hours=12), outcome, pair_id=pair_id)
    after = make_ups(grown_by(occ, extra), RULES).iloc[: len(occ)]
    assert (after["made_up"].to_numpy() >= before["made_up"].to_numpy()).all()


@settings(max_examples=300, deadline=None)
@given(
    occurrence_frames(),
    st.integers(-40, 40),
    st.integers(0, 2),
    st.sampled_from(OUTCOME_LABELS),
    st.sampled_from([None, WEEKLY, MONTHLY]),
    st.sampled_from([-1, 10_000]),
)
def test_adding_any_occurrence_never_lowers_the_number_made_up(
    occ: pd.DataFrame, half_days: int, pair_id: int, outcome: str, rule: float | None, ident: int
) -> None:
    # A cancelled one-off (a new miss) may take another miss's make-up: that miss loses it,
    # but the new one is made up instead, so the number never drops.
    before = made_up(occ, RULES).sum()
    at = TUE + half_days * pd.Timedelta(hours=12)
    extra = occ_row(ident, at, outcome, rule=rule, pair_id=pair_id)
    assert made_up(grown_by(occ, extra), RULES).sum() >= before
