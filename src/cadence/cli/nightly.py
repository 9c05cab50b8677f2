"""``cadence nightly``: the one line for cron."""

from __future__ import annotations

import click

from cadence.cli.app import App, common_options, pass_app
from cadence.cli.sync import EXIT_SYNC_FAILURES, progress_line


@click.command("nightly")
@click.option(
    "--shard",
    metavar="I/N",
    help="Sync only this host's share of the mailboxes (hosts sharing one PostgreSQL); "
    "reports are then left to one `cadence report all`.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Run the syncs and the figures on this Dask cluster (tcp://HOST:8786); "
    "default: [sync] scheduler. Needs PostgreSQL.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object a line, for log collectors.",
)
@common_options
@pass_app
def nightly_command(app: App, shard: str | None, scheduler: str | None, log_format: str) -> int:
    """Sync every source, then write every manager's and director's report (and email them
    when an [email] section is configured): the one line for cron.

    Two runs never overlap: a second one names the holder of the lock and exits 1. Exits 3
    when some mailboxes failed to sync (each named on stderr and in `cadence status`; the
    reports still use their earlier data).

    \b
    Examples:
      cadence nightly
      cadence nightly --quiet                       # in cron: only errors
      cadence nightly --log-format json             # for a log collector
      cadence nightly --shard 2/4                   # host 2 of 4, sharing one PostgreSQL
      cadence nightly --scheduler tcp://dask:8786   # on a Dask cluster (docs/operations.md)
    """
    from cadence import logs
    from cadence.jobs.nightly import parse_shard, run_nightly

    logs.configure(log_format, app.verbose, app.quiet)  # first: every line after it follows it
    try:
        parsed = parse_shard(shard) if shard else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from None
    summary = run_nightly(
        app.config,
        app.store,
        shard=parsed,
        scheduler=scheduler,
        progress=progress_line if app.interactive and log_format == "text" else None,
    )
    if summary.sync.failed:
        return EXIT_SYNC_FAILURES
    return 1 if summary.refused else 0
