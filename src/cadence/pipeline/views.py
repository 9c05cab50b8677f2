"""The manager and director views: plain dicts shaped exactly like the JSON reports (the JSON
Schemas in ``cadence/reports/schema``, with the extra fields of docs/metrics.md), which the
reports render.

The views shape figures, they decide none: the figures come from the :class:`HealthResult`, and
what a director's report may show of them from :mod:`cadence.pipeline.privacy`. Rounding happens
here and only here: days to one decimal, rates to three (Python's ``round``, half to even, on the
exact values); anything that cannot be computed is ``None``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from cadence.counts import PAIR_COUNTS
from cadence.errors import UsageError
from cadence.pipeline.privacy import DirectorPrivacy, director_privacy
from cadence.pipeline.rates import cancellation_rate
from cadence.pipeline.result import HealthResult
from cadence.pipeline.rollups import TREND_COLUMNS


def _missing(value: Any) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _rate(value: Any) -> float | None:
    return None if _missing(value) else round(float(value), 3)


def _days(value: Any) -> float | None:
    return None if _missing(value) else round(float(value), 1)


def _int(value: Any) -> int | None:
    return None if _missing(value) else int(value)


def _time(value: Any, timezone: str) -> str | None:
    return None if _missing(value) else pd.Timestamp(value).tz_convert(timezone).isoformat()


def _person(result: HealthResult, email: str) -> dict[str, str]:
    return {"email": email, "name": result.org.name(email)}


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "direct_reports": int(row["direct_reports"]),
        "covered": int(row["covered"]),
        "coverage_rate": _rate(row["coverage_rate"]),
        "with_recurring_series": int(row["with_recurring_series"]),
        "cancellation_rate": _rate(row["cancellation_rate"]),
        "manager_cancel_share": _rate(row["manager_cancel_share"]),
        "median_actual_cadence_days": _days(row["median_actual_cadence_days"]),
        "made_up": int(row["made_up"]),
        "excused": int(row["excused"]),
        "status_counts": {
            "healthy": int(row["healthy"]),
            "at_risk": int(row["at_risk"]),
            "unhealthy": int(row["unhealthy"]),
        },
    }


def _entry(result: HealthResult, row: dict[str, Any]) -> dict[str, Any]:
    tz = result.params.timezone
    entry: dict[str, Any] = {
        **_person(result, row["report"]),
        "status": row["status"],
        "reasons": row["reasons"].split(),
    }
    entry.update({name: int(row[name]) for name in PAIR_COUNTS})
    entry.update(
        {
            "cancellation_rate": _rate(row["cancellation_rate"]),
            "held_minutes": round(float(row["held_minutes"])),
            "intended_cadence_days": _days(row["intended_cadence_days"]),
            "actual_cadence_days": _days(row["actual_cadence_days"]),
            "last_held": _time(row["last_held"], tz),
            "days_since_last_held": _int(row["days_since_last_held"]),
            "next_scheduled": _time(row["next_scheduled"], tz),
            "consecutive_missed": int(row["consecutive_missed"]),
            "cadence_bucket": row["cadence_bucket"],
            "minutes_per_week": _days(row["minutes_per_week"]),
            "streak_cancelled_by_manager": int(row["streak_cancelled_by_manager"]),
            "away_days": _days(row["away_days"]),
            "away_until": _time(row["away_until"], tz),
            "timeline": result.timeline(int(row["pair_id"])),
        }
    )
    return entry


def _resolve(result: HealthResult, email: str) -> str:
    return result.org.resolve_one(email)


def _opted_out(result: HealthResult, manager: str, counted: int) -> int | None:
    """How many of the manager's direct reports opted out; null when the team, with them, is
    under the privacy floor (the report then says nothing of opting out)."""
    gone = int(result.org.opted_out.get(manager, 0))
    return gone if counted + gone >= result.params.min_group_size else None


def manager_view(result: HealthResult, email: str) -> dict[str, Any]:
    """The manager JSON report for ``email``; UsageError if nobody reports to them."""
    who = _resolve(result, email)
    if who not in result.manager_summary.index:
        raise UsageError(f"{email} is not a manager: nobody in the org chart reports to them")
    summary = _summary(result.summary_row("manager", who))
    return {
        "kind": "manager",
        "manager": _person(result, who),
        "as_of": result.as_of.isoformat(),
        "window_weeks": result.params.window_weeks,
        "summary": summary,
        "opted_out": _opted_out(result, who, summary["direct_reports"]),
        "reports": [_entry(result, row) for row in result.pair_records(who, "pair")],
        "skip_levels": [
            {**_entry(result, row), "via": row["via"]} for row in result.pair_records(who, "skip")
        ],
    }


def _weeks(result: HealthResult, sums: np.ndarray | None) -> list[dict[str, Any]]:
    """Trend weeks from a (weeks x TREND_COLUMNS) array of sums; ``None``: every week's figures
    are null (a group under the privacy floor)."""
    if sums is None:
        return [
            {"week": label, **dict.fromkeys(TREND_COLUMNS), "cancellation_rate": None}
            for label in result.trends.weeks
        ]
    missed, scheduled = (sums[:, TREND_COLUMNS.index(name)] for name in ("missed", "scheduled"))
    rates = cancellation_rate(missed, scheduled).tolist()
    weeks = []
    for i, label in enumerate(result.trends.weeks):
        counts = {name: int(value) for name, value in zip(TREND_COLUMNS, sums[i], strict=True)}
        weeks.append({"week": label, **counts, "cancellation_rate": _rate(rates[i])})
    return weeks


def _sub_orgs(
    result: HealthResult, director: str, privacy: DirectorPrivacy
) -> list[dict[str, Any]]:
    """The sub-orgs the privacy rules let the report show, by label, then ``other``."""
    org = result.org

    def trend(head: str) -> np.ndarray:
        # The head's own 1:1s with the director are part of their sub-org.
        return result.trend([head]) + result.trend([head], own=True)

    out: list[dict[str, Any]] = [
        {
            "label": org.name(head),
            "head": _person(result, head),
            "trend": _weeks(result, trend(head)),
        }
        for head in privacy.sub_orgs
    ]
    out.sort(key=lambda s: (s["label"], s["head"]["email"]))
    if privacy.other:
        others = result.trend([director]) - sum(trend(h) for h in privacy.sub_orgs)
        out.append({"label": "other", "head": None, "trend": _weeks(result, others)})
    return out


def _org_summary(result: HealthResult, director: str) -> dict[str, Any] | None:
    """The org's pooled figures, or null when the run has none for the director."""
    if director not in result.director_summary.index:
        return None
    return _summary(result.summary_row("director", director))


def director_view(
    result: HealthResult, email: str, previous: HealthResult | None = None
) -> dict[str, Any]:
    """The director JSON report for ``email``; UsageError if no manager is below them.

    ``previous`` is the run at as-of minus 7 days: its org summary becomes ``previous_summary``.
    Every figure shown obeys the privacy floor, also by subtraction (docs/metrics.md "Privacy").
    """
    who = _resolve(result, email)
    if who not in result.director_summary.index or who not in set(result.directors()):
        raise UsageError(f"{email} is not a director: no manager is below them in the org chart")
    privacy = director_privacy(result, who)
    listed = [
        {
            "manager": _person(result, manager),
            "suppressed": suppressed,
            "summary": None if suppressed else _summary(result.summary_row("manager", manager)),
        }
        for manager, suppressed in privacy.managers
    ]
    summary = _org_summary(result, who) if privacy.summary else None
    previous_summary = None
    if previous is not None and summary is not None:
        previous_summary = _org_summary(previous, who)
    n = result.params.trend_weeks
    return {
        "kind": "director",
        "director": _person(result, who),
        "as_of": result.as_of.isoformat(),
        "window_weeks": result.params.window_weeks,
        "trend_weeks": n,
        "trend": _weeks(result, result.trend([who]) if privacy.org_trend else None),
        "sub_orgs": _sub_orgs(result, who, privacy),
        "managers": listed,
        "summary": summary,
        "previous_summary": previous_summary,
    }
