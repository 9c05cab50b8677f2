"""What one pipeline run needs to know besides the data: the as-of instant, the window, the trend
weeks, the time zone and every threshold of METRICS.md, taken from the configuration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from cadence.config import Config, HealthConfig
from cadence.errors import UsageError

DAY = pd.Timedelta(days=1)
WEEK = pd.Timedelta(days=7)


def in_days(spans: pd.Series) -> pd.Series:
    """Timedeltas as (fractional) days: METRICS.md's days are 24-hour spans."""
    return spans.dt.total_seconds() / 86400.0


@dataclass(frozen=True)
class Params:
    as_of: pd.Timestamp  # UTC-aware
    window_weeks: int
    trend_weeks: int
    min_group_size: int
    timezone: str
    health: HealthConfig

    @classmethod
    def from_config(
        cls, config: Config, as_of: datetime, window_weeks: int | None = None
    ) -> Params:
        if as_of.tzinfo is None:
            raise UsageError(f"as-of {as_of.isoformat()} has no time zone offset")
        weeks = config.report.window_weeks if window_weeks is None else window_weeks
        if weeks < 1:
            raise UsageError(f"window weeks must be at least 1, got {weeks}")
        return cls(
            as_of=pd.Timestamp(as_of).tz_convert("UTC"),
            window_weeks=weeks,
            trend_weeks=config.report.trend_weeks,
            min_group_size=config.report.min_group_size,
            timezone=config.org.timezone,
            health=config.health,
        )

    @property
    def window_start(self) -> pd.Timestamp:
        """The window is (window_start, as_of]: METRICS.md "Pair figures"."""
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
