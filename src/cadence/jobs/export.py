"""``cadence export``: the pair figures and the weekly trends of the last weeks as Parquet files,
for the people-analytics team's BI tools (docs/export.md lists every column).

The reports answer one manager or one director about this week; the people-analytics team asks
across the whole company and across time, in its own tools, and joins the figures to its HR
system. So the export is pair-level (an administrator's tool: it names every report and is under
no privacy floor), has a typed, documented schema that does not move with the reports' wording,
and can pseudonymise every email and name with a keyed hash the HR system can compute too.

Each week's rows are that week's figures as they stood at the week's end (the figures its
weekly reports gave), so an export is a point-in-time history that later runs reproduce rather
than restate. The store is read once for all the weeks, as :func:`cadence.jobs.figures.results`
does for two; both files are built in memory and only then written, each to a temporary file
renamed into place, so a failed run leaves the previous export whole.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine

from cadence import __version__
from cadence.config import Config
from cadence.counts import PAIR_COUNTS, TREND_COUNTS
from cadence.errors import ConfigError, UsageError
from cadence.jobs.figures import MAX_WINDOW_WEEKS, compute_runs, params_for
from cadence.normalised import normalise_email
from cadence.pipeline import HealthResult, Params
from cadence.pipeline.rates import cancellation_rate
from cadence.reports.writer import open_report_folder, write_private
from cadence.weeks import week_label, week_last_second, week_start

PAIRS_FILE = "pairs.parquet"
TRENDS_FILE = "trends.parquet"
# The most weeks one export computes: each is a pipeline run, and ten years is the longest
# window any figure has.
MAX_EXPORT_WEEKS = MAX_WINDOW_WEEKS

TIME = pa.timestamp("us", tz="UTC")


def _field(name: str, kind: pa.DataType, nullable: bool = False) -> pa.Field:
    return pa.field(name, kind, nullable=nullable)


# Where each row's week and run stand: the same first columns in both files, so they join.
_WEEK_FIELDS = [_field("week", pa.string()), _field("week_start", TIME), _field("as_of", TIME)]
PAIR_SCHEMA = pa.schema(
    [
        *_WEEK_FIELDS,
        _field("window_weeks", pa.int32()),
        _field("kind", pa.string()),
        _field("manager_email", pa.string()),
        _field("manager_name", pa.string(), nullable=True),
        _field("report_email", pa.string()),
        _field("report_name", pa.string(), nullable=True),
        _field("via_email", pa.string(), nullable=True),
        _field("status", pa.string()),
        _field("reasons", pa.string()),
        *(_field(name, pa.int32()) for name in PAIR_COUNTS),
        _field("consecutive_missed", pa.int32()),
        _field("streak_cancelled_by_manager", pa.int32()),
        _field("cancellation_rate", pa.float64(), nullable=True),
        _field("held_minutes", pa.float64()),
        _field("minutes_per_week", pa.float64()),
        _field("intended_cadence_days", pa.float64(), nullable=True),
        _field("actual_cadence_days", pa.float64(), nullable=True),
        _field("cadence_bucket", pa.string()),
        _field("last_held", TIME, nullable=True),
        _field("days_since_last_held", pa.int32(), nullable=True),
        _field("next_scheduled", TIME, nullable=True),
        _field("away_days", pa.float64()),
        _field("away_until", TIME, nullable=True),
    ]
)
TREND_SCHEMA = pa.schema(
    [
        *_WEEK_FIELDS,
        _field("scope", pa.string()),
        _field("manager_email", pa.string()),
        _field("manager_name", pa.string(), nullable=True),
        *(_field(name, pa.int32()) for name in TREND_COUNTS),
        _field("cancellation_rate", pa.float64(), nullable=True),
    ]
)
# The columns that name someone: with a salt, each value becomes its keyed hash.
EMAIL_COLUMNS = ("manager_email", "report_email", "via_email")
NAME_COLUMNS = ("manager_name", "report_name")
# Pair columns copied from HealthResult.pairs under the same name.
_PAIR_FIGURES = [
    f.name
    for f in PAIR_SCHEMA
    if f.name not in {"week", "week_start", "as_of", "window_weeks", "kind"}
    and not f.name.endswith(("_email", "_name"))
]


@dataclass(frozen=True)
class ExportSummary:
    """What one export wrote: the files, the weeks (oldest first) and the rows of each file."""

    folder: Path
    files: list[Path]
    weeks: list[str]
    pair_rows: int
    trend_rows: int
    pseudonymized: bool


def export_salt(config: Config) -> bytes:
    """The HMAC key of ``--pseudonymize``: the UTF-8 bytes of the variable ``[export] salt_env``
    names. Unset or empty is a :class:`UsageError`: an export meant to be pseudonymised must
    never be written in the clear, nor keyed with nothing."""
    try:
        value = config.secret("export", "salt_env", config.export.salt_env)
    except ConfigError as exc:
        raise UsageError(f"--pseudonymize needs a salt: {exc}") from exc
    return value.encode("utf-8")


def pseudonym(salt: bytes, text: str) -> str:
    """HMAC-SHA-256 of ``text`` (UTF-8) keyed by ``salt``, as 64 lower-case hex digits."""
    return hmac.new(salt, text.encode("utf-8"), hashlib.sha256).hexdigest()


def export_weeks(as_of: datetime, weeks: int, tz: ZoneInfo) -> list[tuple[str, datetime]]:
    """The last ``weeks`` ISO weeks up to the one holding ``as_of``, oldest first, each with the
    instant its figures are at: its last second, or ``as_of`` itself for the week holding it."""
    label = week_label(as_of, tz)
    runs = [(label, as_of)]
    for _ in range(weeks - 1):
        # Step by labels, not by 7 x 24 hours, which a change of clocks would skew.
        label = week_label(week_start(label, tz) - timedelta(seconds=1), tz)
        runs.append((label, week_last_second(label, tz)))
    return runs[::-1]


def export_parquet(
    engine: Engine,
    config: Config,
    out_dir: Path,
    as_of: datetime,
    weeks: int | None = None,
    window_weeks: int | None = None,
    pseudonymize: bool = False,
) -> ExportSummary:
    """Write ``pairs.parquet`` and ``trends.parquet`` into ``out_dir`` (made 0700 where missing):
    the last ``weeks`` weeks (default ``[report] trend_weeks``) up to the one holding ``as_of``,
    pair figures over ``window_weeks`` (default ``[report] window_weeks``) before each week's
    as-of. With ``pseudonymize``, every email and name is its HMAC (:func:`pseudonym`).

    Bad usage (no salt, ``out_dir`` or a folder above it not a folder, weeks out of range) is a
    :class:`UsageError` raised before the store is read; nothing is written then.
    """
    salt = export_salt(config) if pseudonymize else None
    count = config.report.trend_weeks if weeks is None else weeks
    if not 1 <= count <= MAX_EXPORT_WEEKS:
        raise UsageError(f"--weeks must be 1 to {MAX_EXPORT_WEEKS}, got {count}")
    _check_folder(out_dir)
    runs = export_weeks(as_of, count, config.tz)
    # Only the week holding each as-of is exported from each run's trend: a one-week trend is
    # that week's figures exactly, and spares loading a whole trend's span before the oldest week.
    params = [replace(params_for(config, at, window_weeks), trend_weeks=1) for _, at in runs]
    # Like every report, an export that would need events the retention deleted is refused.
    results = compute_runs(
        engine, config, as_of, params, config.pipeline.engine, config.pipeline.scheduler or None
    )
    labels = [label for label, _ in runs]
    hide = _hider(salt)
    pairs = _table(pd.concat(_pair_rows(labels, results), ignore_index=True), PAIR_SCHEMA, hide)
    trends = _table(pd.concat(_trend_rows(labels, results), ignore_index=True), TREND_SCHEMA, hide)
    data = {PAIRS_FILE: _parquet(pairs, salt), TRENDS_FILE: _parquet(trends, salt)}
    with open_report_folder(out_dir) as folder:
        for name, content in data.items():
            write_private(folder.path / name, content, folder)
        files = [folder.path / name for name in data]
    return ExportSummary(
        folder=out_dir,
        files=files,
        weeks=labels,
        pair_rows=pairs.num_rows,
        trend_rows=trends.num_rows,
        pseudonymized=salt is not None,
    )


def _check_folder(out_dir: Path) -> None:
    """``out_dir`` must be a folder, or not exist below folders: a file there is bad usage."""
    for path in (out_dir, *out_dir.parents):
        if path.exists():
            if not path.is_dir():
                raise UsageError(f"--out {out_dir}: {path} is not a folder")
            return


def _week_columns(label: str, params: Params) -> dict[str, object]:
    start = week_start(label, ZoneInfo(params.timezone))
    return {"week": label, "week_start": pd.Timestamp(start), "as_of": params.as_of}


def _names(result: HealthResult) -> pd.Series:
    """Each person's name as stored, by email; no row or an empty name is no name."""
    names = result.org.people["name"]
    return names[names.notna() & (names.astype(str) != "")].astype(str)


def _pair_rows(labels: Sequence[str], results: Sequence[HealthResult]) -> list[pd.DataFrame]:
    frames = []
    for label, result in zip(labels, results, strict=True):
        pairs = result.pairs
        names = _names(result)
        frame = pd.DataFrame(
            {
                **_week_columns(label, result.params),
                "window_weeks": result.params.window_weeks,
                "kind": pairs["kind"].to_numpy(),
                "manager_email": pairs["manager"].to_numpy(),
                "manager_name": pairs["manager"].map(names).to_numpy(),
                "report_email": pairs["report"].to_numpy(),
                "report_name": pairs["report"].map(names).to_numpy(),
                "via_email": pairs["via"].to_numpy(),
                **{name: pairs[name].to_numpy() for name in _PAIR_FIGURES},
            }
        )
        frames.append(frame)
    return frames


def _trend_rows(labels: Sequence[str], results: Sequence[HealthResult]) -> list[pd.DataFrame]:
    """Per manager and week, two scopes: ``team``, the 1:1s with their direct reports; ``org``,
    every pair whose report is below them at any depth (a director's trend, unfloored)."""
    columns = list(TREND_COUNTS)
    frames = []
    for label, result in zip(labels, results, strict=True):
        managers = pd.Index(result.managers(), name="manager_email")
        # The run's trend is one week long: its week 0 is the exported week.
        org = _first_week(result.trends.org).reindex(managers, fill_value=0)
        own = _first_week(result.trends.own)
        direct = result.pairs[result.pairs["kind"] == "pair"].set_index("report")["manager"]
        team = (
            own[columns]
            .groupby(direct.reindex(own.index).to_numpy())
            .sum()
            .reindex(managers, fill_value=0)
        )
        names = _names(result)
        for scope, sums in (("team", team), ("org", org)):
            counts = sums[columns].astype(np.int64)
            frames.append(
                pd.DataFrame(
                    {
                        **_week_columns(label, result.params),
                        "scope": scope,
                        "manager_email": managers.to_numpy(),
                        "manager_name": names.reindex(managers).to_numpy(),
                        **{name: counts[name].to_numpy() for name in columns},
                        "cancellation_rate": cancellation_rate(
                            counts["missed"], counts["scheduled"]
                        ),
                    }
                )
            )
    return frames


def _first_week(table: pd.DataFrame) -> pd.DataFrame:
    """A trend table's week 0, by email (a table with no rows gives none, not an error)."""
    return table[table.index.get_level_values("week") == 0].droplevel("week")


def _hider(salt: bytes | None) -> Callable[[pd.Series, bool], pd.Series]:
    """The transformation of a column that names people: itself, or each value's pseudonym
    (emails normalised first, names as stored), computed once per distinct value."""

    def hide(values: pd.Series, is_email: bool) -> pd.Series:
        if salt is None:
            return values
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        texts = (normalise_email(str(u)) if is_email else str(u) for u in uniques)
        hashed = np.array([pseudonym(salt, t) for t in texts] + [None], dtype=object)
        # Code -1 (a null) picks the trailing None: a missing name stays missing.
        return pd.Series(hashed[codes], index=values.index, dtype=object)

    return hide


def _table(
    frame: pd.DataFrame, schema: pa.Schema, hide: Callable[[pd.Series, bool], pd.Series]
) -> pa.Table:
    """``frame`` as a table of ``schema``: people pseudonymised where asked, then rows sorted by
    the values written (never by a clear email a pseudonymised file must not reveal)."""
    frame = frame.copy()
    for name in EMAIL_COLUMNS + NAME_COLUMNS:
        if name in frame:
            frame[name] = hide(frame[name], name in EMAIL_COLUMNS)
    keys = [k for k in ("week", "kind", "scope", "manager_email", "report_email") if k in frame]
    frame = frame.sort_values(keys, ignore_index=True, kind="stable")
    arrays = [_array(frame[f.name], f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _array(values: pd.Series, kind: pa.DataType) -> pa.Array:
    if pa.types.is_timestamp(kind):
        # Calendar times are whole microseconds; flooring makes the cast exact whatever comes.
        values = pd.to_datetime(values, utc=True).dt.floor("us")
    # from_pandas: NaN, None and NaT are all nulls.
    return pa.array(values, type=kind, from_pandas=True)


def _parquet(table: pa.Table, salt: bytes | None) -> bytes:
    """The table as Parquet bytes, its metadata saying which cadence wrote it and whether the
    people in it are pseudonymised (a join to HR data must know which)."""
    meta = {
        b"cadence.version": __version__.encode(),
        b"cadence.pseudonymized": b"true" if salt is not None else b"false",
    }
    sink = pa.BufferOutputStream()
    pq.write_table(table.replace_schema_metadata(meta), sink)
    return bytes(sink.getvalue().to_pybytes())
