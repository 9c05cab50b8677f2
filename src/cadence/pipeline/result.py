"""What one pipeline run produces: :class:`HealthResult`, the frames the views and notebooks read
(their columns are listed in docs/metrics.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from cadence.pipeline.org import Org
from cadence.pipeline.params import Params
from cadence.pipeline.rollups import TREND_COLUMNS, Trends

# How a timeline's missing instant (NaT) reads as microseconds.
NO_TIME = np.iinfo(np.int64).min


@dataclass(frozen=True)
class HealthResult:
    """One run's figures at ``params.as_of``.

    - ``pairs``: index pair_id; one row per pair and skip-level pair (``kind``), with its
      figures (exact, unrounded), ``status`` and ``reasons`` (space-separated codes in the order
      of docs/metrics.md "Health").
    - ``occurrences``: the 1:1 occurrences whose original start lies in the window, sorted by
      pair_id and original start.
    - ``manager_summary`` / ``director_summary``: index email, the manager figures over direct
      reports / over the whole org.
    - ``trends``: weekly sums per org and per pair (see :class:`Trends`).

    The lookups below are built once, on first use, so that writing every manager's and
    director's view costs little per view.
    """

    params: Params
    org: Org
    pairs: pd.DataFrame
    occurrences: pd.DataFrame
    manager_summary: pd.DataFrame
    director_summary: pd.DataFrame
    trends: Trends

    @cached_property
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

    @cached_property
    def _pair_rows(self) -> dict[tuple[str, str], np.ndarray]:
        ordered = self.pairs.reset_index().sort_values(["kind", "manager", "report", "via"])
        groups = ordered.groupby(["kind", "manager"], sort=False).indices
        positions = ordered.index.to_numpy()
        return {
            (str(key[0]), str(key[1])): positions[rows]  # type: ignore[index]
            for key, rows in groups.items()
        }

    def pairs_of(self, manager: str, kind: str = "pair") -> pd.DataFrame:
        """The manager's pairs (``kind`` "pair") or skip-level pairs ("skip"), by report."""
        rows = self._pair_rows.get((kind, manager), np.array([], dtype=np.int64))
        return self.pairs.iloc[rows]

    @cached_property
    def _pair_columns(self) -> dict[str, np.ndarray]:
        frame = self.pairs.reset_index()
        return {str(name): frame[name].to_numpy(dtype=object) for name in frame.columns}

    def pair_records(self, manager: str, kind: str = "pair") -> list[dict[str, Any]]:
        """:meth:`pairs_of` as dicts (``pair_id`` included), one per pair."""
        rows = self._pair_rows.get((kind, manager), np.array([], dtype=np.int64))
        columns = self._pair_columns
        return [{name: values[i] for name, values in columns.items()} for i in rows]

    @cached_property
    def _timeline_columns(self) -> dict[str, np.ndarray]:
        occ = self.occurrences

        def micros(name: str) -> np.ndarray:
            naive = occ[name].dt.tz_convert(None).to_numpy().astype("datetime64[us]")
            return np.asarray(naive.astype(np.int64))

        role = occ["canceller_role"]
        return {
            "pair_id": occ["pair_id"].to_numpy(),
            "original_start": micros("original_start"),
            "start": micros("start"),
            "outcome": occ["outcome"].astype(str).to_numpy(dtype=object),
            "canceller_role": role.astype(object).where(role.notna()).to_numpy(dtype=object),
            "rescheduled": occ["rescheduled"].to_numpy(dtype=bool),
            "late": occ["late"].to_numpy(dtype=bool),
            "made_up_by": micros("made_up_by"),  # NaT reads as NO_TIME
        }

    def timeline(self, pair_id: int) -> dict[str, np.ndarray]:
        """The window's occurrences of one pair, oldest original start first, as arrays:
        original_start and start (microseconds since the epoch, UTC), outcome, canceller_role
        (null when nobody called it off), rescheduled, late, made_up_by (the start of the
        one-off that made a miss up, microseconds; :data:`NO_TIME` for none)."""
        columns = self._timeline_columns
        lo, hi = np.searchsorted(columns["pair_id"], [pair_id, pair_id + 1])
        return {name: values[lo:hi] for name, values in columns.items()}

    @cached_property
    def _trend_arrays(self) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
        people = sorted(
            set(self.trends.org.index.get_level_values("email"))
            | set(self.trends.own.index.get_level_values("email"))
        )
        where = {email: i for i, email in enumerate(people)}
        shape = (len(people) + 1, self.params.trend_weeks, len(TREND_COLUMNS))
        arrays = []
        for table in (self.trends.org, self.trends.own):
            dense = np.zeros(shape, dtype=np.int64)
            emails = table.index.get_level_values("email")
            rows = np.fromiter((where[e] for e in emails), dtype=np.int64, count=len(emails))
            weeks = table.index.get_level_values("week").to_numpy()
            dense[rows, weeks] = table[TREND_COLUMNS].to_numpy()
            arrays.append(dense)
        return where, arrays[0], arrays[1]

    def trend(self, emails: list[str], own: bool = False) -> np.ndarray:
        """Weekly sums (weeks x ``TREND_COLUMNS``) over the orgs below ``emails`` (or, with
        ``own``, over their own 1:1s with their manager)."""
        where, org, mine = self._trend_arrays
        table = mine if own else org
        rows = [where.get(e, len(where)) for e in emails]
        return np.asarray(table[rows].sum(axis=0))
