"""``cadence report all``: from the store to every report. Run the pipeline for as-of and for a
week earlier (the director's "what changed"), then write every manager's and director's report,
and optionally mail each person theirs. ``cadence nightly`` calls :func:`publish_all` too.

This job opens nothing itself but what it is given; the reports it calls only render dicts.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from cadence.config import Config
from cadence.jobs.figures import results
from cadence.pipeline import HealthResult
from cadence.pipeline.views import director_view, manager_view
from cadence.reports.mailer import EmlOutbox, SmtpOutbox
from cadence.reports.render import render
from cadence.reports.words import RenderSettings, iso_week
from cadence.reports.writer import (
    ReportFolder,
    RunSummary,
    Written,
    open_report_folder,
    write_index,
    write_reports,
    write_views,
)
from cadence.store.saved import ViewRow, save_week


def subjects(current: HealthResult) -> list[tuple[str, str]]:
    """Every report of a run, as (kind, email): every director's, then every manager's."""
    return [("director", e) for e in current.directors()] + [
        ("manager", e) for e in current.managers()
    ]


def view_of(
    current: HealthResult, previous: HealthResult, kind: str, email: str
) -> Mapping[str, Any]:
    """One report's view (a director's compares with ``previous``)."""
    if kind == "director":
        return director_view(current, email, previous)
    return manager_view(current, email)


def all_views(current: HealthResult, previous: HealthResult) -> Iterator[Mapping[str, Any]]:
    """Every report's view, in the order of :func:`subjects`, each built when it is needed."""
    for kind, email in subjects(current):
        yield view_of(current, previous, kind, email)


def publish_all(
    engine: Engine,
    config: Config,
    *,
    as_of: datetime,
    window_weeks: int | None,
    formats: Sequence[str],
    out_dir: Path,
    email: bool = False,
    dry_run: bool = False,
    progress: Callable[[Written], None] | None = None,
    computed: tuple[HealthResult, HealthResult] | None = None,
    workers: int | None = None,
) -> tuple[RunSummary, dict[str, str]]:
    """Write every report into ``out_dir/<ISO week of as-of>/``; with ``email``, send each
    person theirs (``dry_run``: write ``.eml`` files into the week's ``email/`` folder instead).
    Every report's JSON is also saved in the store as that week's figures, for the web app
    (replacing what the week held), once every file is written.

    ``computed`` is what :func:`results` gives, for a caller that needs the figures too.
    ``workers``: processes that build and write the reports (default: one per CPU; see
    :func:`write_shared`). Returns the run's summary and the recipients the mail server
    refused, with its reason.
    """
    settings = RenderSettings.from_config(config)
    as_of_text = as_of.isoformat()
    week = iso_week(as_of_text, settings)
    # Mail settings and the password are checked before the long computation; the connection is
    # opened after it, so an idle server does not drop it meanwhile.
    outbox: EmlOutbox | SmtpOutbox | None = None
    if dry_run:
        outbox = EmlOutbox(config, settings, out_dir / week / "email")
    elif email:
        outbox = SmtpOutbox(config, settings)
    current, previous = computed or results(engine, config, as_of, window_weeks)
    if outbox is None:
        with open_report_folder(out_dir, week) as folder:
            share = Share(current, previous, folder, tuple(formats), settings)
            written, saved = write_shared(share, workers or available_cpus(), progress)
            summary = write_index(folder, written, week, as_of_text, settings)
        save_week(engine, week, as_of, datetime.now(UTC), saved)
        return summary, {}
    # Mail goes out over one connection, so this run stays in one process.
    mailed: list[ViewRow] = []

    def keep(view: Mapping[str, Any], json_text: str) -> None:
        mailed.append(ViewRow.of(view, json_text))

    with outbox:
        summary = write_reports(
            all_views(current, previous),
            out_dir,
            week,
            as_of_text,
            formats,
            settings,
            outbox,
            progress,
            keep,
        )
    save_week(engine, week, as_of, datetime.now(UTC), mailed)
    return summary, outbox.refused


@dataclass(frozen=True)
class Share:
    """What every process writing a share of a run's reports needs: the figures, the open week
    folder, the formats and the settings. Handed to forked processes by inheritance, never
    pickled: the figures of a large org are hundreds of megabytes."""

    current: HealthResult
    previous: HealthResult
    folder: ReportFolder
    formats: tuple[str, ...]
    settings: RenderSettings

    def write(self, chunk: Sequence[tuple[str, str]]) -> tuple[list[Written], list[ViewRow]]:
        """Build, render and write the reports of ``chunk``; their entries and saved rows."""
        rows: list[ViewRow] = []

        def views() -> Iterator[Mapping[str, Any]]:
            for kind, email in chunk:
                yield view_of(self.current, self.previous, kind, email)

        def keep(view: Mapping[str, Any], json_text: str) -> None:
            rows.append(ViewRow.of(view, json_text))

        written = write_views(views(), self.folder, self.formats, self.settings, keep_json=keep)
        return written, rows


# Reports per task: small enough that progress moves and the processes finish together, large
# enough that handing a task over costs nothing next to writing it.
CHUNK = 64
# Fewer reports than this are written in this process: starting others would cost more.
PARALLEL_FROM = 4 * CHUNK
# The run a forked process writes a share of (set before the fork, read after it).
_SHARE: Share | None = None


def available_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _write_chunk(chunk: Sequence[tuple[str, str]]) -> tuple[list[Written], list[ViewRow]]:
    assert _SHARE is not None, "a report process forked without its share"
    return _SHARE.write(chunk)


def write_shared(
    share: Share, workers: int, progress: Callable[[Written], None] | None = None
) -> tuple[list[Written], list[ViewRow]]:
    """Every report of ``share``, written by ``workers`` processes forked after the figures were
    computed (they inherit them, and the open folder), in the order of :func:`all_views`.

    Building and rendering the views is most of a large run after the pipeline and uses one
    core; the views are independent, so each process takes chunks of them. With one worker, a
    small run, or no ``fork`` (Windows, macOS), it all happens in this process.
    """
    global _SHARE
    reports = subjects(share.current)
    chunks = [reports[i : i + CHUNK] for i in range(0, len(reports), CHUNK)]
    written: list[Written] = []
    rows: list[ViewRow] = []

    def collect(done: Iterable[tuple[list[Written], list[ViewRow]]]) -> None:
        for chunk_written, chunk_rows in done:
            written.extend(chunk_written)
            rows.extend(chunk_rows)
            if progress is not None:
                for entry in chunk_written:
                    progress(entry)

    forking = "fork" in multiprocessing.get_all_start_methods()
    if workers <= 1 or len(reports) < PARALLEL_FROM or not forking:
        collect(map(share.write, chunks))
        return written, rows
    _SHARE = share
    try:
        with multiprocessing.get_context("fork").Pool(min(workers, len(chunks))) as pool:
            collect(pool.imap(_write_chunk, chunks))
    finally:
        _SHARE = None
    return written, rows


def save_figures(
    engine: Engine, config: Config, as_of: datetime, computed: tuple[HealthResult, HealthResult]
) -> str:
    """Save every report's figures of ``computed`` (at ``as_of``) as their week's, writing no
    file; returns the week's label. The web app calls it for a week nobody saved."""
    settings = RenderSettings.from_config(config)
    current, previous = computed
    week = iso_week(as_of.isoformat(), settings)
    rows = [
        ViewRow.of(view, render(view, "json", settings)) for view in all_views(current, previous)
    ]
    save_week(engine, week, as_of, datetime.now(UTC), rows)
    return week
