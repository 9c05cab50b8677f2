"""What one pipeline run produces: :class:`HealthResult`, the frames the views and notebooks read
(their columns are listed in docs/metrics.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from cadence.pipeline.org import Org
from cadence.pipeline.params import Params
from cadence.pipeline.rollups import Trends


@dataclass(frozen=True)
class HealthResult:
    """One run's figures at ``params.as_of``.

    - ``pairs``: index pair_id; one row per pair and skip-level pair (``kind``), with its
      figures (exact, unrounded), ``status`` and ``reasons`` (space-separated codes in METRICS.md
      order).
    - ``occurrences``: the 1:1 occurrences whose original start lies in the window, sorted by
      pair_id and original start.
    - ``manager_summary`` / ``director_summary``: index email, the manager figures over direct
      reports / over the whole org.
    - ``trends``: weekly sums per org and per pair (see :class:`Trends`).
    """

    params: Params
    org: Org
    pairs: pd.DataFrame
    occurrences: pd.DataFrame
    manager_summary: pd.DataFrame
    director_summary: pd.DataFrame
    trends: Trends
    _starts: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", self.occurrences["pair_id"].to_numpy())

    @property
    def as_of(self) -> datetime:
        return self.params.as_of.tz_convert(self.params.timezone).to_pydatetime()

    def managers(self) -> list[str]:
        """Emails of everyone with at least one direct report, sorted."""
        return self.org.managers()

    def directors(self) -> list[str]:
        """Emails of everyone with at least one manager below them, sorted."""
        return self.org.directors()

    def skip_level_managers(self) -> list[str]:
        """Emails of everyone who is a skip-level manager (a manager of managers), sorted."""
        return self.org.skip_level_managers()

    def timeline(self, pair_id: int) -> pd.DataFrame:
        """The window's occurrences of one pair, oldest original start first."""
        lo, hi = np.searchsorted(self._starts, [pair_id, pair_id + 1])
        return self.occurrences.iloc[lo:hi]
