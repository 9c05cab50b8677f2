"""Hand-built view dicts shaped as the JSON reports are (docs/reports.md), for tests of the
renderers alone.

The golden tests run the real pipeline; these cover what a real org rarely shows at once (every
reason, hostile names, nulls) and keep renderer tests independent of the pipeline's arithmetic.
"""

from __future__ import annotations

from copy import deepcopy
from datetime import datetime, timedelta
from typing import Any

AS_OF = "2026-11-23T09:00:00+00:00"
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
FORMULA_NAME = '=HYPERLINK("http://x")'


def _iso(t: datetime) -> str:
    return t.isoformat()


def _timeline(outcomes: list[tuple[str, str | None, bool, bool]]) -> list[dict[str, Any]]:
    """Weekly occurrences ending at as-of; each (outcome, canceller_role, rescheduled, late)."""
    end = datetime.fromisoformat(AS_OF) - timedelta(days=1)
    out = []
    n = len(outcomes)
    for i, (outcome, role, moved, late) in enumerate(outcomes):
        orig = end - timedelta(weeks=n - 1 - i)
        if outcome == "upcoming":
            orig = datetime.fromisoformat(AS_OF) + timedelta(days=2)
        start = orig + timedelta(hours=2) if moved else orig
        out.append(
            {
                "original_start": _iso(orig),
                "start": _iso(start),
                "outcome": outcome,
                "canceller_role": role,
                "rescheduled": moved,
                "late": late,
                "made_up_by": None,
            }
        )
    return out


def _made_up(timeline: list[dict[str, Any]], index: int, days_later: int) -> None:
    """The miss at ``index`` made up by a one-off ``days_later``: the one-off is held, added to
    the timeline in order, and the miss points at it."""
    miss = timeline[index]
    when = _iso(datetime.fromisoformat(miss["original_start"]) + timedelta(days=days_later))
    miss["made_up_by"] = when
    one_off = {
        "original_start": when,
        "start": when,
        "outcome": "held",
        "canceller_role": None,
        "rescheduled": False,
        "late": False,
        "made_up_by": None,
    }
    timeline.insert(index + 1, one_off)


def entry(email: str, name: str, status: str, reasons: list[str], **kw: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "email": email,
        "name": name,
        "status": status,
        "reasons": reasons,
        "scheduled": 12,
        "held": 12,
        "missed": 0,
        "cancelled_by_manager": 0,
        "cancelled_by_report": 0,
        "declined": 0,
        "late_cancellations": 0,
        "rescheduled": 0,
        "made_up": 0,
        "excused": 0,
        "cancellation_rate": 0.0,
        "held_minutes": 360,
        "intended_cadence_days": 7.0,
        "actual_cadence_days": 7.0,
        "last_held": "2026-11-22T09:00:00+00:00",
        "days_since_last_held": 1,
        "next_scheduled": "2026-11-29T09:00:00+00:00",
        "consecutive_missed": 0,
        "cadence_bucket": "weekly",
        "minutes_per_week": 30.0,
        "streak_cancelled_by_manager": 0,
        "away_days": 0.0,
        "away_until": None,
        "timeline": _timeline([("held", None, False, False)] * 12),
    }
    e.update(kw)
    return e


def _bob_timeline() -> list[dict[str, Any]]:
    """Every outcome: held, moved, cancelled and declined by either side, late, made up (by a
    one-off two days later), excused (twice: while away), and one coming up."""
    timeline = _timeline(
        [
            ("made_up", "manager", False, False),
            ("excused", "report", False, False),
            ("excused", "manager", False, False),
            ("held", None, False, False),
            ("cancelled", "report", False, False),
            ("held", None, True, False),
            ("cancelled", "manager", False, True),
            ("cancelled", "report", False, False),
            ("cancelled", "manager", False, True),
            ("declined", "report", False, False),
            ("cancelled", "manager", False, False),
            ("upcoming", None, False, False),
        ]
    )
    _made_up(timeline, 0, 2)
    return timeline


def manager_view() -> dict[str, Any]:
    """Ann manages five: one of each kind of trouble, plus a healthy one. Bob made one 1:1 up and
    had two called off while away; Finn (stale) is away now, back on Mon 14 Dec in Paris."""
    reports = [
        entry(
            "bob@acme.test",
            "Bob Baker",
            "unhealthy",
            ["cancel_streak", "high_cancellation", "manager_cancels"],
            held=6,
            missed=6,
            cancelled_by_manager=4,
            cancelled_by_report=2,
            declined=1,
            late_cancellations=2,
            rescheduled=1,
            made_up=1,
            excused=2,
            cancellation_rate=0.5,
            held_minutes=180,
            actual_cadence_days=10.5,
            last_held="2026-11-01T09:00:00+00:00",
            days_since_last_held=22,
            consecutive_missed=3,
            streak_cancelled_by_manager=2,
            minutes_per_week=15.0,
            away_days=3.0,
            timeline=_bob_timeline(),
        ),
        entry(
            "cleo@acme.test",
            "Cleo Clark",
            "unhealthy",
            ["no_one_on_one", "no_recurring_series"],
            scheduled=0,
            held=0,
            cancellation_rate=None,
            held_minutes=0,
            intended_cadence_days=None,
            actual_cadence_days=None,
            last_held=None,
            days_since_last_held=None,
            next_scheduled=None,
            cadence_bucket="none",
            minutes_per_week=0.0,
            timeline=[],
        ),
        entry(
            "eve@acme.test",
            HOSTILE_NAME,
            "at_risk",
            ["no_recurring_series"],
            scheduled=4,
            held=4,
            intended_cadence_days=None,
            actual_cadence_days=14.0,
            next_scheduled=None,
            cadence_bucket="up to 3 weeks",
            timeline=_timeline([("held", None, False, False), ("upcoming", None, False, False)]),
        ),
        entry(
            "finn@acme.test",
            FORMULA_NAME,
            "unhealthy",
            ["stale"],
            scheduled=3,
            held=3,
            intended_cadence_days=7.0,
            actual_cadence_days=7.0,
            last_held="2026-10-12T09:00:00+00:00",
            days_since_last_held=42,
            next_scheduled=None,
            # Out of office since Wed 18 Nov 12:00 UTC, to the midnight ending Mon 14 Dec in Paris.
            away_days=4.9,
            away_until="2026-12-14T23:00:00+00:00",
            timeline=_timeline([("held", None, False, False)] * 3),
        ),
        entry("gus@acme.test", "Gus Green", "healthy", []),
    ]
    summary = {
        "direct_reports": 5,
        "covered": 4,
        "coverage_rate": 0.8,
        "with_recurring_series": 3,
        "cancellation_rate": 0.194,
        "manager_cancel_share": 0.667,
        "median_actual_cadence_days": 7.0,
        "made_up": 1,
        "excused": 2,
        "status_counts": {"healthy": 1, "at_risk": 1, "unhealthy": 3},
    }
    skip = entry(
        "kim@acme.test",
        "Kim Kline",
        "at_risk",
        ["no_recurring_series"],
        intended_cadence_days=None,
        actual_cadence_days=28.0,
        cadence_bucket="3-6 weeks",
    )
    skip["via"] = "bob@acme.test"
    return {
        "kind": "manager",
        "manager": {"email": "ann@acme.test", "name": "Ann Archer"},
        "as_of": AS_OF,
        "window_weeks": 12,
        "summary": summary,
        "opted_out": 1,
        "reports": sorted(reports, key=lambda e: e["email"]),
        "skip_levels": [skip],
    }


def _week(
    label: str, scheduled: int, by_manager: int, by_report: int, made_up: int, excused: int
) -> dict[str, Any]:
    missed = by_manager + by_report
    return {
        "week": label,
        "scheduled": scheduled,
        "missed": missed,
        "cancelled_by_manager": by_manager,
        "cancelled_by_report": by_report,
        "made_up": made_up,
        "excused": excused,
        "cancellation_rate": round(missed / scheduled, 3) if scheduled else None,
    }


def null_week(label: str) -> dict[str, Any]:
    """A week of a group under the privacy floor: every count and the rate null."""
    week = _week(label, 0, 0, 0, 0, 0)
    return {k: (label if k == "week" else None) for k in week}


def _trend(seed: int, size: int) -> list[dict[str, Any]]:
    weeks = []
    for i in range(26):
        week_no = (48 - 25 + i - 1) % 52 + 1
        year = 2026 if week_no <= 48 else 2025
        scheduled = 0 if (i == 3 and seed == 2) else size + (i * seed) % 3
        bm = (i * (seed + 1)) % 3 if scheduled else 0
        br = (i + seed) % 2 if scheduled else 0
        made_up = (i + seed) % 4 // 3 if scheduled else 0
        # Two summer weeks when people are away: 1:1s called off then are excused.
        excused = (2 + seed % 2) if week_no in (32, 33) and scheduled else 0
        weeks.append(_week(f"{year}-W{week_no:02d}", scheduled, bm, br, made_up, excused))
    return weeks


def director_view() -> dict[str, Any]:
    """Dana heads Ann (5 reports, shown) and Hal (2 reports: suppressed, folded into other)."""
    summary = deepcopy(manager_view()["summary"])
    summary.update({"direct_reports": 10, "covered": 9, "coverage_rate": 0.9})
    previous = deepcopy(summary)
    previous.update(
        {
            "cancellation_rate": 0.15,
            "status_counts": {"healthy": 6, "at_risk": 2, "unhealthy": 2},
            "coverage_rate": 0.9,
        }
    )
    return {
        "kind": "director",
        "director": {"email": "dana@acme.test", "name": "Dana Diaz"},
        "as_of": AS_OF,
        "trend_weeks": 26,
        "window_weeks": 12,
        "trend": _trend(1, 9),
        "sub_orgs": [
            {
                "label": "Ann Archer",
                "head": {"email": "ann@acme.test", "name": "Ann Archer"},
                "trend": _trend(3, 6),
            },
            {"label": "other", "head": None, "trend": _trend(2, 3)},
        ],
        "managers": [
            {
                "manager": {"email": "ann@acme.test", "name": "Ann Archer"},
                "suppressed": False,
                "summary": manager_view()["summary"],
            },
            {
                "manager": {"email": "dana@acme.test", "name": "Dana Diaz"},
                "suppressed": True,
                "summary": None,
            },
            {
                "manager": {"email": "hal@acme.test", "name": "Hal Hughes"},
                "suppressed": True,
                "summary": None,
            },
        ],
        "summary": summary,
        "previous_summary": previous,
    }


def other_manager_view() -> dict[str, Any]:
    """Hal manages two others, so a test can tell Ann's report from Hal's."""
    view = manager_view()
    view["manager"] = {"email": "hal@acme.test", "name": "Hal Hughes"}
    view["reports"] = [
        entry("ivy@acme.test", "Ivy Ives", "healthy", []),
        entry("jon@acme.test", "Jon Jones", "healthy", []),
    ]
    view["skip_levels"] = []
    view["summary"] = {
        **view["summary"],
        "direct_reports": 2,
        "covered": 2,
        "coverage_rate": 1.0,
        "status_counts": {"healthy": 2, "at_risk": 0, "unhealthy": 0},
    }
    return view
