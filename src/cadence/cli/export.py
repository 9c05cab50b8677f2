"""``cadence export``: the pair figures and weekly trends as Parquet, for BI tools.

The command parses and reports; :mod:`cadence.jobs.export` computes and writes (docs/export.md:
the schema, and how ``--pseudonymize`` keys its hashes).
"""

from __future__ import annotations

from pathlib import Path

import click

from cadence.cli.app import App, common_options, pass_app
from cadence.cli.report import parse_as_of
from cadence.config import MAX_WEEKS


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet"]),
    default="parquet",
    show_default=True,
    help="File format (Parquet, written with pyarrow).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write pairs.parquet and trends.parquet into (made 0700 if missing).",
)
@click.option(
    "--weeks",
    type=click.IntRange(1, MAX_WEEKS),
    help="How many weeks, up to the one holding --as-of (default [report] trend_weeks).",
)
@click.option(
    "--as-of",
    metavar="ISO-8601",
    help="The instant the latest week is at (default now; a date is its midnight, in "
    "[org] timezone when no offset is given).",
)
@click.option(
    "--window-weeks",
    type=click.IntRange(1, MAX_WEEKS),
    help="Weeks each week's pair figures cover (default [report] window_weeks).",
)
@click.option(
    "--pseudonymize",
    is_flag=True,
    help="Write every email and name as its HMAC-SHA-256, keyed by the salt in the variable "
    "[export] salt_env names (default $CADENCE_EXPORT_SALT).",
)
@common_options
@pass_app
def export_command(
    app: App,
    fmt: str,
    out: Path,
    weeks: int | None,
    as_of: str | None,
    window_weeks: int | None,
    pseudonymize: bool,
) -> None:
    """Every pair's figures and every manager's weekly trend, week by week, as Parquet files for
    the people-analytics team's BI tools. Pair-level: it names every report, under no privacy
    floor; --pseudonymize replaces emails and names with salted hashes that join to an HR system
    hashed with the same salt. Files are 0600; docs/export.md describes every column.

    \b
    Examples:
      cadence export --format parquet --out /srv/bi/cadence
      cadence export --out export --weeks 52 --as-of 2026-11-30
      CADENCE_EXPORT_SALT=... cadence export --out export --pseudonymize
    """
    # Imported here, not at start-up, so that `cadence --help` stays quick (as cli/report.py).
    from cadence.jobs.export import export_parquet

    config = app.config
    summary = export_parquet(
        app.store,
        config,
        out,
        as_of=parse_as_of(as_of, config),
        weeks=weeks,
        window_weeks=window_weeks,
        pseudonymize=pseudonymize,
    )
    how = "pseudonymised" if summary.pseudonymized else "in the clear"
    app.info(
        f"wrote {summary.pair_rows} pair rows and {summary.trend_rows} trend rows, weeks "
        f"{summary.weeks[0]} to {summary.weeks[-1]}, people {how}, into {summary.folder}"
    )
