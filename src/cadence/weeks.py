"""ISO weeks as cadence names them (``2026-W49``): a report's folder, a saved week, a web page.

A week is cut in the org's time zone, Monday to Sunday; its label is the ISO year and week of
an instant there. The web app's pages go the other way, from a label to the instant its
figures are at: the last second of that week (Sunday 23:59:59 in the zone, so that the report
still says it is of that week), or now for the week that holds now. One module owns both
directions so they cannot disagree.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

_LABEL = re.compile(r"(\d{4})-W(\d{2})")
ONE_WEEK = timedelta(days=7)


def week_label(instant: datetime, tz: tzinfo) -> str:
    """``2026-W48``: the ISO week (Monday start) of an aware instant in ``tz``."""
    year, week, _ = instant.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def week_monday(label: str) -> date:
    """The Monday of a week label; ValueError for anything that is not a real ISO week."""
    match = _LABEL.fullmatch(label)
    if match is None:
        raise ValueError(f"{label!r} is not a week like 2026-W49")
    year, week = int(match.group(1)), int(match.group(2))
    # fromisocalendar refuses week 53 of a year that has 52, and week 0.
    return date.fromisocalendar(year, week, 1)


def week_start(label: str, tz: tzinfo) -> datetime:
    """The instant a week begins: its Monday, 00:00 in ``tz``, in UTC."""
    return datetime.combine(week_monday(label), time(), tz).astimezone(UTC)


def week_end(label: str, tz: tzinfo) -> datetime:
    """The instant a week ends: the next Monday, 00:00 in ``tz``, in UTC."""
    monday = week_monday(label) + ONE_WEEK
    return datetime.combine(monday, time(), tz).astimezone(UTC)


def week_last_second(label: str, tz: tzinfo) -> datetime:
    """The as-of of a week's figures once the week is over: its last whole second."""
    return week_end(label, tz) - timedelta(seconds=1)


def weeks_between(first: datetime, last: datetime, tz: tzinfo) -> list[str]:
    """Every week label from the week holding ``first`` to the one holding ``last``, oldest
    first (empty when ``first`` is after ``last``)."""
    labels: list[str] = []
    if first > last:
        return labels
    label = week_label(first, tz)
    final = week_label(last, tz)
    while True:
        labels.append(label)
        if label == final:
            return labels
        label = week_label(week_end(label, tz), tz)
