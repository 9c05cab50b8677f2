"""CSV reports for spreadsheets: one row per pair (manager report) or per week (director report).

Every text cell that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) gets a leading apostrophe, so a display name such as
``=HYPERLINK("http://x")`` stays text (OWASP "CSV injection"). Before that check, text is shown
as :func:`words.visible` shows it: no control or bidirectional character reaches a spreadsheet.
A null figure is an empty cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cadence.counts import PAIR_COUNTS, TREND_COUNTS
from cadence.reports import words

PAIR_FIELDS = (
    *PAIR_COUNTS,
    "cancellation_rate",
    "held_minutes",
    "intended_cadence_days",
    "actual_cadence_days",
    "cadence_bucket",
    "minutes_per_week",
    "last_held",
    "days_since_last_held",
    "next_scheduled",
    "consecutive_missed",
    "streak_cancelled_by_manager",
    "away_days",
    "away_until",
)
WEEK_FIELDS = (*TREND_COUNTS, "cancellation_rate")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A value as a safe CSV cell: null empty, formula-looking text neutralised."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _write(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([cell(words.shown(v)) for v in row] for row in rows)
    return buf.getvalue()


def manager_csv(view: Mapping[str, Any]) -> str:
    """One row per pair: the direct reports worst first, then the skip-level pairs."""
    header = ("manager_email", "relation", "via", "email", "name", "status", "reasons")
    rows = []
    for relation, entries in (
        ("direct", view["reports"]),
        ("skip_level", view.get("skip_levels") or []),
    ):
        for e in words.worst_first(list(entries)):
            rows.append(
                [
                    view["manager"]["email"],
                    relation,
                    e.get("via"),
                    e["email"],
                    e["name"],
                    e["status"],
                    ";".join(e.get("reasons", [])),
                    *(e.get(f) for f in PAIR_FIELDS),
                ]
            )
    return _write(header + PAIR_FIELDS, rows)


def director_csv(view: Mapping[str, Any]) -> str:
    """One row per week: the whole org's trend, then each sub-org's (``other`` for the folded)."""
    header = ("director_email", "scope", "head_email", "week")
    rows = []
    scopes = [("org", None, view["trend"])] + [
        (sub["label"] if sub.get("head") else "other", sub.get("head"), sub["trend"])
        for sub in view.get("sub_orgs") or []
    ]
    for scope, head, trend in scopes:
        for w in trend:
            rows.append(
                [
                    view["director"]["email"],
                    scope,
                    head["email"] if head else None,
                    w["week"],
                    *(w.get(f) for f in WEEK_FIELDS),
                ]
            )
    return _write(header + WEEK_FIELDS, rows)
