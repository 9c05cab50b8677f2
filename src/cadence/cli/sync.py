"""``cadence sync``: read every mailbox (or those named) of every source (or one) into the store."""

from __future__ import annotations

import sys

import click

from cadence.cli.app import App, common_options, pass_app
from cadence.jobs.sync import SyncSummary, run_sync

EXIT_SYNC_FAILURES = 3


def progress_line(done: int, total: int, failed: int) -> None:
    width = 30
    filled = width * done // total if total else width
    bar = "#" * filled + "-" * (width - filled)
    tail = f"  {failed} failed" if failed else ""
    sys.stderr.write(f"\rsyncing [{bar}] {done}/{total} mailboxes{tail}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def report_failures(summary: SyncSummary) -> None:
    """Each failed mailbox on stderr with its reason (always, even with --quiet)."""
    from cadence.reports.words import one_line

    for r in summary.failed:
        # The reason may quote what a calendar sent (an event's id): shown as visible text.
        click.echo(f"failed: {r.source}: {r.mailbox}: {one_line(r.error or '')}", err=True)


@click.command("sync")
@click.option("--source", metavar="NAME", help="Only this [sources.NAME].")
@click.option(
    "--mailbox",
    "mailboxes",
    metavar="EMAIL",
    multiple=True,
    help="Only this mailbox (repeatable).",
)
@click.option("--full", is_flag=True, help="Ignore saved sync tokens: read the whole window again.")
@common_options
@pass_app
def sync_command(app: App, source: str | None, mailboxes: tuple[str, ...], full: bool) -> int:
    """Read every mailbox's calendar into the database: incremental from the saved sync token,
    or in full the first time (lookback_days back, horizon_days ahead).

    Mailboxes that fail are named with their reason; the others go on. Exits 3 when some
    mailboxes failed (their earlier data is kept); `cadence status` shows them too.

    \b
    Examples:
      cadence sync
      cadence sync --source acme-google --mailbox ann@acme.test --mailbox bob@acme.test
      cadence sync --full --quiet      # under cron: only errors
    """
    summary = run_sync(
        app.config,
        app.store,
        source=source,
        mailboxes=mailboxes,
        full=full,
        progress=progress_line if app.interactive else None,
    )
    report_failures(summary)
    app.info(
        f"synced {len(summary.ok)} of {len(summary.results)} mailboxes: "
        f"{summary.events_saved} events saved, {summary.requests} requests, "
        f"{summary.seconds:.1f} s" + (f"; {len(summary.failed)} failed" if summary.failed else "")
    )
    return EXIT_SYNC_FAILURES if summary.failed else 0
