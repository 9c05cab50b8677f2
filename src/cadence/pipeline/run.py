"""The pipeline end to end: store -> frames -> occurrences -> pair figures -> health ->
manager and director figures -> :class:`HealthResult`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from cadence.config import Config
from cadence.pipeline.engines import run
from cadence.pipeline.load import StoreFrames, load_store
from cadence.pipeline.occurrences import assign_copies
from cadence.pipeline.org import build_org
from cadence.pipeline.pairs import complete, in_window, with_health
from cadence.pipeline.params import Params
from cadence.pipeline.result import HealthResult
from cadence.pipeline.rollups import director_summaries, manager_summaries, trends


def compute(
    engine: Engine,
    config: Config,
    as_of: datetime,
    window_weeks: int | None = None,
    engine_kind: str | None = None,
    scheduler: str | None = None,
) -> HealthResult:
    """Every figure of METRICS.md at ``as_of``, from the store behind ``engine``.

    ``window_weeks`` overrides ``[report] window_weeks``; ``engine_kind`` (default
    ``[pipeline] engine``) is ``pandas`` or ``dask``; ``scheduler`` (Dask only, default
    ``[pipeline] scheduler``) is a scheduler name (``threads``, ``synchronous``,
    ``processes``) or the address of a running Dask cluster (``tcp://host:8786``).
    """
    params = Params.from_config(config, as_of, window_weeks)
    frames = load_store(engine, params.load_since)
    return compute_frames(
        frames,
        params,
        engine_kind=engine_kind or config.pipeline.engine,
        scheduler=scheduler or config.pipeline.scheduler or None,
    )


def compute_frames(
    frames: StoreFrames,
    params: Params,
    engine_kind: str = "pandas",
    scheduler: str | None = None,
    partitions: int | None = None,
) -> HealthResult:
    """The compute step alone, from frames already loaded (benchmarks and notebooks)."""
    org = build_org(frames.people, frames.aliases)
    copies, rules = assign_copies(frames, org, params)
    occ, figures = run(copies, rules, params, engine_kind, scheduler, partitions)
    pairs = with_health(complete(org.pairs, figures), params)
    return HealthResult(
        params=params,
        org=org,
        pairs=pairs,
        occurrences=occ[in_window(occ, params)].sort_values(
            ["pair_id", "original_start", "ident"], ignore_index=True
        ),
        manager_summary=manager_summaries(pairs),
        director_summary=director_summaries(pairs, org.below),
        trends=trends(occ, pairs, org.below, params),
    )
