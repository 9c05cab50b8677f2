"""Manager and director figures and the weekly trends (docs/metrics.md "Manager and director
figures").

Everything here starts from one row per pair (with its figures and status) or one row per
occurrence, and groups: by manager, by every ancestor (the ``below`` closure of the org), by ISO
week in the configured time zone. The figures are exact and complete; what a report may show of
them under the privacy floor is decided in :mod:`cadence.pipeline.privacy`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cadence.counts import TREND_COUNTS
from cadence.pipeline.occurrences import (
    EXCUSED,
    MADE_UP,
    MANAGER,
    MISSED,
    REPORT,
    SCHEDULED,
    UPCOMING,
)
from cadence.pipeline.params import WEEK, Params
from cadence.pipeline.rates import cancellation_rate

SUMMARY_COLUMNS = [
    "direct_reports",
    "covered",
    "coverage_rate",
    "with_recurring_series",
    "cancellation_rate",
    "manager_cancel_share",
    "median_actual_cadence_days",
    "made_up",
    "excused",
    "healthy",
    "at_risk",
    "unhealthy",
]
TREND_COLUMNS = list(TREND_COUNTS)


def summarise(pairs: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    """The manager figures (``SUMMARY_COLUMNS``) of the pairs grouped by ``key``, exact values."""
    status = pairs["status"]
    frame = pd.DataFrame(
        {
            "key": key.to_numpy(),
            "one": 1,
            "covered": (pairs["held"] > 0).to_numpy(),
            "recurring": pairs["intended_cadence_days"].notna().to_numpy(),
            "scheduled": pairs["scheduled"].to_numpy(),
            "missed": pairs["missed"].to_numpy(),
            "by_manager": pairs["cancelled_by_manager"].to_numpy(),
            "made_up": pairs["made_up"].to_numpy(),
            "excused": pairs["excused"].to_numpy(),
            "actual": pairs["actual_cadence_days"].to_numpy(dtype=float),
            "healthy": (status == "healthy").to_numpy(),
            "at_risk": (status == "at_risk").to_numpy(),
            "unhealthy": (status == "unhealthy").to_numpy(),
        }
    )
    out = frame.groupby("key").agg(
        direct_reports=("one", "sum"),
        covered=("covered", "sum"),
        with_recurring_series=("recurring", "sum"),
        scheduled=("scheduled", "sum"),
        missed=("missed", "sum"),
        by_manager=("by_manager", "sum"),
        median_actual_cadence_days=("actual", "median"),
        made_up=("made_up", "sum"),
        excused=("excused", "sum"),
        healthy=("healthy", "sum"),
        at_risk=("at_risk", "sum"),
        unhealthy=("unhealthy", "sum"),
    )
    out["coverage_rate"] = out["covered"] / out["direct_reports"]
    out["cancellation_rate"] = cancellation_rate(out["missed"], out["scheduled"])
    out["manager_cancel_share"] = (out["by_manager"] / out["missed"]).where(out["missed"] > 0)
    out.index.name = None
    return out[SUMMARY_COLUMNS]


def manager_summaries(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per manager (index email), over their direct reports."""
    direct = pairs[pairs["kind"] == "pair"]
    return summarise(direct, direct["manager"])


def director_summaries(pairs: pd.DataFrame, below: pd.DataFrame) -> pd.DataFrame:
    """Per person with anyone below them (index email), pooled over every pair of their org:
    the pairs whose report is below them at any depth."""
    direct = pairs[pairs["kind"] == "pair"]
    org = direct.merge(below, left_on="report", right_on="person")
    return summarise(org, org["ancestor"])


@dataclass(frozen=True)
class Trends:
    """Weekly trend sums (``TREND_COLUMNS``), index (email, week 0..trend_weeks-1):
    ``org``: over the pairs whose report is below that person at any depth;
    ``own``: of the one pair whose report is that person (a sub-org head's 1:1s with the director).
    """

    org: pd.DataFrame
    own: pd.DataFrame
    weeks: list[str]


def trends(occ: pd.DataFrame, pairs: pd.DataFrame, below: pd.DataFrame, p: Params) -> Trends:
    """Each occurrence counts in the week of its original start (weeks in ``p.timezone``), for
    the occurrences at or before as-of that are not upcoming."""
    direct = pairs[pairs["kind"] == "pair"]
    in_range = (occ["original_start"] >= p.trend_start) & (occ["original_start"] <= p.as_of)
    o = occ[in_range & occ["pair_id"].isin(direct.index) & (occ["outcome"] != UPCOMING)]
    local = o["original_start"].dt.tz_convert(p.timezone).dt.tz_localize(None)
    day = local.dt.normalize()
    monday = day - pd.to_timedelta(day.dt.weekday, unit="D")
    week = ((monday - p.first_monday) / WEEK).round().astype(np.int64)
    missed = o["outcome"].isin(MISSED)
    rows = pd.DataFrame(
        {
            "report": direct.loc[o["pair_id"], "report"].to_numpy(),
            "manager": direct.loc[o["pair_id"], "manager"].to_numpy(),
            "week": week.to_numpy(),
            "scheduled": o["outcome"].isin(SCHEDULED).to_numpy(),
            "missed": missed.to_numpy(),
            "cancelled_by_manager": (missed & (o["canceller_role"] == MANAGER)).to_numpy(),
            "cancelled_by_report": (missed & (o["canceller_role"] == REPORT)).to_numpy(),
            "made_up": (o["outcome"] == MADE_UP).to_numpy(),
            "excused": (o["outcome"] == EXCUSED).to_numpy(),
        }
    )
    rows = rows[(rows["week"] >= 0) & (rows["week"] < p.trend_weeks)]
    own = rows.groupby(["report", "week"])[TREND_COLUMNS].sum().astype(np.int64)
    by_manager = rows.groupby(["manager", "week"])[TREND_COLUMNS].sum().reset_index()
    # The pairs below X are those whose manager is X or anyone below X.
    people = pd.Index(by_manager["manager"].unique())
    self_and_above = pd.concat(
        [pd.DataFrame({"person": people, "ancestor": people}), below], ignore_index=True
    )
    org = by_manager.merge(self_and_above, left_on="manager", right_on="person")
    org_sums = org.groupby(["ancestor", "week"])[TREND_COLUMNS].sum().astype(np.int64)
    org_sums.index.names = ["email", "week"]
    own.index.names = ["email", "week"]
    return Trends(org=org_sums, own=own, weeks=p.week_labels())
