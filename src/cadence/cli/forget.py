"""``cadence forget``: erase a person from the store, and keep later syncs and imports from
bringing them back (docs/erasure.md)."""

from __future__ import annotations

import click

from cadence.cli.app import App, common_options, pass_app
from cadence.jobs.forget import forget, undo


@click.command("forget")
@click.argument("email")
@click.option(
    "--dry-run", is_flag=True, help="Print what would be erased, table by table; change nothing."
)
@click.option(
    "--undo",
    "undo_it",
    is_flag=True,
    help="Let later syncs and org imports bring EMAIL back; what was erased stays erased.",
)
@common_options
@pass_app
def forget_command(app: App, email: str, dry_run: bool, undo_it: bool) -> None:
    """Erase EMAIL (or the person whose alias it is) from the database, in one transaction.

    Their org chart row and aliases, their calendar's events, their sync state, their web
    sessions and every saved week's reports go (the nightly and the web app compute them
    again); on other people's events their address becomes an anonymous placeholder, so a
    meeting they were in keeps its size. Only a SHA-256 of each of their addresses is kept, so
    that later syncs and org imports skip them. An address the database does not know is still
    recorded: that blocks it ahead of time. Running it twice changes nothing the second time.

    \b
    Examples:
      cadence forget ann@acme.test --dry-run    # what would go, per table
      cadence forget ann@acme.test
      cadence forget --undo ann@acme.test       # later syncs and imports may bring her back
    """
    if undo_it:
        lifted = undo(app.store, email, dry_run=dry_run)
        what = f"{lifted} address{'es' * (lifted != 1)}"
        if dry_run:
            click.echo(f"dry run: {what} would no longer be forgotten; nothing was changed")
        else:
            app.info(
                f"{what} no longer forgotten: the next org import (or pull) and sync may bring "
                "them back; what was erased stays erased"
            )
        return
    done = forget(app.store, email, dry_run=dry_run)
    for line in done.lines():
        if dry_run:
            click.echo(line)
        else:
            app.info(line)
