"""A series' intended cadence and its end, read from its RRULE line (docs/metrics.md
``intended_cadence_days``).

Works on a column of recurrence texts at once (string extraction, no per-rule Python), so a
company's worth of series costs a few vectorised passes over its distinct rules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Days per period of each frequency: a month (of any kind) counts as 30 days, a year as 365.
PERIOD_DAYS = {"DAILY": 1.0, "WEEKLY": 7.0, "MONTHLY": 30.0, "YEARLY": 365.0}


def parse_rules(texts: pd.Series, timezone: str) -> pd.DataFrame:
    """Per recurrence text (same index): ``cadence_days`` (null for a frequency with no cadence,
    such as HOURLY), ``until`` (the last UTC instant at which the series is still active; null
    when it has no UNTIL) and ``count`` (COUNT, or null).

    A date-only UNTIL (Graph's end date) keeps the series active through that whole day in
    ``timezone``: its ``until`` is the last nanosecond before the next local midnight, so at that
    midnight the series has ended. An UNTIL with a time but no ``Z`` is a local time in
    ``timezone``; one that falls in a repeated hour (clocks going back) is read as the earlier of
    its two instants, one that falls in a skipped hour is moved forward past the gap.
    """
    rule = texts.astype("string").str.upper().str.extract(r"(?:^|\n)\s*RRULE:([^\n]*)")[0]
    freq = rule.str.extract(r"(?:^|;)FREQ=([A-Z]+)")[0]
    interval = pd.to_numeric(rule.str.extract(r"(?:^|;)INTERVAL=(\d+)")[0]).fillna(1)
    interval = interval.where(interval > 0, 1)
    byday = rule.str.extract(r"(?:^|;)BYDAY=([^;]*)")[0]
    weekdays = (byday.str.count(",") + 1).where(byday.notna() & (byday != ""), 1)
    period = freq.map(PERIOD_DAYS).astype(float)
    per_week = np.where(freq == "WEEKLY", weekdays.astype(float), 1.0)
    cadence: pd.Series = period * interval.astype(float) / per_week

    until = rule.str.extract(r"(?:^|;)UNTIL=(\d{8})(?:T(\d{6})(Z?))?")
    date_only = until[0].notna() & until[1].isna()
    # A local time in a repeated hour is read as its earlier instant (True: the daylight-saving
    # one), never as unknown: an unknown end would read as a series that never ends.
    earlier = np.ones(len(texts), dtype=bool)
    day = pd.to_datetime(until[0], format="%Y%m%d", errors="coerce")
    next_midnight = (day + pd.Timedelta(days=1)).dt.tz_localize(
        timezone, ambiguous=earlier, nonexistent="shift_forward"
    )
    end_of_day = next_midnight.dt.tz_convert("UTC") - pd.Timedelta(1, "ns")
    stamp = pd.to_datetime(until[0] + until[1], format="%Y%m%d%H%M%S", errors="coerce")
    utc_stamp = stamp.dt.tz_localize("UTC")
    local_stamp = stamp.dt.tz_localize(timezone, ambiguous=earlier, nonexistent="shift_forward")
    timed = utc_stamp.where(until[2] == "Z", local_stamp.dt.tz_convert("UTC"))
    end = end_of_day.where(date_only, timed)
    count = pd.to_numeric(rule.str.extract(r"(?:^|;)COUNT=(\d+)")[0])
    return pd.DataFrame(
        {
            "cadence_days": pd.Series(cadence, index=texts.index, dtype=float),
            "until": end.astype("datetime64[ns, UTC]"),
            "count": count.astype(float),
        },
        index=texts.index,
    )
