"""The jobs' bridge from the configuration and the store to the pipeline.

The pipeline computes from frames and plain parameters and knows neither the configuration nor
the database; every job that needs figures (a report, all reports, the demo) comes through here:
:func:`params_for` turns the configuration and an as-of into the pipeline's
:class:`~cadence.pipeline.Params`, :func:`compute` reads the store and computes one run, and
:func:`results` computes this week's run and the previous week's from one read of the store.

With ``[store] retention_days`` on, the nightly deletes the events older than now minus that many
days, and the store remembers the edge it deleted before (:mod:`cadence.jobs.retention`). A run
whose window, trend or "what changed" week reaches before that edge is refused, saying which
data is gone (:func:`refuse_deleted`), rather than computed: its early weeks would read as 1:1s
that never happened. Refusing is the simpler of the
two honest answers (the other, blanking the trend's early weeks, would reach through the
pipeline into every view and chart), and no report is then half made of missing data.
``last_held`` is the one figure that looks back past the window: before the edge it finds
nothing, as for a pair that never met.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine

from cadence.config import Config, HealthConfig
from cadence.errors import UsageError
from cadence.frames import StoreFrames
from cadence.normalised import normalise_email
from cadence.pipeline import HealthResult, Params
from cadence.pipeline.engines import SchedulerNeedsDask
from cadence.pipeline.params import Thresholds
from cadence.pipeline.run import compute_frames_at
from cadence.store.reads import load_frames
from cadence.store.retention import deleted_before

# The director's "what changed" compares with the run at as-of minus a week.
PREVIOUS_WEEK = timedelta(days=7)
# The instants a report can be for, and the longest window: every figure's span (as-of minus the
# window or the trend, plus a week for "what changed") must be an instant the pipeline can hold.
EARLIEST_AS_OF = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_AS_OF = datetime(2200, 1, 1, tzinfo=UTC)
MAX_WINDOW_WEEKS = 520


def thresholds(health: HealthConfig) -> Thresholds:
    """The ``[health]`` section as the pipeline's thresholds (the same fields, by name: a test
    keeps the two in step)."""
    return Thresholds(**{f.name: getattr(health, f.name) for f in fields(Thresholds)})


def params_for(config: Config, as_of: datetime, window_weeks: int | None = None) -> Params:
    """The pipeline's parameters at ``as_of`` (which must carry a time zone offset);
    ``window_weeks`` overrides ``[report] window_weeks``."""
    if as_of.tzinfo is None:
        raise UsageError(f"as-of {as_of.isoformat()} has no time zone offset")
    if not EARLIEST_AS_OF <= as_of < LATEST_AS_OF:
        raise UsageError(
            f"as-of {as_of.isoformat()} is outside the years cadence reports on "
            f"({EARLIEST_AS_OF.year} to {LATEST_AS_OF.year - 1})"
        )
    weeks = config.report.window_weeks if window_weeks is None else window_weeks
    if not 1 <= weeks <= MAX_WINDOW_WEEKS:
        raise UsageError(f"window weeks must be 1 to {MAX_WINDOW_WEEKS} (ten years), got {weeks}")
    return Params(
        as_of=pd.Timestamp(as_of).tz_convert("UTC"),
        window_weeks=weeks,
        trend_weeks=config.report.trend_weeks,
        min_group_size=config.report.min_group_size,
        timezone=config.org.timezone,
        health=thresholds(config.health),
        country=config.org.country or None,
        excluded=frozenset(normalise_email(e) for e in config.org.exclude),
    )


def compute(
    engine: Engine,
    config: Config,
    as_of: datetime,
    window_weeks: int | None = None,
    engine_kind: str | None = None,
    scheduler: str | None = None,
) -> HealthResult:
    """Every figure of docs/metrics.md at ``as_of``, from the store behind ``engine``.

    ``window_weeks`` overrides ``[report] window_weeks``; ``engine_kind`` (default
    ``[pipeline] engine``) is ``pandas`` or ``dask``; ``scheduler`` (Dask only, default
    ``[pipeline] scheduler``) is a scheduler name (``threads``, ``synchronous``,
    ``processes``) or the address of a running Dask cluster (``tcp://host:8786``).
    """
    params = params_for(config, as_of, window_weeks)
    (result,) = compute_runs(
        engine,
        config,
        as_of,
        [params],
        engine_kind or config.pipeline.engine,
        scheduler or config.pipeline.scheduler or None,
    )
    return result


def results(
    engine: Engine, config: Config, as_of: datetime, window_weeks: int | None
) -> tuple[HealthResult, HealthResult]:
    """This run's figures and those of a week earlier, for "what changed since last week".

    Reading the store is most of a run's time, so it is read once, from the earlier run's first
    needed instant, and both runs compute from the same frames (and share the steps that do not
    depend on as-of).
    """
    now = params_for(config, as_of, window_weeks)
    before = params_for(config, as_of - PREVIOUS_WEEK, window_weeks)
    kind, scheduler = config.pipeline.engine, config.pipeline.scheduler or None
    current, previous = compute_runs(engine, config, as_of, [now, before], kind, scheduler)
    return current, previous


def compute_runs(
    engine: Engine,
    config: Config,
    as_of: datetime,
    runs: list[Params],
    engine_kind: str,
    scheduler: str | None,
) -> list[HealthResult]:
    """The figures of several runs (as-ofs) from one read of the store, from the first instant
    any of them needs; refused, naming ``as_of`` (the one the user asked for), when that reaches
    before what the retention deleted."""
    since = min(p.load_since for p in runs)
    refuse_deleted(engine, config, as_of, since)
    return _compute(_load(engine, since), runs, engine_kind, scheduler)


def refuse_deleted(engine: Engine, config: Config, as_of: datetime, since: pd.Timestamp) -> None:
    """A UsageError when figures at ``as_of``, which need the store from ``since`` on, reach
    before the edge the retention deleted events before: that data is gone."""
    edge = deleted_before(engine)
    if edge is None or since >= edge:
        return
    tz = config.tz
    raise UsageError(
        f"the figures at as-of {as_of.isoformat()} need 1:1s from "
        f"{since.astimezone(tz).date().isoformat()} on, but events before "
        f"{edge.astimezone(tz).date().isoformat()} were deleted ([store] retention_days = "
        f"{config.store.retention_days})"
    )


def reaches_deleted(config: Config, as_of: datetime, edge: datetime | None) -> bool:
    """Whether :func:`results` at ``as_of`` (the configured window) would be refused for needing
    events from before ``edge`` (what :func:`deleted_before` says): the web app offers no such
    week."""
    if edge is None:
        return False
    earliest = min(
        params_for(config, as_of).load_since, params_for(config, as_of - PREVIOUS_WEEK).load_since
    )
    return bool(earliest < edge)


def _load(engine: Engine, since: pd.Timestamp) -> StoreFrames:
    frames = load_frames(engine, since)
    if frames.people.empty:
        raise UsageError(
            "the org chart is empty: load it first (cadence org import FILE.csv, or cadence org "
            "pull), then sync"
        )
    return frames


def _compute(
    frames: StoreFrames, runs: list[Params], engine_kind: str, scheduler: str | None
) -> list[HealthResult]:
    try:
        return compute_frames_at(frames, runs, engine_kind=engine_kind, scheduler=scheduler)
    except SchedulerNeedsDask as exc:
        # Here the two were chosen with the report commands' options (or [pipeline], which the
        # options override): name them as the user gives them.
        raise UsageError("--scheduler needs --engine dask") from exc
