"""``cadence org import`` and ``cadence org pull``: load the org chart from a CSV or a directory.

The job (:mod:`cadence.jobs.org`) checks the whole chart first and only then replaces the stored
chart, in one transaction: a refused chart changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import click

from cadence.cli.app import App, common_options, pass_app
from cadence.jobs.org import import_csv, pull


@click.group("org")
def org_group() -> None:
    """The org chart: who manages whom (see docs/org-chart.md)."""


@org_group.command("import")
@click.argument("csv_file", required=False, type=click.Path(exists=True, dir_okay=False))
@common_options
@pass_app
def import_command(app: App, csv_file: str | None) -> None:
    """Load the org chart from FILE.csv (default: [org] csv of the config), replacing the
    old one.

    Columns: email,name,manager_email, optionally team, source, aliases (other emails,
    ';'-separated), in any order, with a header line. A file with any problem is refused with
    its line numbers, and the stored chart is left as it was.

    \b
    Examples:
      cadence org import people.csv
      cadence org import                # the [org] csv file of cadence.toml
    """
    saved = import_csv(lambda: app.store, app.config, Path(csv_file) if csv_file else None)
    app.info(saved.line())


@org_group.command("pull")
@click.option(
    "--source",
    "source_name",
    metavar="NAME",
    help="Pull from this [sources.NAME] only (default: every configured source, merged).",
)
@common_options
@pass_app
def pull_command(app: App, source_name: str | None) -> None:
    """Load the org chart from the Google or Microsoft directory of the configured sources,
    replacing the old one.

    With several sources and no --source, every directory is pulled and merged (each person's
    source is the one whose directory listed them) and then checked as one chart. A chart with
    any problem is refused, and the stored chart is left as it was.

    \b
    Examples:
      cadence org pull
      cadence org pull --source acme-google
    """
    app.info(pull(lambda: app.store, app.config, source_name, say=app.info).line())
