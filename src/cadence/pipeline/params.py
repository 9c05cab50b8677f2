"""What one pipeline run needs to know besides the data: the as-of instant, the window, the trend
weeks, the time zone and every threshold of a pair's health (docs/metrics.md "Health").

Plain values only: the jobs (``cadence.jobs.figures``) fill them from the configuration, and a
notebook or a test can build them by hand, so the pipeline never reads a configuration itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)
WEEK = pd.Timedelta(days=7)
DAY_NS = 86_400 * 10**9
NAT = np.iinfo(np.int64).min  # NaT as int64 nanoseconds


def instants_ns(times: object) -> np.ndarray:
    """UTC instants as int64 nanoseconds (NaT: :data:`NAT`), for the steps that work on plain
    integer arrays (away time, make-ups); naive times are read as UTC."""
    if isinstance(times, pd.Series | pd.Index) and isinstance(times.dtype, pd.DatetimeTZDtype):
        # Already instants: no Timestamp per value (to_datetime would build one per value).
        values = pd.Series(times).dt.tz_convert("UTC").dt.tz_localize(None)
        return np.asarray(values.to_numpy(dtype="datetime64[ns]").view(np.int64))
    series = pd.to_datetime(pd.Series(times), utc=True)
    naive = series.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")
    return np.asarray(naive.view(np.int64))


def in_days(spans: pd.Series) -> pd.Series:
    """Timedeltas as (fractional) days: a day is a 24-hour span (docs/metrics.md)."""
    return spans.dt.total_seconds() / 86400.0


@dataclass(frozen=True)
class Thresholds:
    """Every threshold of the outcome and health rules (docs/metrics.md "Outcome, canceller,
    late, rescheduled" and "Health"); the configuration's ``[health]`` holds their defaults."""

    late_cancel_hours: float
    max_duration_hours: float
    cancel_streak_unhealthy: int
    cancel_streak_at_risk: int
    stale_factor: float
    stale_default_days: float
    high_cancellation_min_scheduled: int
    high_cancellation_unhealthy: float
    high_cancellation_at_risk: float
    manager_cancels_min: int
    manager_cancels_share: float


@dataclass(frozen=True)
class Params:
    """One run's as-of (UTC-aware), window and trend lengths in weeks, the privacy floor
    (``min_group_size`` pairs), the time zone that cuts days and weeks (and each person's whose
    row names none), the thresholds, and the default holiday country."""

    as_of: pd.Timestamp
    window_weeks: int
    trend_weeks: int
    min_group_size: int
    timezone: str
    health: Thresholds
    # The public-holiday country of people whose org chart row names none (None: no holidays).
    country: str | None = None
    # People who opted out (normalised emails or aliases): taken out of the org chart.
    excluded: frozenset[str] = frozenset()

    @property
    def window_start(self) -> pd.Timestamp:
        """The window is (window_start, as_of]: docs/metrics.md "Pair figures"."""
        return self.as_of - self.window_weeks * WEEK

    @property
    def first_monday(self) -> pd.Timestamp:
        """Local midnight (as a naive wall time) of the Monday starting the oldest trend week."""
        local = self.as_of.tz_convert(self.timezone).tz_localize(None).normalize()
        this_monday = local - local.weekday() * DAY
        return this_monday - (self.trend_weeks - 1) * WEEK

    @property
    def trend_start(self) -> pd.Timestamp:
        """The UTC instant the oldest trend week starts."""
        monday = self.first_monday.tz_localize(
            self.timezone, ambiguous=True, nonexistent="shift_forward"
        )
        return monday.tz_convert("UTC")

    @property
    def load_since(self) -> pd.Timestamp:
        """The earliest original start any figure or trend needs (last_held aside)."""
        return min(self.window_start, self.trend_start)

    def week_labels(self) -> list[str]:
        """ISO week labels of the trend, oldest first, ending with the week holding as-of."""
        labels = []
        for i in range(self.trend_weeks):
            year, week, _ = (self.first_monday + i * WEEK).isocalendar()
            labels.append(f"{year}-W{week:02d}")
        return labels
