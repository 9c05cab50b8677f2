"""The pipeline end to end: frames -> occurrences and away time -> final outcomes -> pair
figures -> health -> manager and director figures -> :class:`HealthResult`."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from cadence.frames import StoreFrames
from cadence.pipeline.away import AwayParams, pair_away, person_away
from cadence.pipeline.engines import run_at
from cadence.pipeline.occurrences import assign_copies
from cadence.pipeline.org import Org, build_org
from cadence.pipeline.pairs import complete, in_window, with_away, with_health
from cadence.pipeline.params import Params
from cadence.pipeline.result import HealthResult
from cadence.pipeline.rollups import director_summaries, manager_summaries


def compute_frames(
    frames: StoreFrames,
    params: Params,
    engine_kind: str = "pandas",
    scheduler: str | None = None,
    partitions: int | None = None,
) -> HealthResult:
    """Every figure of docs/metrics.md at ``params.as_of``, from the store's frames.

    ``engine_kind`` is ``pandas`` or ``dask``; ``scheduler`` (Dask only) is a scheduler name
    (``threads``, ``synchronous``, ``processes``) or the address of a running Dask cluster
    (``tcp://host:8786``); ``partitions`` caps the Dask partitions (default 8).
    """
    return compute_frames_at(frames, [params], engine_kind, scheduler, partitions)[0]


def compute_frames_at(
    frames: StoreFrames,
    runs: Sequence[Params],
    engine_kind: str = "pandas",
    scheduler: str | None = None,
    partitions: int | None = None,
) -> list[HealthResult]:
    """:func:`compute_frames` for several as-ofs (this week's and last week's, say) from one
    read of the store: the steps that do not depend on as-of (the org chart, which copies are
    whose 1:1s, merging each occurrence's copies and deciding who called it off, when and
    whether late) run once; each run then decides what is still upcoming and goes on from
    there. A result's trends are computed when first asked for: last week's run serves only
    "what changed", its director summaries. The runs must share their time zone, who opted
    out and their health thresholds."""
    if len({p.timezone for p in runs}) > 1:
        raise ValueError("runs computed together must share their time zone")
    if len({p.excluded for p in runs}) > 1:
        raise ValueError("runs computed together must share who opted out")
    org = build_org(frames.people, frames.aliases, runs[0].excluded)
    copies, rules = assign_copies(frames, org, runs[0])
    aways = [
        pair_away(person_away(frames, org, AwayParams.from_params(p, country=p.country)), org.pairs)
        for p in runs
    ]
    found = run_at(
        copies, rules, list(zip(runs, aways, strict=True)), engine_kind, scheduler, partitions
    )
    return [
        _result(org, occ, figures, away, p)
        for (occ, figures), away, p in zip(found, aways, runs, strict=True)
    ]


def _result(
    org: Org, occ: pd.DataFrame, figures: pd.DataFrame, away: pd.DataFrame, params: Params
) -> HealthResult:
    pairs = with_health(with_away(complete(org.pairs, figures), away, params), params)
    return HealthResult(
        params=params,
        org=org,
        pairs=pairs,
        occurrences=occ[in_window(occ, params)].sort_values(
            ["pair_id", "original_start", "ident"], ignore_index=True
        ),
        manager_summary=manager_summaries(pairs),
        director_summary=director_summaries(pairs, org.below),
        all_occurrences=occ,
    )
