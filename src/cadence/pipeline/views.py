"""The manager and director views: plain dicts shaped exactly like INTERFACE.md's JSON reports
(plus the extra fields notes/VIEWS.md and docs/metrics.md define), which the reports render.

Rounding happens here and only here: days to one decimal, rates to three (Python's ``round``,
half to even, on the exact values); anything that cannot be computed is ``None``.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from cadence.errors import UsageError
from cadence.pipeline.result import HealthResult
from cadence.pipeline.rollups import TREND_COLUMNS, trend_of

COUNT_FIELDS = [
    "scheduled",
    "held",
    "missed",
    "cancelled_by_manager",
    "cancelled_by_report",
    "declined",
    "late_cancellations",
    "rescheduled",
]


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


def _row(frame: pd.DataFrame, key: str) -> dict[str, Any]:
    return {str(k): v for k, v in frame.loc[key].items()}


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
        "status_counts": {
            "healthy": int(row["healthy"]),
            "at_risk": int(row["at_risk"]),
            "unhealthy": int(row["unhealthy"]),
        },
    }


def _timeline(result: HealthResult, pair_id: int) -> list[dict[str, Any]]:
    tz = result.params.timezone
    return [
        {
            "original_start": _time(o.original_start, tz),
            "start": _time(o.start, tz),
            "outcome": o.outcome,
            "canceller_role": None if _missing(o.canceller_role) else o.canceller_role,
            "rescheduled": bool(o.rescheduled),
            "late": bool(o.late),
        }
        for o in result.timeline(pair_id).itertuples(index=False)
    ]


def _records(pairs: pd.DataFrame, order: list[str]) -> list[dict[str, Any]]:
    """The pairs' rows as dicts (``pair_id`` included), sorted by ``order``."""
    rows = pairs.sort_values(order).reset_index()
    return [{str(k): v for k, v in row.items()} for row in rows.to_dict("records")]


def _entry(result: HealthResult, row: dict[str, Any]) -> dict[str, Any]:
    tz = result.params.timezone
    entry: dict[str, Any] = {
        **_person(result, row["report"]),
        "status": row["status"],
        "reasons": row["reasons"].split(),
    }
    entry.update({name: int(row[name]) for name in COUNT_FIELDS})
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
            "timeline": _timeline(result, int(row["pair_id"])),
        }
    )
    return entry


def _resolve(result: HealthResult, email: str) -> str:
    return str(result.org.resolve(pd.Series([email])).iloc[0])


def manager_view(result: HealthResult, email: str) -> dict[str, Any]:
    """INTERFACE.md's manager JSON for ``email``; UsageError if nobody reports to them."""
    who = _resolve(result, email)
    if who not in result.manager_summary.index:
        raise UsageError(f"{email} is not a manager: nobody in the org chart reports to them")
    pairs = result.pairs
    reports = pairs[(pairs["kind"] == "pair") & (pairs["manager"] == who)]
    skips = pairs[(pairs["kind"] == "skip") & (pairs["manager"] == who)]
    return {
        "kind": "manager",
        "manager": _person(result, who),
        "as_of": result.as_of.isoformat(),
        "window_weeks": result.params.window_weeks,
        "summary": _summary(_row(result.manager_summary, who)),
        "reports": [_entry(result, row) for row in _records(reports, ["report"])],
        "skip_levels": [
            {**_entry(result, row), "via": row["via"]} for row in _records(skips, ["report", "via"])
        ],
    }


def _weeks(result: HealthResult, sums: pd.DataFrame) -> list[dict[str, Any]]:
    weeks = []
    rows = sums[TREND_COLUMNS].to_dict("records")
    for label, row in zip(result.trends.weeks, rows, strict=True):
        scheduled, missed = int(row["scheduled"]), int(row["missed"])
        weeks.append(
            {
                "week": label,
                "scheduled": scheduled,
                "missed": missed,
                "cancelled_by_manager": int(row["cancelled_by_manager"]),
                "cancelled_by_report": int(row["cancelled_by_report"]),
                "cancellation_rate": round(missed / scheduled, 3) if scheduled else None,
            }
        )
    return weeks


def _sub_orgs(result: HealthResult, director: str) -> list[dict[str, Any]]:
    """Each direct report of the director who is a manager heads a sub-org: them and everyone
    below them; sub-orgs with fewer pairs than the privacy floor fold into ``other``."""
    org, trends, n = result.org, result.trends, result.params.trend_weeks
    managers = set(result.manager_summary.index)
    direct = org.pairs[(org.pairs["kind"] == "pair") & (org.pairs["manager"] == director)]
    heads = sorted(r for r in direct["report"] if r in managers)
    below_count = org.below.groupby("ancestor").size()
    floor = result.params.min_group_size
    shown: list[str] = []
    folded: list[str] = []
    for head in heads:
        (shown if 1 + int(below_count.get(head, 0)) >= floor else folded).append(head)
    out: list[dict[str, Any]] = [
        {
            "label": org.name(head),
            "head": _person(result, head),
            "trend": _weeks(
                result, trend_of(trends.org, [head], n) + trend_of(trends.own, [head], n)
            ),
        }
        for head in shown
    ]
    out.sort(key=lambda s: (s["label"], s["head"]["email"]))
    if folded:
        sums = trend_of(trends.org, folded, n) + trend_of(trends.own, folded, n)
        out.append({"label": "other", "head": None, "trend": _weeks(result, sums)})
    return out


def director_view(
    result: HealthResult, email: str, previous: HealthResult | None = None
) -> dict[str, Any]:
    """INTERFACE.md's director JSON for ``email``; UsageError if no manager is below them.

    ``previous`` is the run at as-of minus 7 days: its org summary becomes ``previous_summary``.
    """
    who = _resolve(result, email)
    if who not in set(result.directors()):
        raise UsageError(f"{email} is not a director: no manager is below them in the org chart")
    below = result.org.below
    org_people = set(below.loc[below["ancestor"] == who, "person"])
    managers = [who, *sorted(m for m in result.manager_summary.index if m in org_people)]
    floor = result.params.min_group_size
    listed = []
    for manager in managers:
        row = _row(result.manager_summary, manager)
        suppressed = int(row["direct_reports"]) < floor
        listed.append(
            {
                "manager": _person(result, manager),
                "suppressed": suppressed,
                "summary": None if suppressed else _summary(row),
            }
        )
    previous_summary = None
    if previous is not None and who in previous.director_summary.index:
        previous_summary = _summary(_row(previous.director_summary, who))
    n = result.params.trend_weeks
    return {
        "kind": "director",
        "director": _person(result, who),
        "as_of": result.as_of.isoformat(),
        "window_weeks": result.params.window_weeks,
        "trend_weeks": n,
        "trend": _weeks(result, trend_of(result.trends.org, [who], n)),
        "sub_orgs": _sub_orgs(result, who),
        "managers": listed,
        "summary": _summary(_row(result.director_summary, who)),
        "previous_summary": previous_summary,
    }
