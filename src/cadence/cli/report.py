"""``cadence report manager|director|all``: health reports from what the store holds.

One report goes to standard output (or ``--out FILE``); ``report all`` writes everyone's into
``out_dir/<ISO week>/`` and, with ``--email``, sends each person their own (``--dry-run``: the
messages are written as ``.eml`` files instead).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, time
from pathlib import Path
from typing import Any, TypeVar

import click

from cadence.cli.app import App, common_options, pass_app, set_app
from cadence.config import FORMATS, Config
from cadence.errors import UsageError
from cadence.normalised import normalise_email

F = TypeVar("F", bound=Callable[..., Any])


def parse_as_of(value: str | None, config: Config) -> datetime:
    """``--as-of``: an ISO-8601 date or instant; without an offset it is read in the configured
    time zone (a date alone is its midnight). Default now. A future instant is allowed."""
    if value is None:
        return datetime.now(config.tz)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"--as-of {value!r} is not an ISO-8601 date or time (e.g. 2026-11-23T09:00:00+00:00)"
        ) from None
    if len(value) == 10:  # a date alone
        parsed = datetime.combine(parsed.date(), time(0))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=config.tz)


def _report_options(multiple: bool) -> Callable[[F], F]:
    def decorate(f: F) -> F:
        options = [
            click.option(
                "--as-of",
                metavar="ISO-8601",
                help="The instant the report is for (default now; a date is its midnight, "
                "in [org] timezone when no offset is given).",
            ),
            click.option(
                "--window-weeks",
                type=click.IntRange(min=1),
                help="Weeks the figures cover (default [report] window_weeks).",
            ),
            click.option(
                "--format",
                "formats",
                type=click.Choice(FORMATS),
                multiple=multiple,
                default=None if multiple else "md",
                show_default=not multiple,
                help="Output format"
                + (", several allowed (default [report] formats)." if multiple else "."),
            ),
            click.option(
                "--engine",
                type=click.Choice(["pandas", "dask"]),
                expose_value=False,
                callback=set_app("engine"),
                help="Compute with pandas or Dask (default [pipeline] engine).",
            ),
            click.option(
                "--scheduler",
                metavar="ADDRESS",
                expose_value=False,
                callback=set_app("scheduler"),
                help="With --engine dask: threads, processes, or a cluster (tcp://host:8786).",
            ),
            click.option(
                "--out",
                type=click.Path(dir_okay=multiple, file_okay=not multiple, path_type=Path),
                help="Folder for the reports (default [report] out_dir)."
                if multiple
                else "File to write (default standard output).",
            ),
        ]
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


@click.group("report")
def report_group() -> None:
    """Health reports: one manager's, one director's, or everyone's into a folder."""


def _emit(text: str, out: Path | None) -> None:
    # `--out -` is standard output, as for most commands (a file named "-": `--out "$PWD/-"`).
    if out is None or str(out) == "-":
        sys.stdout.write(text)
        return
    from cadence.reports.writer import write_private

    write_private(out, text)


# The pipeline, pandas and matplotlib are imported by each command, not at start-up, so that
# `cadence --help` and the other commands stay quick.


@report_group.command("manager")
@click.argument("email")
@_report_options(multiple=False)
@common_options
@pass_app
def manager_command(
    app: App,
    email: str,
    as_of: str | None,
    window_weeks: int | None,
    formats: str,
    out: Path | None,
) -> None:
    """One manager's weekly health report: every direct report's 1:1s, worst first, with
    what to do about them, and the skip-level 1:1s.

    \b
    Examples:
      cadence report manager ann@acme.test
      cadence report manager ann@acme.test --format html --out ann.html
      cadence report manager ann@acme.test --as-of 2026-11-23 --window-weeks 8 --format json
    """
    from cadence.jobs.figures import compute
    from cadence.pipeline.views import manager_view
    from cadence.reports.render import render
    from cadence.reports.words import RenderSettings

    config = app.config
    result = compute(app.store, config, as_of=parse_as_of(as_of, config), window_weeks=window_weeks)
    view = manager_view(result, normalise_email(email))
    _emit(render(view, formats, RenderSettings.from_config(config)), out)


@report_group.command("director")
@click.argument("email")
@_report_options(multiple=False)
@common_options
@pass_app
def director_command(
    app: App,
    email: str,
    as_of: str | None,
    window_weeks: int | None,
    formats: str,
    out: Path | None,
) -> None:
    """One director's team-wide report: the org's weekly cancellation trend (cancelled by
    managers and by reports), the same per sub-org, the managers ranked by unhealthy 1:1s, and
    what changed since last week. It never shows a single report's figures.

    \b
    Examples:
      cadence report director dana@acme.test
      cadence report director dana@acme.test --format html --out dana.html
    """
    from cadence.jobs.figures import results
    from cadence.pipeline.views import director_view
    from cadence.reports.render import render
    from cadence.reports.words import RenderSettings

    config = app.config
    current, previous = results(app.store, config, parse_as_of(as_of, config), window_weeks)
    view = director_view(current, normalise_email(email), previous)
    _emit(render(view, formats, RenderSettings.from_config(config)), out)


@report_group.command("all")
@_report_options(multiple=True)
@click.option("--email", "send", is_flag=True, help="Also email each person their own report.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Compose the emails but write them as .eml files (into <week>/email/) instead.",
)
@common_options
@pass_app
def all_command(
    app: App,
    as_of: str | None,
    window_weeks: int | None,
    formats: tuple[str, ...],
    out: Path | None,
    send: bool,
    dry_run: bool,
) -> int:
    """Every manager's and director's report into OUT/<ISO week>/ with an index page
    (folders 0700, files 0600); with --email, each person also gets their own by email.

    \b
    Examples:
      cadence report all
      cadence report all --format html --format json --out /srv/cadence/reports
      cadence report all --email --dry-run     # look at the .eml files first
      cadence report all --email
    """
    from cadence.jobs.report_all import publish_all
    from cadence.reports.words import one_line

    config = app.config
    folder = out if out is not None else config.resolve(config.report.out_dir)
    count = 0

    def progress(_written: object) -> None:
        nonlocal count
        count += 1
        if app.interactive and count % 50 == 0:
            click.echo(f"\r{count} reports written", err=True, nl=False)

    summary, refused = publish_all(
        app.store,
        config,
        as_of=parse_as_of(as_of, config),
        window_weeks=window_weeks,
        formats=formats or config.report.formats,
        out_dir=folder,
        email=send,
        dry_run=dry_run,
        progress=progress,
    )
    if app.interactive and count >= 50:
        click.echo("", err=True)
    app.info(
        f"wrote {len(summary.written)} reports ({summary.file_count} files)"
        f" into {summary.folder}; index: {summary.folder / 'index.html'}"
    )
    if dry_run:
        app.info(f"wrote the emails as .eml files into {summary.folder / 'email'}")
    elif send:
        app.info(f"emailed {len(summary.written) - len(refused)} reports")
    for address, reason in refused.items():
        # Both come from outside (the org chart, the mail server): one visible line each.
        click.echo(
            f"Error: the mail server refused {one_line(address)}: {one_line(reason)}", err=True
        )
    return 1 if refused else 0
