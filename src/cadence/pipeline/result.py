"""What one pipeline run produces: :class:`HealthResult`, the frames the views and notebooks read
(their columns are listed in docs/metrics.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from cadence.pipeline.org import Org
from cadence.pipeline.params import Params
from cadence.pipeline.rollups import TREND_COLUMNS, Trends, trends

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_texts(times: pd.Series, zone: ZoneInfo) -> list[str | None]:
    """UTC instants as ISO 8601 texts in ``zone`` (``datetime.isoformat``, to the microsecond),
    None for NaT. Each distinct instant is written once: a run's 1:1s fall on few of them (the
    hours and half hours of its weeks), and writing each value was a third of all the views'
    building."""
    micros = times.dt.tz_convert(None).to_numpy().astype("datetime64[us]").astype(np.int64)
    missing = times.isna().to_numpy()
    where, distinct = pd.factorize(micros[~missing])
    texts = np.array(
        [(EPOCH + timedelta(microseconds=int(m))).astimezone(zone).isoformat() for m in distinct]
        + [None],
        dtype=object,
    )
    at = np.full(len(micros), len(distinct), dtype=np.int64)
    at[~missing] = where
    return texts[at].tolist()


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
    - ``all_occurrences``: every occurrence the run decided, in the window or not (what the
      trends count), sorted by pair_id and ident.
    - ``trends``: weekly sums per org and per pair (see :class:`Trends`), computed on first use:
      "what changed since last week" reads only the director summaries of the week before.

    The lookups below are built once, on first use, so that writing every manager's and
    director's view costs little per view.
    """

    params: Params
    org: Org
    pairs: pd.DataFrame
    occurrences: pd.DataFrame
    manager_summary: pd.DataFrame
    director_summary: pd.DataFrame
    all_occurrences: pd.DataFrame

    @cached_property
    def trends(self) -> Trends:
        return trends(self.all_occurrences, self.pairs, self.org.below, self.params)

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
    def _timeline_columns(self) -> tuple[np.ndarray, dict[str, list[Any]]]:
        occ = self.occurrences
        zone = ZoneInfo(self.params.timezone)
        roles = occ["canceller_role"].to_numpy(dtype=object)
        roles[occ["canceller_role"].isna().to_numpy()] = None
        # Python values, in the order of a view's timeline entry: slicing a list of them is all
        # a view's timeline costs.
        return occ["pair_id"].to_numpy(), {
            "original_start": iso_texts(occ["original_start"], zone),
            "start": iso_texts(occ["start"], zone),
            "outcome": occ["outcome"].astype(str).tolist(),
            "canceller_role": roles.tolist(),
            "rescheduled": occ["rescheduled"].to_numpy(dtype=bool).tolist(),
            "late": occ["late"].to_numpy(dtype=bool).tolist(),
            "made_up_by": iso_texts(occ["made_up_by"], zone),
        }

    def timeline(self, pair_id: int) -> list[dict[str, Any]]:
        """The window's occurrences of one pair, oldest original start first, as a view's
        timeline entries: original_start and start (ISO 8601 texts in the run's time zone),
        outcome, canceller_role (null when nobody called it off), rescheduled, late,
        made_up_by (the start of the one-off that made a miss up; null for none)."""
        pair_ids, columns = self._timeline_columns
        lo, hi = np.searchsorted(pair_ids, [pair_id, pair_id + 1])
        names = list(columns)
        rows = zip(*(values[lo:hi] for values in columns.values()), strict=True)
        return [dict(zip(names, row, strict=True)) for row in rows]

    @cached_property
    def _manager_rows(self) -> dict[str, dict[str, Any]]:
        return self.manager_summary.to_dict("index")  # type: ignore[return-value]

    @cached_property
    def _director_rows(self) -> dict[str, dict[str, Any]]:
        return self.director_summary.to_dict("index")  # type: ignore[return-value]

    def summary_row(self, kind: str, email: str) -> dict[str, Any]:
        """One row of ``manager_summary`` (``kind`` "manager") or ``director_summary``
        ("director") as a dict of Python values; KeyError when it has none for ``email``."""
        rows = self._manager_rows if kind == "manager" else self._director_rows
        return rows[email]

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
