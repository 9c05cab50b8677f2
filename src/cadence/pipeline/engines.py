"""Run the per-pair steps on pandas, or on Dask with the data partitioned by manager.

The steps from copies to occurrences to pair figures only ever look at one pair's rows at a time,
so each Dask partition (a set of whole managers, and so of whole pairs) runs the very same pandas
functions; the results are sorted the same way, so both engines give equal frames row for row.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np
import pandas as pd

from cadence.errors import UsageError
from cadence.pipeline.excuses import settle
from cadence.pipeline.occurrences import occurrences, occurrences_at
from cadence.pipeline.pairs import pair_figures
from cadence.pipeline.params import Params

ENGINES = ("pandas", "dask")


class SchedulerNeedsDask(UsageError):
    """A Dask scheduler was given for the pandas engine, which has none: callers that know how
    the user chose the two can say it in the user's words."""


def _occurrences(
    copies: pd.DataFrame, rules: pd.DataFrame, away: pd.DataFrame, p: Params
) -> pd.DataFrame:
    """Whole pairs' copies -> their occurrences with final outcomes."""
    return settle(occurrences(copies, p), rules, away)


def _per_partition(
    copies: pd.DataFrame, rules: pd.DataFrame, away: pd.DataFrame, p: Params
) -> tuple[pd.DataFrame, pd.DataFrame]:
    return _figures(_occurrences(copies, rules, away, p), rules, p)


def _sorted(occ: pd.DataFrame, figures: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    # By pair_id and ident, as sort_values would, which factorised both keys first.
    order = np.lexsort((occ["ident"].to_numpy(), occ["pair_id"].to_numpy()))
    occ = occ.take(order)
    occ.index = pd.RangeIndex(len(occ))
    return occ, figures.sort_index()


def run(
    copies: pd.DataFrame,
    rules: pd.DataFrame,
    away: pd.DataFrame,
    p: Params,
    engine_kind: str = "pandas",
    scheduler: str | None = None,
    partitions: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Occurrences and pair figures of the assigned ``copies`` on the chosen engine; ``away``
    is every pair's merged away time."""
    return run_at(copies, rules, [(p, away)], engine_kind, scheduler, partitions)[0]


def run_at(
    copies: pd.DataFrame,
    rules: pd.DataFrame,
    runs: Sequence[tuple[Params, pd.DataFrame]],
    engine_kind: str = "pandas",
    scheduler: str | None = None,
    partitions: int | None = None,
) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """:func:`run` for several runs (each its parameters and its pairs' away time) of the same
    copies. On pandas, the occurrences are merged once for all of them
    (:func:`~cadence.pipeline.occurrences.occurrences_at`); Dask computes each run apart."""
    if engine_kind == "pandas":
        if scheduler:
            raise SchedulerNeedsDask(f"a scheduler ({scheduler}) needs the dask engine")
        params = [p for p, _ in runs]
        found = occurrences_at(copies, params)
        return [
            _sorted(*_figures(settle(occ, rules, away), rules, p))
            for occ, (p, away) in zip(found, runs, strict=True)
        ]
    if engine_kind == "dask":
        return [
            _sorted(*_run_dask(copies, rules, away, p, scheduler, partitions)) for p, away in runs
        ]
    raise UsageError(f"unknown engine {engine_kind!r}: use one of {', '.join(ENGINES)}")


def _figures(
    occ: pd.DataFrame, rules: pd.DataFrame, p: Params
) -> tuple[pd.DataFrame, pd.DataFrame]:
    return occ, pair_figures(occ, rules, p)


def _is_address(scheduler: str) -> bool:
    return "://" in scheduler or ":" in scheduler


def _run_dask(
    copies: pd.DataFrame,
    rules: pd.DataFrame,
    away: pd.DataFrame,
    p: Params,
    scheduler: str | None,
    partitions: int | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    import dask
    import dask.dataframe as dd

    codes = pd.factorize(copies["manager_code"], sort=True)[0]
    managers = int(codes.max()) + 1 if len(codes) else 1
    n = max(1, min(managers, partitions or 8))
    # Index by manager number: from_pandas never splits one index value over two partitions,
    # so every pair's copies land in the same partition.
    frame = copies.set_index(pd.Index(codes.astype(np.int64), name="part")).sort_index(
        kind="stable"
    )
    empty_occ, empty_fig = _per_partition(copies.iloc[:0], rules, away, p)

    def occ_part(part: pd.DataFrame) -> pd.DataFrame:
        return _occurrences(part.reset_index(drop=True), rules, away, p)

    # Dask would turn text columns into Arrow strings; the pandas engine keeps them as they are.
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = dd.from_pandas(frame, npartitions=n, sort=True)
        occ = ddf.map_partitions(occ_part, meta=empty_occ)
        figures = occ.map_partitions(partial(pair_figures, rules=rules, p=p), meta=empty_fig)
    if scheduler and _is_address(scheduler):
        from distributed import Client

        try:
            client = Client(scheduler, timeout="10s", set_as_default=False)
        except OSError as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
        with client:
            occ_df, fig_df = client.compute([occ, figures], sync=True)
    else:
        occ_df, fig_df = dask.compute(occ, figures, scheduler=scheduler or "threads")
    fig_df.index.name = "pair_id"
    return occ_df, fig_df
