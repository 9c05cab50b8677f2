"""``cadence report all``: from the store to every report. Run the pipeline for as-of and for a
week earlier (the director's "what changed"), then write every manager's and director's report,
and optionally mail each person theirs. ``cadence nightly`` calls :func:`publish_all` too.

This job opens nothing itself but what it is given; the reports it calls only render dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
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
from cadence.reports.writer import RunSummary, Written, write_reports
from cadence.store.saved import ViewRow, save_week


def all_views(current: HealthResult, previous: HealthResult) -> Iterator[Mapping[str, Any]]:
    """Every director's view, then every manager's, each built when it is needed."""
    for email in current.directors():
        yield director_view(current, email, previous)
    for email in current.managers():
        yield manager_view(current, email)


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
) -> tuple[RunSummary, dict[str, str]]:
    """Write every report into ``out_dir/<ISO week of as-of>/``; with ``email``, send each
    person theirs (``dry_run``: write ``.eml`` files into the week's ``email/`` folder instead).
    Every report's JSON is also saved in the store as that week's figures, for the web app
    (replacing what the week held), once every file is written.

    ``computed`` is what :func:`results` gives, for a caller that needs the figures too.
    Returns the run's summary and the recipients the mail server refused, with its reason.
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
    views = all_views(current, previous)
    saved: list[ViewRow] = []

    def keep(view: Mapping[str, Any], json_text: str) -> None:
        saved.append(ViewRow.of(view, json_text))

    if outbox is None:
        summary = write_reports(
            views, out_dir, week, as_of_text, formats, settings, None, progress, keep
        )
        save_week(engine, week, as_of, datetime.now(UTC), saved)
        return summary, {}
    with outbox:
        summary = write_reports(
            views, out_dir, week, as_of_text, formats, settings, outbox, progress, keep
        )
    save_week(engine, week, as_of, datetime.now(UTC), saved)
    return summary, outbox.refused


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
