"""The manager and director views: plain dicts shaped exactly like INTERFACE.md's JSON reports
(plus the extra fields notes/VIEWS.md and docs/metrics.md define), which the reports render.

Rounding happens here and only here: days to one decimal, rates to three (Python's ``round``,
half to even, on the exact values); anything that cannot be computed is ``None``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from cadence.errors import UsageError
from cadence.pipeline.pairs import PAIR_COUNTS
from cadence.pipeline.result import HealthResult
from cadence.pipeline.rollups import TREND_COLUMNS

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def _isoformat(micros: int, zone: ZoneInfo) -> str:
    # Plain datetimes: a pandas Timestamp per value would cost more than the whole view.
    return (EPOCH + timedelta(microseconds=int(micros))).astimezone(zone).isoformat()


def _timeline(result: HealthResult, pair_id: int) -> list[dict[str, Any]]:
    rows = result.timeline(pair_id)
    zone = ZoneInfo(result.params.timezone)
    return [
        {
            "original_start": _isoformat(original, zone),
            "start": _isoformat(start, zone),
            "outcome": outcome,
            "canceller_role": None if _missing(role) else role,
            "rescheduled": bool(moved),
            "late": bool(late),
        }
        for original, start, outcome, role, moved, late in zip(
            rows["original_start"],
            rows["start"],
            rows["outcome"],
            rows["canceller_role"],
            rows["rescheduled"],
            rows["late"],
            strict=True,
        )
    ]


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
            "timeline": _timeline(result, int(row["pair_id"])),
        }
    )
    return entry


def _resolve(result: HealthResult, email: str) -> str:
    return result.org.resolve_one(email)


def manager_view(result: HealthResult, email: str) -> dict[str, Any]:
    """INTERFACE.md's manager JSON for ``email``; UsageError if nobody reports to them."""
    who = _resolve(result, email)
    if who not in result.manager_summary.index:
        raise UsageError(f"{email} is not a manager: nobody in the org chart reports to them")
    return {
        "kind": "manager",
        "manager": _person(result, who),
        "as_of": result.as_of.isoformat(),
        "window_weeks": result.params.window_weeks,
        "summary": _summary(_row(result.manager_summary, who)),
        "reports": [_entry(result, row) for row in result.pair_records(who, "pair")],
        "skip_levels": [
            {**_entry(result, row), "via": row["via"]} for row in result.pair_records(who, "skip")
        ],
    }


def _weeks(result: HealthResult, sums: np.ndarray | None) -> list[dict[str, Any]]:
    """Trend weeks from a (weeks x TREND_COLUMNS) array of sums; ``None``: every week's figures
    are null (a group under the privacy floor)."""
    weeks = []
    for i, label in enumerate(result.trends.weeks):
        if sums is None:
            weeks.append({"week": label, **dict.fromkeys(TREND_COLUMNS), "cancellation_rate": None})
            continue
        row = dict(zip(TREND_COLUMNS, sums[i].tolist(), strict=True))
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


def _sub_orgs(result: HealthResult, director: str, org_pairs: int) -> list[dict[str, Any]]:
    """Each direct report of the director who is a manager heads a sub-org: them and everyone
    below them. Sub-orgs with fewer pairs than the privacy floor fold into ``other``, and so,
    by complementary suppression, do the smallest shown ones until what the shown sub-orgs leave
    of the org (the "rest": folded sub-orgs plus the director's own pairs with non-managers) is
    none or at least the floor: org trend minus shown sub-orgs then never isolates a small group.
    ``other`` holds the whole rest, and is left out when the rest cannot reach the floor."""
    org = result.org
    managers = set(result.manager_summary.index)
    heads = [r for r in result.pairs_of(director, "pair")["report"] if r in managers]
    floor = result.params.min_group_size
    # The head's own pair with the director, plus one pair per person below the head.
    size = {head: 1 + len(org.members(head)) for head in heads}
    shown = sorted((h for h in heads if size[h] >= floor), key=lambda h: (size[h], h))
    folded = len(shown) < len(heads)
    rest = org_pairs - sum(size[h] for h in shown)
    while 0 < rest < floor and shown:
        rest += size[shown.pop(0)]
        folded = True

    def trend(head: str) -> np.ndarray:
        return result.trend([head]) + result.trend([head], own=True)

    out: list[dict[str, Any]] = [
        {
            "label": org.name(head),
            "head": _person(result, head),
            "trend": _weeks(result, trend(head)),
        }
        for head in shown
    ]
    out.sort(key=lambda s: (s["label"], s["head"]["email"]))
    if folded and rest >= floor:
        others = result.trend([director]) - sum(trend(h) for h in shown)
        out.append({"label": "other", "head": None, "trend": _weeks(result, others)})
    return out


def _org_summary(result: HealthResult, director: str, hidden_pairs: int) -> dict[str, Any] | None:
    """The org's pooled figures, or null when they minus the shown managers' figures would
    describe the suppressed managers' pairs as a group under the privacy floor."""
    if 0 < hidden_pairs < result.params.min_group_size:
        return None
    if director not in result.director_summary.index:
        return None
    return _summary(_row(result.director_summary, director))


def director_view(
    result: HealthResult, email: str, previous: HealthResult | None = None
) -> dict[str, Any]:
    """INTERFACE.md's director JSON for ``email``; UsageError if no manager is below them.

    ``previous`` is the run at as-of minus 7 days: its org summary becomes ``previous_summary``.
    Every figure shown obeys the privacy floor, also by subtraction (docs/metrics.md "Privacy").
    """
    who = _resolve(result, email)
    if who not in result.director_summary.index or who not in set(result.directors()):
        raise UsageError(f"{email} is not a director: no manager is below them in the org chart")
    summaries = result.manager_summary.index
    managers = [who, *(m for m in result.org.members(who) if m in summaries)]
    floor = result.params.min_group_size
    org_pairs = len(result.org.members(who))
    listed = []
    hidden_pairs = 0
    for manager in managers:
        row = _row(result.manager_summary, manager)
        suppressed = int(row["direct_reports"]) < floor
        hidden_pairs += int(row["direct_reports"]) if suppressed else 0
        listed.append(
            {
                "manager": _person(result, manager),
                "suppressed": suppressed,
                "summary": None if suppressed else _summary(row),
            }
        )
    # The org chart is today's in both runs, so the same managers are suppressed in both.
    summary = _org_summary(result, who, hidden_pairs)
    previous_summary = None
    if previous is not None and summary is not None:
        previous_summary = _org_summary(previous, who, hidden_pairs)
    n = result.params.trend_weeks
    return {
        "kind": "director",
        "director": _person(result, who),
        "as_of": result.as_of.isoformat(),
        "window_weeks": result.params.window_weeks,
        "trend_weeks": n,
        "trend": _weeks(result, result.trend([who]) if org_pairs >= floor else None),
        "sub_orgs": _sub_orgs(result, who, org_pairs),
        "managers": listed,
        "summary": summary,
        "previous_summary": previous_summary,
    }
