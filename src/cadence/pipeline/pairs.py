"""Pair figures over the window, and each pair's health status with its reasons (docs/metrics.md
"Pair figures" and "Health").

:func:`pair_figures` needs the occurrences of whole pairs only, so the Dask engine runs it per
partition; :func:`with_health` then works on one row per pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cadence.counts import PAIR_COUNTS
from cadence.pipeline.away import away_between, away_days, away_until
from cadence.pipeline.occurrences import (
    DECLINED,
    EXCUSED,
    HELD,
    MADE_UP,
    MANAGER,
    MISSED,
    REPORT,
    SCHEDULED,
    UPCOMING,
)
from cadence.pipeline.params import Params, in_days
from cadence.pipeline.rates import cancellation_rate

# The pair counts (cadence.counts, in the reports' order), and the streak counts.
COUNTS = [*PAIR_COUNTS, "consecutive_missed", "streak_cancelled_by_manager"]
FIGURE_COLUMNS = [
    *COUNTS,
    "held_minutes",
    "actual_cadence_days",
    "intended_cadence_days",
    "last_held",
    "next_scheduled",
]
REASONS = [
    "no_one_on_one",
    "cancel_streak",
    "stale",
    "high_cancellation",
    "manager_cancels",
    "no_recurring_series",
]
# Microsoft Viva Insights' 1:1 frequency buckets, upper bounds in days (docs/metrics.md).
BUCKETS = [(7.0, "weekly"), (21.0, "up to 3 weeks"), (42.0, "3-6 weeks"), (70.0, "6-10 weeks")]


def in_window(occ: pd.DataFrame, p: Params) -> pd.Series:
    """The occurrences whose original start lies in (as-of - window, as-of]."""
    return (occ["original_start"] > p.window_start) & (occ["original_start"] <= p.as_of)


def pair_figures(occ: pd.DataFrame, rules: pd.DataFrame, p: Params) -> pd.DataFrame:
    """Per pair present in ``occ`` (index pair_id), ``FIGURE_COLUMNS`` with exact (unrounded)
    days and rates."""
    pair = occ["pair_id"]
    outcome = occ["outcome"]
    held_all = outcome == HELD
    w = occ[in_window(occ, p)].copy()
    o = w["outcome"]
    held = o == HELD
    missed = o.isin(MISSED)
    role = w["canceller_role"]
    flags = pd.DataFrame(
        {
            "pair_id": w["pair_id"],
            "held": held,
            "missed": missed,
            "cancelled_by_manager": missed & (role == MANAGER),
            "cancelled_by_report": missed & (role == REPORT),
            "declined": o == DECLINED,
            "late_cancellations": missed & w["late"],
            "rescheduled": w["rescheduled"],
            "held_minutes": w["minutes"].where(held, 0.0),
            "made_up": o == MADE_UP,
            "excused": o == EXCUSED,
        }
    )
    figures = flags.groupby("pair_id").sum()
    figures["held_minutes"] = figures["held_minutes"].astype(float)
    figures["scheduled"] = figures["held"] + figures["missed"]
    # Made-up and excused occurrences break no streak and make none.
    figures = figures.join(_streaks(w[o.isin(SCHEDULED)]), how="outer")
    figures = figures.join(_actual_cadence(w[held]), how="outer")
    figures = figures.join(
        occ.loc[held_all, "start"].groupby(pair[held_all]).max().rename("last_held"), how="outer"
    )
    upcoming = outcome == UPCOMING
    figures = figures.join(
        occ.loc[upcoming, "start"].groupby(pair[upcoming]).min().rename("next_scheduled"),
        how="outer",
    )
    figures = figures.join(_intended_cadence(occ, rules, p), how="outer")
    figures.index.name = "pair_id"
    return figures.reindex(columns=FIGURE_COLUMNS)


def _streaks(past: pd.DataFrame) -> pd.DataFrame:
    """How many of the latest past occurrences (by original start) were missed in a row, and how
    many of those the manager's side made."""
    past = past.sort_values(["pair_id", "original_start", "ident"])
    held = (past["outcome"] == HELD).astype(int)
    # Held occurrences at or after each row, counted from the end of its pair.
    held_after = held[::-1].groupby(past["pair_id"][::-1]).cumsum()[::-1]
    streak = held_after == 0
    frame = pd.DataFrame(
        {
            "pair_id": past["pair_id"],
            "consecutive_missed": streak,
            "streak_cancelled_by_manager": streak & (past["canceller_role"] == MANAGER),
        }
    )
    return frame.groupby("pair_id").sum()


def _actual_cadence(held: pd.DataFrame) -> pd.Series:
    """Median gap in days between consecutive held starts; null with fewer than two."""
    held = held.sort_values(["pair_id", "start", "ident"])
    same = held["pair_id"].eq(held["pair_id"].shift())
    gaps = in_days(held["start"] - held["start"].shift())
    gaps = gaps[same]
    return gaps.groupby(held.loc[same, "pair_id"]).median().rename("actual_cadence_days")


def _intended_cadence(occ: pd.DataFrame, rules: pd.DataFrame, p: Params) -> pd.Series:
    """The shortest cadence of the pair's series active at as-of (null: none, ad hoc).

    A series is its recurrence rule within the pair: every occurrence, in either calendar,
    carries it. Active: it has an occurrence at or before as-of, and it has not ended before
    as-of (UNTIL; for COUNT, its last stored occurrence). ``rules`` is :func:`parse_rules`'s
    table, indexed by the ``rule`` code the occurrences carry.
    """
    rec = occ[occ["rule"].notna()]
    series = rec.groupby(["pair_id", "rule"])["original_start"].agg(["min", "max"])
    series = series.reset_index().join(rules, on="rule")
    begun = series["min"] <= p.as_of
    until_ok = series["until"].isna() | (series["until"] >= p.as_of)
    count_ok = series["count"].isna() | (series["max"] >= p.as_of)
    active = series[begun & until_ok & count_ok & series["cadence_days"].notna()]
    return active.groupby("pair_id")["cadence_days"].min().rename("intended_cadence_days")


def complete(pairs: pd.DataFrame, figures: pd.DataFrame) -> pd.DataFrame:
    """Every pair (those with no 1:1 at all included) with its figures; counts 0, others null."""
    out = pairs.join(figures, how="left")
    out[COUNTS] = out[COUNTS].fillna(0).astype(np.int64)
    out["held_minutes"] = out["held_minutes"].fillna(0.0)
    return out


def with_away(frame: pd.DataFrame, away: pd.DataFrame, p: Params) -> pd.DataFrame:
    """Adds ``away_days`` (exact days of the window in the pair's away time), ``away_until``
    (the end of the away stretch holding as-of, else null) and ``away_since_last_held`` (the
    away time between last held and as-of, a timedelta; null when nothing was ever held), from
    every pair's merged away time (:func:`cadence.pipeline.away.pair_away`)."""
    out = frame.copy()
    pairs = pd.Index(out.index, name="pair_id")
    out["away_days"] = away_days(away, p.window_start, p.as_of, pairs).to_numpy()
    out["away_until"] = away_until(away, p.as_of, pairs).to_numpy()
    last_held = out["last_held"].astype("datetime64[ns, UTC]")
    since = away_between(away, last_held, p.as_of, pairs)
    out["away_since_last_held"] = since.to_numpy()
    return out


def with_health(frame: pd.DataFrame, p: Params) -> pd.DataFrame:
    """Adds the rates, the days since last held, status, reasons and the extra fields; the away
    figures (:func:`with_away`) must be there."""
    h = p.health
    out = frame.copy()
    scheduled = out["scheduled"]
    out["cancellation_rate"] = cancellation_rate(out["missed"], scheduled)
    since = in_days(p.as_of - out["last_held"])
    out["days_since_last_held"] = np.floor(since)
    # Stale counts the days since last held less the away time in between.
    present = np.floor(in_days(p.as_of - out["last_held"] - out["away_since_last_held"]))
    away_now = out["away_until"].notna()
    cadence = out["intended_cadence_days"].fillna(h.stale_default_days)
    rate = out["cancellation_rate"]
    streak = out["consecutive_missed"]
    many = scheduled >= h.high_cancellation_min_scheduled
    unhealthy = {
        "no_one_on_one": (scheduled == 0) & out["next_scheduled"].isna() & ~away_now,
        "cancel_streak": streak >= h.cancel_streak_unhealthy,
        "stale": (present > h.stale_factor * cadence).fillna(False),
        "high_cancellation": many & (rate >= h.high_cancellation_unhealthy).fillna(False),
    }
    at_risk = {
        "cancel_streak": streak >= h.cancel_streak_at_risk,
        "high_cancellation": many & (rate >= h.high_cancellation_at_risk).fillna(False),
        "manager_cancels": (out["cancelled_by_manager"] >= h.manager_cancels_min)
        & (out["cancelled_by_manager"] >= h.manager_cancels_share * out["missed"]),
        "no_recurring_series": out["intended_cadence_days"].isna(),
    }
    reasons = pd.Series("", index=out.index, dtype=object)
    any_unhealthy = pd.Series(False, index=out.index)
    any_at_risk = pd.Series(False, index=out.index)
    for code in REASONS:
        bad = unhealthy.get(code, pd.Series(False, index=out.index)).astype(bool)
        risky = at_risk.get(code, pd.Series(False, index=out.index)).astype(bool)
        any_unhealthy |= bad
        any_at_risk |= risky
        reasons = reasons + np.where(bad | risky, code + " ", "")
    out["reasons"] = reasons.str.strip()
    out["status"] = np.select([any_unhealthy, any_at_risk], ["unhealthy", "at_risk"], "healthy")
    cadence_days = out["actual_cadence_days"]
    out["cadence_bucket"] = np.select(
        [cadence_days.isna().to_numpy()] + [(cadence_days <= top).to_numpy() for top, _ in BUCKETS],
        ["none"] + [label for _, label in BUCKETS],
        "more than 10 weeks",
    )
    out["minutes_per_week"] = out["held_minutes"] / p.window_weeks
    return out
